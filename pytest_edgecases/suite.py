"""Suite YAML → frozen dataclasses, validated against the YAML nodes so errors carry file:line.

Nothing here imports torch: suites are parsed at collection time, which must stay fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import did_you_mean
from .examples import IMAGE_SUFFIXES, Example, image_folder, manifest
from .explain_spec import EXPLAIN_KEYS, ExplainSpec, parse_explain
from .model_spec import (
    MODEL_KEYS,
    PREPROCESS_KEYS,
    ModelSpec,
    Preprocess,
    parse_model,
    parse_preprocess,
    resolve_labels,
)
from .thresholds import GATES, THRESHOLD_KEYS, Thresholds, parse_thresholds
from .transforms import TransformError, expand
from .validate import Context, kind_of, line_at, not_a_file, shown_path
from .vocabulary import SEVERITIES
from .where import Condition, apply_where, parse_where
from .yamlload import LocDict, LocList, load_yaml, plain

# The names other modules import from here, wherever they are declared.
__all__ = [
    "CATEGORY_KEYS", "DEFAULT_KEYS", "EXPLAIN_KEYS", "GATES", "IMAGE_SUFFIXES", "MODEL_KEYS", "PREPROCESS_KEYS",
    "REVIEW_KEYS", "SEVERITIES", "SUITE_KEYS", "THRESHOLD_KEYS", "Category", "Example", "ModelSpec", "Preprocess",
    "Suite", "Thresholds", "load_suite",
]

_NAME_RE = re.compile(r"^\w[\w.-]*$")

SUITE_KEYS = ("suite", "labels", "model", "preprocess", "defaults", "annotations", "review", "explain",
              "categories")
DEFAULT_KEYS = ("severity",) + THRESHOLD_KEYS
CATEGORY_KEYS = ("name", "description", "criterion", "images", "manifest", "from", "transform", "where",
                 "severity", "group_by") + THRESHOLD_KEYS
REVIEW_KEYS = ("confidence_below",)


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
    #: `where:` conditions on image properties: applied once the run has measured them (where.py)
    where_properties: tuple[Condition, ...] = ()

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
    annotation_dirs: tuple[str, ...] = ()     # `annotations:` as shown from the root: where new reviews go
    review_confidence_below: float | None = None
    explain: ExplainSpec | None = None        # `explain:` (explain_spec.py); --edgecases-explain may ask too
    line_of: Mapping[str, int] = field(default_factory=dict)  # category test_name -> line

    @property
    def dir(self) -> Path:
        """The folder suite paths are relative to."""
        return self.path.parent

    @property
    def display(self) -> str:
        """The suite path relative to the project root, as shown to users."""
        return shown_path(self.path, self.root)

    def category(self, test_name: str) -> Category:
        """Find a category by its test name."""
        for cat in self.categories:
            if cat.test_name == test_name:
                return cat
        raise KeyError(test_name)


def load_suite(path: Path, root: Path, transform_expander: Callable[[Any], list] | None = None) -> Suite:
    """Parse and validate one suite file; raise EdgecasesError naming file and line on any problem."""
    path = path.resolve()
    root = root.resolve()
    ctx = Context(path, root)
    doc = load_yaml(path, ctx.shown)
    if doc is None:
        raise ctx.error("the suite file is empty", 1, hint="start with `suite: NAME`, `labels:` and `categories:`")
    doc = ctx.mapping(doc, 1, "a suite file")
    ctx.check_keys(doc, SUITE_KEYS, "the suite")
    if "categories" not in doc:
        raise ctx.error("missing required key 'categories'", doc.line)
    name = doc.get("suite", path.stem.replace(".edgecases", ""))
    if not isinstance(name, str) or not name.strip():
        raise ctx.error("suite must be a non-empty name", doc.line_of("suite"))

    # A Hugging Face model's labels may come from its id2label: the model is read first.
    model = parse_model(ctx, doc["model"], doc.line_of("model")) if doc.get("model") is not None else None
    given = _parse_labels(ctx, doc["labels"], doc.line_of("labels")) if "labels" in doc else None
    labels = resolve_labels(ctx, model, given, doc.line_of("labels") if "labels" in doc else doc.line,
                            model.line if model else doc.line)
    preprocess = parse_preprocess(ctx, doc.get("preprocess"), doc.line_of("preprocess"))
    if model is not None and model.kind == "huggingface" and not preprocess.declared \
            and not (model.folder and (model.folder / "preprocessor_config.json").is_file()):
        raise ctx.error(f"model.huggingface folder '{model.target}' has no preprocessor_config.json", model.line,
                        hint="save the image processor too (processor.save_pretrained(DIR)), or declare preprocess:")

    defaults = ctx.mapping(doc.get("defaults") or LocDict(), doc.line_of("defaults"), "defaults")
    ctx.check_keys(defaults, DEFAULT_KEYS, "defaults")
    default_severity = _severity(ctx, defaults.get("severity", "medium"), defaults.line_of("severity"))

    annotation_files: tuple[Path, ...] = ()
    annotation_dirs: tuple[str, ...] = ()
    if doc.get("annotations") is not None:
        annotation_files, annotation_dirs = _annotation_files(ctx, doc["annotations"], doc.line_of("annotations"))

    confidence_below = None
    if doc.get("review") is not None:
        review = ctx.mapping(doc["review"], doc.line_of("review"), "review")
        ctx.check_keys(review, REVIEW_KEYS, "review")
        if "confidence_below" in review:
            confidence_below = ctx.fraction(review["confidence_below"], review.line_of("confidence_below"),
                                            "review.confidence_below")

    explain = parse_explain(ctx, doc["explain"], doc.line_of("explain")) if doc.get("explain") is not None else None

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
                 categories=tuple(categories), annotation_files=annotation_files, annotation_dirs=annotation_dirs,
                 review_confidence_below=confidence_below, explain=explain,
                 line_of={c.test_name: c.line for c in categories})


def _parse_labels(ctx: Context, raw: Any, line: int) -> tuple[str, ...]:
    if isinstance(raw, str):
        file = ctx.path_inside(raw, line, "labels file")
        if not file.is_file():
            raise ctx.error(f"labels file '{raw}' {not_a_file(file)}", line,
                            hint="give a list (labels: [a, b]) or a text file with one label per line")
        text = file.read_text(encoding="utf-8", errors="replace")
        items = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
    elif isinstance(raw, LocList):
        items = raw
    else:
        raise ctx.error(f"labels must be a list or a path to a text file, got {kind_of(raw)}", line)
    labels: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (str, int)) or str(item).strip() == "":
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            raise ctx.error(f"each label must be a non-empty string, got {kind_of(item)}", where)
        if str(item) in labels:
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            raise ctx.error(f"duplicate label '{item}'", where)
        labels.append(str(item))
    if len(labels) < 2:
        raise ctx.error("labels must name at least two classes", line)
    return tuple(labels)


def _annotation_files(ctx: Context, raw: Any, line: int) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The annotation files, and the folders (or files) `annotations:` names, as shown from the root."""
    files: list[Path] = []
    places: list[str] = []
    for entry, where, target in ctx.paths_inside(raw, line, "annotations"):
        places.append(shown_path(target, ctx.root) + ("/" if target.is_dir() else ""))
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                           and not p.name.startswith("."))
            for file in found:
                # path_inside resolved the folder, not the files in it: a link in it could point anywhere.
                if not file.resolve().is_relative_to(ctx.root):
                    raise ctx.error(f"annotation file '{shown_path(file, ctx.root)}' links outside the project root",
                                    where, hint="keep reviews inside the project; symlinks out of it are refused")
            files.extend(found)
        elif target.is_file():
            files.append(target)
        else:
            raise ctx.error(f"annotations '{entry}' does not exist", where,
                            hint="create the folder (it may be empty) or remove annotations:")
    return tuple(files), tuple(places)


