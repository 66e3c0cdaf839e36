"""Suite YAML → frozen dataclasses, validated against the YAML nodes so errors carry file:line.

Nothing here imports torch: suites are parsed at collection time, which must stay fast.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .errors import EdgecasesError, did_you_mean
from .yamlload import LocDict, LocList, load_yaml

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
GATES = ("point", "lower_bound")
#: Image files are recognised by extension when listing folders; the decoder checks the real format.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
_NAME_RE = re.compile(r"^\w[\w.-]*$")

SUITE_KEYS = ("suite", "labels", "model", "preprocess", "defaults", "annotations", "review", "categories")
MODEL_KEYS = ("factory", "torchvision", "torchscript", "weights", "args", "defined_by")
PREPROCESS_KEYS = ("resize", "center_crop", "mean", "std")
THRESHOLD_KEYS = ("min_accuracy", "max_failures", "min_examples", "gate", "max_group_gap",
                  "max_regressions", "max_accuracy_drop", "max_new_failures")
DEFAULT_KEYS = ("severity",) + THRESHOLD_KEYS
CATEGORY_KEYS = ("name", "description", "criterion", "images", "manifest", "from", "transform", "severity",
                 "group_by") + THRESHOLD_KEYS
REVIEW_KEYS = ("confidence_below",)


@dataclass(frozen=True)
class Example:
    """One image with its expected label, as declared by the suite (before any review)."""

    path: str                       # relative to the suite file's folder, POSIX separators
    file: Path                      # absolute, resolved, inside the project root
    label: str
    severity: str | None = None     # from a manifest column, if any
    metadata: tuple[tuple[str, str], ...] = ()
    line: int | None = None         # manifest line, for error messages

    def meta(self, key: str) -> str | None:
        """Value of a manifest metadata column, or None."""
        return dict(self.metadata).get(key)


@dataclass(frozen=True)
class Thresholds:
    """What a category must meet to pass; None means "not checked"."""

    min_accuracy: float | None = None
    max_failures: tuple[tuple[str, int], ...] = ()   # per severity; a level not named is unlimited
    min_examples: int = 1
    gate: str = "point"                              # "point" or "lower_bound" (Wilson 95%)
    max_group_gap: float | None = None
    max_regressions: int | None = None               # None: 0 once annotations exist, else unchecked
    max_accuracy_drop: float | None = None           # against a baseline
    max_new_failures: int | None = None              # against a baseline


@dataclass(frozen=True)
class ModelSpec:
    """How to build the model: ``kind`` is factory, torchvision or torchscript."""

    kind: str
    target: str
    args: tuple[tuple[str, Any], ...] = ()
    weights: Path | None = None
    weights_display: str | None = None
    line: int = 0
    # A factory's own declaration of the files (or folders) that, with its weights and args, determine
    # the model it builds: a rerun where none changed reuses the model's fingerprint without building it.
    defined_by: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Preprocess:
    """Declared preprocessing, or an import path to a callable(PIL image) -> CHW float tensor."""

    resize: tuple[int, ...] | None = None  # (short side,) or (height, width)
    center_crop: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    callable: str | None = None

    def describe(self) -> str:
        """A stable text of the declaration, used in cache keys and reports."""
        if self.callable:
            return f"callable={self.callable}"
        return f"resize={self.resize};center_crop={self.center_crop};mean={self.mean};std={self.std}"


@dataclass(frozen=True)
class Category:
    """One test item: a named set of examples with thresholds (one level of a synthetic family)."""

    name: str
    examples: tuple[Example, ...]
    thresholds: Thresholds
    severity: str = "medium"
    description: str = ""
    criterion: str = ""
    group_by: str | None = None
    level_id: str = ""               # "area=0.1" for a level of a synthetic category
    transform: Any = None            # a transforms.Level, or None for real images
    source: str | None = None        # `from:` value for synthetic categories
    line: int = 0

    @property
    def test_name(self) -> str:
        """The pytest item name: ``name`` or ``name[level]``."""
        return f"{self.name}[{self.level_id}]" if self.level_id else self.name


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    path: Path                        # the suite file, absolute
    root: Path                        # the project root all paths must stay inside
    labels: tuple[str, ...]
    model: ModelSpec | None
    preprocess: Preprocess
    categories: tuple[Category, ...]
    annotation_files: tuple[Path, ...] = ()
    review_confidence_below: float | None = None
    line_of: Mapping[str, int] = field(default_factory=dict)  # category test_name -> line

    @property
    def dir(self) -> Path:
        """The folder suite paths are relative to."""
        return self.path.parent

    @property
    def display(self) -> str:
        """The suite path relative to the project root, as shown to users."""
        return _rel(self.path, self.root)

    def category(self, test_name: str) -> Category:
        """Find a category by its test name."""
        for cat in self.categories:
            if cat.test_name == test_name:
                return cat
        raise KeyError(test_name)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class _Ctx:
    """Carries the file being parsed so every check can name file and line."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.root = root
        self.shown = _rel(path, root)

    def error(self, message: str, line: int | None, hint: str | None = None) -> EdgecasesError:
        return EdgecasesError(message, self.shown, line, hint)

    def check_keys(self, mapping: LocDict, allowed: Sequence[str], what: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.error(f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}", mapping.line_of(key),
                                 hint="valid keys: " + ", ".join(allowed))

    def mapping(self, value: Any, line: int, what: str) -> LocDict:
        if not isinstance(value, LocDict):
            raise self.error(f"{what} must be a mapping (key: value lines), got {_kind(value)}", line)
        return value

    def path_inside(self, raw: Any, line: int, what: str, base: Path | None = None) -> Path:
        """Resolve a path written in the suite; it must be relative and stay inside the project root."""
        if not isinstance(raw, str) or not raw.strip():
            raise self.error(f"{what} must be a path (a string), got {_kind(raw)}", line)
        if "\0" in raw:   # the OS would refuse it with a ValueError (a traceback), not an answer
            raise self.error(f"{what} {raw!r} contains a NUL character", line)
        if os.path.isabs(raw) or raw.startswith("~"):
            raise self.error(f"{what} '{raw}' is absolute", line,
                             hint="write paths relative to the suite file, inside the project")
        resolved = ((base or self.path.parent) / raw).resolve()
        if not resolved.is_relative_to(self.root):
            raise self.error(f"{what} '{raw}' resolves outside the project root {self.root}", line,
                             hint="keep data inside the project; symlinks out of it are refused too")
        return resolved

    def paths_inside(self, raw: Any, line: int, what: str) -> Iterator[tuple[Any, int, Path]]:
        """A path or a list of paths, each checked by path_inside in turn: (as written, its line, resolved)."""
        for index, entry in enumerate(raw if isinstance(raw, LocList) else [raw]):
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            yield entry, where, self.path_inside(entry, where, what)


