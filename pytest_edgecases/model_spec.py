"""How a suite builds its model and prepares its inputs: the `model:` and `preprocess:` sections.

Only the declaration is read here; inference/models.py builds the model (torch is imported there, not at
collection). A folder a model is saved in (timm, Hugging Face) is checked here, from its JSON files
alone, so that a missing file or a head that does not fit the labels is an error at collection.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .validate import Context, kind_of, not_a_file
from .yamlload import LocDict, LocList, frozen, plain

#: The model sources (inference/models.py SOURCES builds each), then the keys that qualify one.
MODEL_KINDS = ("factory", "torchvision", "torchscript", "timm", "huggingface", "exported", "onnx")
#: A suite whose predictions were made elsewhere names their file instead of a model (docs/predictions.md).
PREDICTIONS_KIND = "predictions"
MODEL_KEYS = (*MODEL_KINDS, PREDICTIONS_KIND, "weights", "args", "defined_by")
#: Sources whose target is one file holding code and weights: (suffixes, what it is).
_ARCHIVES = {"torchscript": ((".pt", ".pth", ".ts", ".zip"), "a TorchScript archive"),
             "exported": ((".pt2",), "a torch.export archive (torch.export.save)"),
             "onnx": ((".onnx",), "an ONNX file")}
#: Sources that take a state dict in weights: (the others carry their weights).
_TAKES_WEIGHTS = ("factory", "torchvision", "timm")
#: Placeholder class names transformers writes when a model was saved without id2label.
_PLACEHOLDER = re.compile(r"^LABEL_\d+$")
PREPROCESS_KEYS = ("resize", "center_crop", "mean", "std")
#: module.path:callable, for a model factory or a preprocess callable
_IMPORT_PATH = re.compile(r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class ModelSpec:
    """How to build the model: ``kind`` is one of MODEL_KINDS."""

    kind: str
    target: str
    args: tuple[tuple[str, Any], ...] = ()   # model.args frozen (hashable): part of the model's cache key
    weights: Path | None = None
    weights_display: str | None = None
    line: int = 0
    # A factory's own declaration of the files (or folders) that, with its weights and args, determine
    # the model it builds: a rerun where none changed reuses the model's fingerprint without building it.
    defined_by: tuple[Path, ...] = ()
    #: model.args as written (dicts and lists), for calling the factory: pass ``plain(kwargs)``, a fresh copy
    kwargs: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: The folder a timm or Hugging Face model is saved in (its files determine the model).
    folder: Path | None = None
    #: A saved model's class names in output order (Hugging Face id2label), or its head size alone
    #: (timm's num_classes, as placeholders): checked against the suite's labels.
    saved_labels: tuple[str, ...] = ()
    #: The architecture a timm folder's config.json names.
    architecture: str | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """The files and folders that, with kind, target and args, determine the model (for recipe.py)."""
        return tuple(p for p in (self.weights, self.folder) if p is not None) + self.defined_by


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

    @property
    def declared(self) -> bool:
        """Whether the suite has a preprocess: section (which overrides a model's own preprocessing)."""
        return self != Preprocess()


def parse_model(ctx: Context, raw: Any, line: int) -> ModelSpec:
    model = ctx.mapping(raw, line, "model")
    ctx.check_keys(model, MODEL_KEYS, "model")
    kinds = [k for k in (*MODEL_KINDS, PREDICTIONS_KIND) if k in model]
    if len(kinds) != 1:
        raise ctx.error("model needs exactly one of factory:, torchvision: or torchscript:, or of the saved-model "
                        "sources timm:, huggingface:, exported:, onnx:", model.line,
                        hint="or predictions: FILE (predictions made elsewhere), or leave model: out and implement "
                             "pytest_edgecases_load_model in conftest.py")
    kind = kinds[0]
    target = model[kind]
    kline = model.line_of(kind)
    if not isinstance(target, str) or not target.strip():
        raise ctx.error(f"model.{kind} must be a string", kline)
    if kind == PREDICTIONS_KIND:
        return _predictions_file(ctx, model, target, kline)
    weights = weights_display = folder = architecture = None
    saved_labels: tuple[str, ...] = ()
    if kind == "factory" and not _IMPORT_PATH.match(target):
        raise ctx.error(f"model.factory '{target}' is not an import path", kline,
                        hint="write it as module.path:callable, e.g. signs.model:build")
    if "weights" in model and kind not in _TAKES_WEIGHTS:
        raise ctx.error(f"a {kind}: model carries its weights; remove weights:", model.line_of("weights"))
    if kind in _ARCHIVES:
        weights, weights_display = _archive(ctx, kind, target, kline), target
    elif kind == "huggingface":
        folder = _folder(ctx, kind, target, kline)
        saved_labels = _id2label(ctx, folder, target, kline)
    elif kind == "timm" and "weights" not in model:
        if not ctx.path_inside(target, kline, "model.timm").is_dir():
            raise ctx.error(f"model.timm '{target}' is a timm model name without weights:, or a folder that "
                            "does not exist", kline,
                            hint="give weights: FILE (this plugin never downloads), or the folder timm saved "
                                 "the model in (config.json + model.safetensors)")
        folder = _folder(ctx, kind, target, kline)
        architecture, saved_labels = _timm_config(ctx, folder, target, kline)
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
    kwargs: dict[str, Any] = {}
    if "args" in model:
        if kind not in ("factory", "torchvision", "timm"):
            raise ctx.error(f"a {kind}: model takes no args:", model.line_of("args"))
        mapping = ctx.mapping(model["args"], model.line_of("args"), "model.args")
        args, kwargs = frozen(mapping), {str(k): v for k, v in plain(mapping).items()}
    defined_by = _defined_by(ctx, model, kind) if "defined_by" in model else ()
    return ModelSpec(kind=kind, target=target.strip(), args=args, weights=weights,
                     weights_display=weights_display, line=kline, defined_by=defined_by, kwargs=kwargs,
                     folder=folder, saved_labels=saved_labels, architecture=architecture)


def _archive(ctx: Context, kind: str, target: str, line: int) -> Path:
    """The one file a TorchScript, torch.export or ONNX model is (code and weights together)."""
    path = ctx.path_inside(target, line, f"model.{kind}")
    suffixes, what = _ARCHIVES[kind]
    if kind != "torchscript" and path.suffix not in suffixes:
        raise ctx.error(f"model.{kind} '{target}' must be {what}, named *{' or *'.join(suffixes)}", line)
    if not path.is_file():
        raise ctx.error(f"model.{kind} '{target}' {not_a_file(path)}", line)
    return path


def _folder(ctx: Context, kind: str, target: str, line: int) -> Path:
    """A saved model's folder: config.json and safetensors weights (never pickled .bin/.pth weights)."""
    folder = ctx.path_inside(target, line, f"model.{kind}")
    saver = "save_pretrained(DIR)" if kind == "huggingface" else "timm.models.save_for_hf(model, DIR)"
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ctx.error(f"model.{kind} '{target}' {why}", line, hint=f"give the folder {saver} wrote")
    if not (folder / "config.json").is_file():
        raise ctx.error(f"model.{kind} folder '{target}' has no config.json", line,
                        hint=f"give the folder {saver} wrote")
    if not any(folder.glob("*.safetensors")):
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pth", ".pt", ".ckpt"))
        if pickled:
            raise ctx.error(f"model.{kind} folder '{target}' holds {pickled[0]}, pickled weights, which could run "
                            "code when loaded; safetensors are required", line,
                            hint=f"save again with safe_serialization=True (the default of {saver})")
        raise ctx.error(f"model.{kind} folder '{target}' has no model.safetensors", line,
                        hint=f"give the folder {saver} wrote")
    return folder


def _config(ctx: Context, folder: Path, target: str, line: int) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ctx.error(f"cannot read '{target}/config.json': {exc}", line) from None
    if not isinstance(config, dict):
        raise ctx.error(f"'{target}/config.json' is not a JSON object", line)
    return config


def _id2label(ctx: Context, folder: Path, target: str, line: int) -> tuple[str, ...]:
    """A Hugging Face model's class names, in index order, from config.json's id2label."""
    id2label = _config(ctx, folder, target, line).get("id2label")
    try:
        names = {int(k): str(v) for k, v in id2label.items()}  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        raise ctx.error(f"'{target}/config.json' has no id2label mapping (index -> class name)", line,
                        hint="an image classifier's config maps each output index to its class") from None
    if sorted(names) != list(range(len(names))) or len(names) < 2:
        raise ctx.error(f"'{target}/config.json' id2label must number its classes 0..N-1 (N >= 2), "
                        f"got {sorted(names)[:10]}", line)
    return tuple(names[i] for i in range(len(names)))


def _timm_config(ctx: Context, folder: Path, target: str, line: int) -> tuple[str, tuple[str, ...]]:
    """A timm folder's architecture, and its head size (as placeholder labels: timm saves no class names)."""
    config = _config(ctx, folder, target, line)
    arch, classes = config.get("architecture"), config.get("num_classes")
    if not isinstance(arch, str) or not arch:
        raise ctx.error(f"'{target}/config.json' names no architecture (not a timm model folder?)", line,
                        hint="save it with timm.models.save_for_hf(model, DIR)")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ctx.error(f"'{target}/config.json' gives no num_classes (the head size)", line)
    return arch, tuple(f"LABEL_{i}" for i in range(classes))


def resolve_labels(ctx: Context, spec: ModelSpec | None, labels: tuple[str, ...] | None, line: int,
                   model_line: int) -> tuple[str, ...]:
    """The suite's labels, checked against a saved model's: read from id2label when the suite gives none.

    A head whose size differs from the labels is an error here, never a head re-initialised at random.
    """
    saved = spec.saved_labels if spec is not None else ()
    if labels is None:
        if not saved or spec is None or spec.kind != "huggingface":
            raise ctx.error("missing required key 'labels'", line)
        if any(_PLACEHOLDER.match(name) for name in saved):
            raise ctx.error(f"the model's id2label holds placeholder names ({', '.join(saved[:3])}, ...), "
                            "not classes", model_line,
                            hint="add labels: [...] to the suite in output order (or save the model with id2label)")
        return saved
    if saved and len(saved) != len(labels):
        raise ctx.error(f"the model has {len(saved)} outputs but the suite has {len(labels)} labels", line,
                        hint="each output of the model's head needs a label; a head is never resized")
    placeholders = all(_PLACEHOLDER.match(name) for name in saved)
    if saved and not placeholders and saved != labels:
        diff = next(i for i, (a, b) in enumerate(zip(saved, labels, strict=True)) if a != b)
        raise ctx.error(f"labels disagree with the model's id2label at index {diff}: suite {list(labels)}, "
                        f"model {list(saved)}", line,
                        hint="leave labels: out to use id2label, or list the same names in the same order")
    return labels


def _predictions_file(ctx: Context, model: LocDict, target: str, line: int) -> ModelSpec:
    """``model: {predictions: FILE}``: predictions made elsewhere, for a suite with no model to run
    (inference/predfiles.py reads the file; ``target`` is the path as written, relative to the suite)."""
    for key in ("weights", "args", "defined_by"):
        if key in model:
            raise ctx.error(f"a predictions file is no model to build; remove {key}:", model.line_of(key))
    path = ctx.path_inside(target, line, "model.predictions")
    if path.suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise ctx.error(f"model.predictions '{target}' must be a .parquet, .csv or .jsonl file", line,
                        hint="see docs/predictions.md for the format")
    if not path.is_file():
        why = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ctx.error(f"model.predictions '{target}' {why}", line,
                        hint="make it from the jobs file: python -m pytest_edgecases jobs SUITE --out DIR")
    return ModelSpec(kind="predictions", target=target.strip(), line=line)


def _defined_by(ctx: Context, model: LocDict, kind: str) -> tuple[Path, ...]:
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


def parse_preprocess(ctx: Context, raw: Any, line: int) -> Preprocess:
    if raw is None:
        return Preprocess()
    if isinstance(raw, str):
        if not _IMPORT_PATH.match(raw):
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
            raise ctx.error(f"preprocess.{key} must be N or [height, width] in pixels (1..8192), got {kind_of(value)}",
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