def _severity(ctx: Context, value: Any, line: int) -> str:
    if value not in SEVERITIES:
        raise ctx.error(f"severity must be one of {', '.join(SEVERITIES)}, got {kind_of(value)}"
                        f"{did_you_mean(str(value), SEVERITIES)}", line)
    return value


def _parse_category(ctx: Context, raw: LocDict, line: int, labels: tuple[str, ...], defaults: LocDict,
                    default_severity: str, real: dict[str, Category],
                    transform_expander: Callable[[Any], list] | None) -> list[Category]:
    ctx.check_keys(raw, CATEGORY_KEYS, "a category")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ctx.error(f"category name must be letters, digits, '_', '-' or '.', got {kind_of(name)}",
                        raw.line_of("name") if "name" in raw else line,
                        hint="the name becomes the test id, e.g. -k low_light")
    sources = [k for k in ("images", "manifest", "from") if k in raw]
    if len(sources) != 1:
        raise ctx.error(f"category '{name}' needs exactly one of images:, manifest: or from:", line)
    severity = _severity(ctx, raw["severity"], raw.line_of("severity")) if "severity" in raw else default_severity
    texts = {}
    for key in ("description", "criterion", "group_by"):
        if key in raw and not isinstance(raw[key], str):
            raise ctx.error(f"{key} must be text, got {kind_of(raw[key])}", raw.line_of(key))
        texts[key] = raw.get(key)
    common = dict(severity=severity, description=(texts["description"] or "").strip(),
                  criterion=(texts["criterion"] or "").strip(), group_by=texts["group_by"], line=line)

    if "transform" in raw and "from" not in raw:
        raise ctx.error(f"category '{name}' has transform: but no from:", raw.line_of("transform"),
                        hint="name the category (or folder) whose images are transformed: from: clean")
    where = parse_where(ctx, raw["where"], raw.line_of("where")) if "where" in raw else ()
    if "from" in raw:
        return _synthetic(ctx, raw, name, labels, defaults, real, transform_expander, common, where)
    if "images" in raw:
        folder = ctx.path_inside(raw["images"], raw.line_of("images"), "images")
        examples = image_folder(ctx, folder, raw.line_of("images"), labels)
    else:
        examples = manifest(ctx, raw["manifest"], raw.line_of("manifest"), labels)
    later: tuple[Condition, ...] = ()
    if where:
        examples, later = apply_where(ctx, where, examples, name)
    if texts["group_by"] and not any(e.meta(texts["group_by"]) is not None for e in examples):
        raise ctx.error(f"group_by '{texts['group_by']}' is not a manifest column of category '{name}'",
                        raw.line_of("group_by"), hint="group_by names a column of the category's manifest CSV")
    thresholds = parse_thresholds(ctx, [defaults, raw], None, 1)
    return [Category(name=name, examples=examples, thresholds=thresholds, where_properties=later, **common)]