def _not_a_file(path: Path) -> str:
    """Why a path that should be a file is not: say "a folder" when it is one, not "does not exist"."""
    return "is a folder, not a file" if path.is_dir() else "does not exist"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def load_suite(path: Path, root: Path, transform_expander: Callable[[Any], list] | None = None) -> Suite:
    """Parse and validate one suite file; raise EdgecasesError naming file and line on any problem."""
    path = path.resolve()
    root = root.resolve()
    ctx = _Ctx(path, root)
    doc = load_yaml(path, ctx.shown)
    if doc is None:
        raise ctx.error("the suite file is empty", 1, hint="start with `suite: NAME`, `labels:` and `categories:`")
    doc = ctx.mapping(doc, 1, "a suite file")
    ctx.check_keys(doc, SUITE_KEYS, "the suite")
    for required in ("labels", "categories"):
        if required not in doc:
            raise ctx.error(f"missing required key '{required}'", doc.line)
    name = doc.get("suite", path.stem.replace(".edgecases", ""))
    if not isinstance(name, str) or not name.strip():
        raise ctx.error("suite must be a non-empty name", doc.line_of("suite"))

    labels = _parse_labels(ctx, doc["labels"], doc.line_of("labels"))
    model = _parse_model(ctx, doc["model"], doc.line_of("model")) if doc.get("model") is not None else None
    preprocess = _parse_preprocess(ctx, doc.get("preprocess"), doc.line_of("preprocess"))

    defaults = ctx.mapping(doc.get("defaults") or LocDict(), doc.line_of("defaults"), "defaults")
    ctx.check_keys(defaults, DEFAULT_KEYS, "defaults")
    default_severity = _severity(ctx, defaults.get("severity", "medium"), defaults.line_of("severity"))

    annotation_files: tuple[Path, ...] = ()
    if doc.get("annotations") is not None:
        annotation_files = _annotation_files(ctx, doc["annotations"], doc.line_of("annotations"))

    confidence_below = None
    if doc.get("review") is not None:
        review = ctx.mapping(doc["review"], doc.line_of("review"), "review")
        ctx.check_keys(review, REVIEW_KEYS, "review")
        if "confidence_below" in review:
            confidence_below = _fraction(ctx, review["confidence_below"], review.line_of("confidence_below"),
                                         "review.confidence_below")

    cats_raw = doc["categories"]
    if not isinstance(cats_raw, LocList) or not cats_raw:
        raise ctx.error("categories must be a non-empty list", doc.line_of("categories"))
    categories: list[Category] = []
    real: dict[str, Category] = {}
    seen: dict[str, int] = {}
    for index, raw in enumerate(cats_raw):
        line = cats_raw.line_of(index)
        raw = ctx.mapping(raw, line, "each category")
        built = _parse_category(ctx, raw, line, labels, defaults, default_severity, real, transform_expander)
        base = built[0].name
        if base in seen:
            raise ctx.error(f"duplicate category name '{base}' (first on line {seen[base]})", raw.line_of("name"))
        seen[base] = raw.line_of("name")
        if built[0].transform is None:
            real[base] = built[0]
        categories.extend(built)
    return Suite(name=name.strip(), path=path, root=root, labels=labels, model=model, preprocess=preprocess,
                 categories=tuple(categories), annotation_files=annotation_files,
                 review_confidence_below=confidence_below,
                 line_of={c.test_name: c.line for c in categories})


