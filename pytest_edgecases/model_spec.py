"""How a suite builds its model and prepares its inputs: the `model:` and `preprocess:` sections.

Only the declaration is read here; engine.py builds the model (torch is imported there, not at collection).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .validate import Context, kind_of
from .yamlload import LocDict, LocList, frozen, plain

MODEL_KEYS = ("factory", "torchvision", "torchscript", "predictions", "weights", "args", "defined_by")
PREPROCESS_KEYS = ("resize", "center_crop", "mean", "std")
#: module.path:callable, for a model factory or a preprocess callable
_IMPORT_PATH = re.compile(r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class ModelSpec:
    """How to build the model: ``kind`` is factory, torchvision or torchscript."""

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


def parse_model(ctx: Context, raw: Any, line: int) -> ModelSpec:
    model = ctx.mapping(raw, line, "model")
    ctx.check_keys(model, MODEL_KEYS, "model")
    kinds = [k for k in ("factory", "torchvision", "torchscript", "predictions") if k in model]
    if len(kinds) != 1:
        raise ctx.error("model needs exactly one of factory:, torchvision: or torchscript:", model.line,
                        hint="or predictions: FILE (predictions made elsewhere), or leave model: out and implement "
                             "pytest_edgecases_load_model in conftest.py")
    kind = kinds[0]
    target = model[kind]
    kline = model.line_of(kind)
    if not isinstance(target, str) or not target.strip():
        raise ctx.error(f"model.{kind} must be a string", kline)
    if kind == "predictions":
        return _predictions_file(ctx, model, target, kline)
    weights = weights_display = None
    if kind == "factory" and not _IMPORT_PATH.match(target):
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
    kwargs: dict[str, Any] = {}
    if "args" in model:
        if kind == "torchscript":
            raise ctx.error("a torchscript model takes no args:", model.line_of("args"))
        mapping = ctx.mapping(model["args"], model.line_of("args"), "model.args")
        args, kwargs = frozen(mapping), {str(k): v for k, v in plain(mapping).items()}
    defined_by = _defined_by(ctx, model, kind) if "defined_by" in model else ()
    return ModelSpec(kind=kind, target=target.strip(), args=args, weights=weights,
                     weights_display=weights_display, line=kline, defined_by=defined_by, kwargs=kwargs)


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