def _synthetic(ctx: Context, raw: LocDict, name: str, labels: tuple[str, ...], defaults: LocDict,
               real: dict[str, Category], transform_expander: Callable[[Any], list] | None,
               common: dict[str, Any], where: tuple[Condition, ...]) -> list[Category]:
    source = raw["from"]
    sline = raw.line_of("from")
    if "transform" not in raw:
        raise ctx.error(f"category '{name}' has from: but no transform:", sline,
                        hint="add transform: {gaussian_blur: {sigma: [1, 2, 4]}}, or use images: for a folder")
    if isinstance(source, str) and source in real:
        examples = real[source].examples
    elif isinstance(source, str) and (ctx.path.parent / source).is_dir():
        examples = image_folder(ctx, ctx.path_inside(source, sline, "from"), sline, labels)
    else:
        raise ctx.error(f"from: '{source}' is neither an earlier real category nor a folder"
                        f"{did_you_mean(str(source), real)}", sline,
                        hint="declare the source category before this one")
    later: tuple[Condition, ...] = ()
    if where:
        examples, later = apply_where(ctx, where, examples, name)
    levels = _expand_transform(ctx, raw, transform_expander or expand)
    if common["group_by"]:
        base = real.get(source)
        if base is None or not any(e.meta(common["group_by"]) is not None for e in base.examples):
            raise ctx.error(f"group_by '{common['group_by']}' is not a manifest column of '{source}'",
                            raw.line_of("group_by"))
    out = []
    for index, level in enumerate(levels):
        thresholds = parse_thresholds(ctx, [defaults, raw], index, len(levels))
        out.append(Category(name=name, examples=examples, thresholds=thresholds, level_id=level.id,
                            transform=level, source=str(source), where_properties=later, **common))
    return out


def _expand_transform(ctx: Context, raw: LocDict, expander: Callable[[Any], list]) -> list:
    try:
        return expander(plain(raw["transform"]))
    except TransformError as exc:   # its key path leads to the offending value, and so to its line
        line = line_at(raw["transform"], exc.keypath, raw.line_of("transform"))
        raise ctx.error(f"transform: {exc}", line) from None