def _parse_labels(ctx: _Ctx, raw: Any, line: int) -> tuple[str, ...]:
    if isinstance(raw, str):
        file = ctx.path_inside(raw, line, "labels file")
        if not file.is_file():
            raise ctx.error(f"labels file '{raw}' {_not_a_file(file)}", line,
                            hint="give a list (labels: [a, b]) or a text file with one label per line")
        text = file.read_text(encoding="utf-8", errors="replace")
        items = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
    elif isinstance(raw, LocList):
        items = raw
    else:
        raise ctx.error(f"labels must be a list or a path to a text file, got {_kind(raw)}", line)
    labels: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (str, int)) or str(item).strip() == "":
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            raise ctx.error(f"each label must be a non-empty string, got {_kind(item)}", where)
        if str(item) in labels:
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            raise ctx.error(f"duplicate label '{item}'", where)
        labels.append(str(item))
    if len(labels) < 2:
        raise ctx.error("labels must name at least two classes", line)
    return tuple(labels)


def _parse_model(ctx: _Ctx, raw: Any, line: int) -> ModelSpec:
    model = ctx.mapping(raw, line, "model")
    ctx.check_keys(model, MODEL_KEYS, "model")
    kinds = [k for k in ("factory", "torchvision", "torchscript") if k in model]
    if len(kinds) != 1:
        raise ctx.error("model needs exactly one of factory:, torchvision: or torchscript:", model.line,
                        hint="or leave model: out and implement pytest_edgecases_load_model in conftest.py")
    kind = kinds[0]
    target = model[kind]
    kline = model.line_of(kind)
    if not isinstance(target, str) or not target.strip():
        raise ctx.error(f"model.{kind} must be a string", kline)
    weights = weights_display = None
    if kind == "factory" and not re.match(r"^[\w.]+:[\w.]+$", target):
        raise ctx.error(f"model.factory '{target}' is not an import path", kline,
                        hint="write it as module.path:callable, e.g. signs.model:build")
    if kind == "torchscript":
        weights = ctx.path_inside(target, kline, "model.torchscript")
        weights_display = target
        if "weights" in model:
            raise ctx.error("a torchscript model carries its weights; remove weights:", model.line_of("weights"))
    if "weights" in model:
        weights_display = model["weights"]
        weights = ctx.path_inside(weights_display, model.line_of("weights"), "model.weights")
        if weights.suffix not in (".safetensors", ".pt", ".pth", ".bin"):
            raise ctx.error(f"model.weights '{weights_display}' must be .safetensors or a .pt/.pth state dict",
                            model.line_of("weights"))
    if weights is not None and not weights.is_file():
        why = "are a folder, not a file" if weights.is_dir() else "do not exist"
        raise ctx.error(f"model weights '{weights_display}' {why}",
                        model.line_of("weights") if "weights" in model else kline)
    args: tuple[tuple[str, Any], ...] = ()
    if "args" in model:
        if kind == "torchscript":
            raise ctx.error("a torchscript model takes no args:", model.line_of("args"))
        mapping = ctx.mapping(model["args"], model.line_of("args"), "model.args")
        args = tuple(sorted((str(k), _plain(v)) for k, v in mapping.items()))
    defined_by = _defined_by(ctx, model, kind) if "defined_by" in model else ()
    return ModelSpec(kind=kind, target=target.strip(), args=args, weights=weights,
                     weights_display=weights_display, line=kline, defined_by=defined_by)


def _defined_by(ctx: _Ctx, model: LocDict, kind: str) -> tuple[Path, ...]:
    """model.defined_by: files or folders inside the project (their contents are read at run time)."""
    raw, line = model["defined_by"], model.line_of("defined_by")
    if kind != "factory":
        raise ctx.error(f"a {kind} model is determined by its files already; remove defined_by:", line)
    if isinstance(raw, LocList) and not raw:
        raise ctx.error("model.defined_by is empty", line,
                        hint="list the files or folders that define the model, e.g. [signs/], or remove it")
    paths: list[Path] = []
    for entry, where, path in ctx.paths_inside(raw, line, "model.defined_by"):
        if not path.exists():
            raise ctx.error(f"model.defined_by '{entry}' does not exist", where,
                            hint="name the model's source files or folders, relative to the suite file")
        paths.append(path)
    return tuple(paths)


def _plain(value: Any) -> Any:
    """LocDict/LocList → hashable plain values (for frozen dataclasses and cache keys)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _plain(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _parse_preprocess(ctx: _Ctx, raw: Any, line: int) -> Preprocess:
    if raw is None:
        return Preprocess()
    if isinstance(raw, str):
        if not re.match(r"^[\w.]+:[\w.]+$", raw):
            raise ctx.error(f"preprocess '{raw}' is not an import path", line,
                            hint="write module.path:callable, or a mapping with resize/mean/std")
        return Preprocess(callable=raw)
    pre = ctx.mapping(raw, line, "preprocess")
    ctx.check_keys(pre, PREPROCESS_KEYS, "preprocess")

    def size(key: str) -> tuple[int, ...] | None:
        # As in torchvision: resize: N scales the shorter side to N; [H, W] is exact; crop N is N x N.
        if key not in pre:
            return None
        value, where = pre[key], pre.line_of(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value] if key == "resize" else [value, value]
        if (not isinstance(value, list) or len(value) not in (1, 2)
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 8192 for v in value)):
            raise ctx.error(f"preprocess.{key} must be N or [height, width] in pixels (1..8192), got {_kind(value)}",
                            where)
        return tuple(value) if key == "resize" else (value[0], value[-1])

    def triple(key: str, positive: bool) -> tuple[float, ...] | None:
        if key not in pre:
            return None
        value, where = pre[key], pre.line_of(key)
        ok = isinstance(value, list) and len(value) in (1, 3) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and (v > 0 or not positive) for v in value)
        if not ok:
            rule = "positive numbers" if positive else "numbers"
            raise ctx.error(f"preprocess.{key} must be a list of 3 {rule} (one per RGB channel)", where)
        return tuple(float(v) for v in value) * (3 if len(value) == 1 else 1)

    mean, std = triple("mean", False), triple("std", True)
    if (mean is None) != (std is None):
        raise ctx.error("preprocess needs both mean and std, or neither", pre.line)
    return Preprocess(resize=size("resize"), center_crop=size("center_crop"), mean=mean, std=std)


def _annotation_files(ctx: _Ctx, raw: Any, line: int) -> tuple[Path, ...]:
    files: list[Path] = []
    for entry, where, target in ctx.paths_inside(raw, line, "annotations"):
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                           and not p.name.startswith("."))
            for file in found:
                # path_inside resolved the folder, not the files in it: a link in it could point anywhere.
                if not file.resolve().is_relative_to(ctx.root):
                    raise ctx.error(f"annotation file '{_rel(file, ctx.root)}' links outside the project root",
                                    where, hint="keep reviews inside the project; symlinks out of it are refused")
            files.extend(found)
        elif target.is_file():
            files.append(target)
        else:
            raise ctx.error(f"annotations '{entry}' does not exist", where,
                            hint="create the folder (it may be empty) or remove annotations:")
    return tuple(files)


def _severity(ctx: _Ctx, value: Any, line: int) -> str:
    if value not in SEVERITIES:
        raise ctx.error(f"severity must be one of {', '.join(SEVERITIES)}, got {_kind(value)}"
                        f"{did_you_mean(str(value), SEVERITIES)}", line)
    return value


def _fraction(ctx: _Ctx, value: Any, line: int, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ctx.error(f"{what} must be a number between 0 and 1, got {_kind(value)}", line)
    return float(value)


def _count(ctx: _Ctx, value: Any, line: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ctx.error(f"{what} must be a whole number >= 0, got {_kind(value)}", line)
    return value


def _max_failures(ctx: _Ctx, value: Any, line: int) -> dict[str, int | None]:
    if isinstance(value, int) and not isinstance(value, bool):
        # A bare number limits every severity level together; stored under a pseudo-level.
        return {"any": _count(ctx, value, line, "max_failures")}
    mapping = ctx.mapping(value, line, "max_failures")
    out: dict[str, int | None] = {}
    for key, count in mapping.items():
        if key not in SEVERITIES + ("any",):
            raise ctx.error(f"max_failures level '{key}' is not a severity{did_you_mean(str(key), SEVERITIES)}",
                            mapping.line_of(key), hint="use low, medium, high, or any (all levels together)")
        out[key] = None if count is None else _count(ctx, count, mapping.line_of(key), f"max_failures.{key}")
    return out


def _thresholds(ctx: _Ctx, layers: Sequence[LocDict], level_index: int | None, n_levels: int) -> Thresholds:
    """Merge threshold keys from defaults then category; per-level lists pick this level's value."""
    values: dict[str, Any] = {}
    failures: dict[str, int | None] = {}
    for layer in layers:
        for key in THRESHOLD_KEYS:
            if key not in layer:
                continue
            value, line = layer[key], layer.line_of(key)
            if isinstance(value, LocList) and key in ("min_accuracy", "max_failures"):
                if level_index is None or n_levels < 2:
                    raise ctx.error(f"{key} is a list, but only a synthetic category with several levels "
                                    "takes one value per level", line)
                if len(value) != n_levels:
                    raise ctx.error(f"{key} lists {len(value)} values for {n_levels} levels", line,
                                    hint="give one value per level, or a single value for all")
                value, line = value[level_index], value.line_of(level_index)
            if key == "max_failures":
                failures.update(_max_failures(ctx, value, line))
            elif value is None:
                values.pop(key, None)
            elif key in ("min_accuracy", "max_group_gap", "max_accuracy_drop"):
                values[key] = _fraction(ctx, value, line, key)
            elif key == "gate":
                if value not in GATES:
                    raise ctx.error(f"gate must be one of {', '.join(GATES)}, got {_kind(value)}", line)
                values[key] = value
            elif key == "min_examples":
                values[key] = _count(ctx, value, line, key)
                if values[key] < 1:
                    raise ctx.error("min_examples must be at least 1", line)
            else:
                values[key] = _count(ctx, value, line, key)
    limits = tuple(sorted((k, v) for k, v in failures.items() if v is not None))
    return Thresholds(max_failures=limits, **values)


def _parse_category(ctx: _Ctx, raw: LocDict, line: int, labels: tuple[str, ...], defaults: LocDict,
                    default_severity: str, real: dict[str, Category],
                    transform_expander: Callable[[Any], list] | None) -> list[Category]:
    ctx.check_keys(raw, CATEGORY_KEYS, "a category")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ctx.error(f"category name must be letters, digits, '_', '-' or '.', got {_kind(name)}",
                        raw.line_of("name") if "name" in raw else line,
                        hint="the name becomes the test id, e.g. -k low_light")
    sources = [k for k in ("images", "manifest", "from") if k in raw]
    if len(sources) != 1:
        raise ctx.error(f"category '{name}' needs exactly one of images:, manifest: or from:", line)
    severity = _severity(ctx, raw["severity"], raw.line_of("severity")) if "severity" in raw else default_severity
    texts = {}
    for key in ("description", "criterion", "group_by"):
        if key in raw and not isinstance(raw[key], str):
            raise ctx.error(f"{key} must be text, got {_kind(raw[key])}", raw.line_of(key))
        texts[key] = raw.get(key)
    common = dict(severity=severity, description=(texts["description"] or "").strip(),
                  criterion=(texts["criterion"] or "").strip(), group_by=texts["group_by"], line=line)

    if "transform" in raw and "from" not in raw:
        raise ctx.error(f"category '{name}' has transform: but no from:", raw.line_of("transform"),
                        hint="name the category (or folder) whose images are transformed: from: clean")
    if "from" in raw:
        return _synthetic(ctx, raw, name, labels, defaults, real, transform_expander, common)
    if "images" in raw:
        folder = ctx.path_inside(raw["images"], raw.line_of("images"), "images")
        examples = _image_folder(ctx, folder, raw.line_of("images"), labels)
    else:
        examples = _manifest(ctx, raw["manifest"], raw.line_of("manifest"), labels)
    if texts["group_by"] and not any(e.meta(texts["group_by"]) is not None for e in examples):
        raise ctx.error(f"group_by '{texts['group_by']}' is not a manifest column of category '{name}'",
                        raw.line_of("group_by"), hint="group_by names a column of the category's manifest CSV")
    thresholds = _thresholds(ctx, [defaults, raw], None, 1)
    return [Category(name=name, examples=examples, thresholds=thresholds, **common)]


def _synthetic(ctx: _Ctx, raw: LocDict, name: str, labels: tuple[str, ...], defaults: LocDict,
               real: dict[str, Category], transform_expander: Callable[[Any], list] | None,
               common: dict[str, Any]) -> list[Category]:
    source = raw["from"]
    sline = raw.line_of("from")
    if "transform" not in raw:
        raise ctx.error(f"category '{name}' has from: but no transform:", sline,
                        hint="add transform: {gaussian_blur: {sigma: [1, 2, 4]}}, or use images: for a folder")
    if isinstance(source, str) and source in real:
        examples = real[source].examples
    elif isinstance(source, str) and (ctx.path.parent / source).is_dir():
        examples = _image_folder(ctx, ctx.path_inside(source, sline, "from"), sline, labels)
    else:
        raise ctx.error(f"from: '{source}' is neither an earlier real category nor a folder"
                        f"{did_you_mean(str(source), real)}", sline,
                        hint="declare the source category before this one")
    if transform_expander is None:
        from .transforms import expand as transform_expander  # local: keep the import cheap for plain suites
    levels = _expand_transform(ctx, raw, transform_expander)
    if common["group_by"]:
        base = real.get(source)
        if base is None or not any(e.meta(common["group_by"]) is not None for e in base.examples):
            raise ctx.error(f"group_by '{common['group_by']}' is not a manifest column of '{source}'",
                            raw.line_of("group_by"))
    out = []
    for index, level in enumerate(levels):
        thresholds = _thresholds(ctx, [defaults, raw], index, len(levels))
        out.append(Category(name=name, examples=examples, thresholds=thresholds, level_id=level.id,
                            transform=level, source=str(source), **common))
    return out


def _expand_transform(ctx: _Ctx, raw: LocDict, expander: Callable[[Any], list]) -> list:
    from .transforms import TransformError

    try:
        return expander(_unloc(raw["transform"]))
    except TransformError as exc:
        node: Any = raw["transform"]
        line = raw.line_of("transform")
        for step in exc.keypath:  # walk down to the offending value for its line
            if isinstance(node, LocDict) and step in node:
                line, node = node.line_of(step), node[step]
            elif isinstance(node, LocList) and isinstance(step, int) and 0 <= step < len(node):
                line, node = node.line_of(step), node[step]
            else:
                break
        raise ctx.error(f"transform: {exc}", line) from None


def _unloc(value: Any) -> Any:
    """LocDict/LocList → dict/list, so pure modules never see our bookkeeping types."""
    if isinstance(value, dict):
        return {k: _unloc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unloc(v) for v in value]
    return value


def _image_folder(ctx: _Ctx, folder: Path, line: int, labels: tuple[str, ...]) -> tuple[Example, ...]:
    """ImageFolder layout: one sub-folder per label, images anywhere below it (sorted, deterministic)."""
    shown = _rel(folder, ctx.root)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ctx.error(f"images folder '{shown}' {what}", line,
                        hint="images: names a folder with one sub-folder per label (ImageFolder layout)")
    examples: list[Example] = []
    root = str(ctx.root)
    inside = root if root.endswith(os.sep) else root + os.sep
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith(".") or not sub.is_dir():
            continue
        if sub.name not in labels:
            raise ctx.error(f"folder '{_rel(sub, ctx.root)}' is not a label{did_you_mean(sub.name, labels)}", line,
                            hint="each sub-folder of images: must be named after one of the suite's labels")
        for dirpath, dirnames, filenames in os.walk(sub, followlinks=True):
            # Resolved and made relative once per folder, not per file: suites list tens of thousands.
            # The folder's links come from one listing (its entries' types), not an lstat per entry.
            real_dir = os.path.realpath(dirpath)
            real_base = Path(real_dir)
            dir_inside = real_dir == root or real_dir.startswith(inside)   # a linked label folder may lead out
            rel_dir = os.path.relpath(dirpath, ctx.path.parent).replace(os.sep, "/")
            with os.scandir(dirpath) as entries:
                links = {e.name for e in entries if e.is_symlink()}
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            _check_linked_folders(ctx, Path(dirpath), real_base, [d for d in dirnames if d in links], line)
            for fname in sorted(filenames):
                if fname.startswith(".") or os.path.splitext(fname)[1].lower() not in IMAGE_SUFFIXES:
                    continue
                if fname in links:
                    resolved = os.path.realpath(os.path.join(dirpath, fname))
                    within, path = resolved.startswith(inside), Path(resolved)
                else:
                    within, path = dir_inside, real_base / fname
                if not within:
                    raise ctx.error(f"image '{_rel(Path(dirpath, fname), ctx.root)}' links outside the project root",
                                    line)
                examples.append(Example(path=fname if rel_dir == "." else f"{rel_dir}/{fname}",
                                        file=path, label=sub.name))
    if not examples:
        raise ctx.error(f"images folder '{shown}' holds no images", line,
                        hint=f"add images with one of: {', '.join(sorted(IMAGE_SUFFIXES))}")
    return tuple(examples)


def _csv_rows(reader: Any, shown: str) -> Any:
    """The reader's rows; a malformed row (a field over the csv module's size limit) is an error with its line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise EdgecasesError(f"not valid CSV: {exc}", shown, reader.line_num) from None


def _check_linked_folders(ctx: _Ctx, parent: Path, here: Path, links: list[str], line: int) -> None:
    """Refuse a linked sub-folder of ``parent`` (really ``here``) that leads out of the project or back
    up the tree, before walking into it.

    os.walk(followlinks=True) would otherwise walk a link to / through the whole disk, and go round a link
    to an ancestor until paths grow too long, listing every image once per lap.
    """
    for name in links:
        link = parent / name
        target = link.resolve()
        if not target.is_relative_to(ctx.root):
            raise ctx.error(f"folder '{_rel(link, ctx.root)}' links outside the project root", line,
                            hint="keep data inside the project; symlinks out of it are refused")
        if here.is_relative_to(target):
            raise ctx.error(f"folder '{_rel(link, ctx.root)}' links back to '{_rel(target, ctx.root)}' "
                            "(a symlink loop)", line, hint="remove the link; each image must be listed once")


def _manifest(ctx: _Ctx, raw: Any, line: int, labels: tuple[str, ...]) -> tuple[Example, ...]:
    """A CSV with path,label[,severity][,metadata…]; image paths are relative to the suite file."""
    file = ctx.path_inside(raw, line, "manifest")
    shown = _rel(file, ctx.root)
    if not file.is_file():
        raise ctx.error(f"manifest '{raw}' {_not_a_file(file)}", line)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise EdgecasesError("manifest is not valid UTF-8", shown, hint="save the CSV as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = _csv_rows(reader, shown)
    header = next(rows, None)
    if not header or "path" not in header or "label" not in header:
        raise EdgecasesError(f"manifest header must include path and label columns, got {header}", shown, 1)
    if len(set(header)) != len(header):
        raise EdgecasesError("manifest header repeats a column name", shown, 1)
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for row in rows:
        row_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise EdgecasesError(f"row has {len(row)} cells, the header has {len(header)}", shown, row_line)
        cells = dict(zip(header, (c.strip() for c in row)))
        rel = cells.pop("path")
        label = cells.pop("label")
        if label not in labels:
            raise EdgecasesError(f"label '{label}' is not in the suite's labels{did_you_mean(label, labels)}",
                                 shown, row_line, hint="labels: " + ", ".join(labels))
        severity = cells.pop("severity", "") or None
        if severity is not None and severity not in SEVERITIES:
            raise EdgecasesError(f"severity '{severity}' is not one of {', '.join(SEVERITIES)}", shown, row_line)
        if "\0" in rel:
            raise EdgecasesError(f"image path {rel!r} contains a NUL character", shown, row_line)
        if os.path.isabs(rel) or not rel:
            raise EdgecasesError(f"image path '{rel}' must be relative to the suite file", shown, row_line)
        image = (ctx.path.parent / rel).resolve()
        if not image.is_relative_to(ctx.root):
            raise EdgecasesError(f"image path '{rel}' resolves outside the project root", shown, row_line)
        if not image.is_file():
            raise EdgecasesError(f"image '{rel}' {_not_a_file(image)}", shown, row_line,
                                 hint="paths in a manifest are relative to the suite file's folder")
        norm = os.path.relpath(ctx.path.parent / rel, ctx.path.parent).replace(os.sep, "/")
        if norm in seen:
            raise EdgecasesError(f"image '{rel}' is listed twice (first on line {seen[norm]})", shown, row_line)
        seen[norm] = row_line
        examples.append(Example(path=norm, file=image, label=label, severity=severity,
                                metadata=tuple(sorted(cells.items())), line=row_line))
    if not examples:
        raise EdgecasesError("manifest lists no images", shown, 1)
    return tuple(examples)
