"""``model: {timm: NAME, weights: FILE}`` or ``{timm: DIR}``: a timm architecture, its preprocessing from
its data config (imports timm, and torchvision through it)."""
from __future__ import annotations

import json
from typing import Any

import torch

from ...errors import EdgecasesError, did_you_mean
from ...suite import ModelSpec, Suite
from ..weights import load_into, load_weights
from . import OwnPreprocess, require


def build(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """The architecture with a head of one output per label, never pretrained (no download).

    A folder is loaded the way timm saves one (config.json + model.safetensors), by hand rather than
    through ``pretrained=True``: timm would replace a head that does not fit the labels with a random
    one, where this must be an error. models.py loads ``weights:`` into a named architecture.
    """
    timm = require("timm", "timm", suite.display, spec.line)
    name = spec.architecture or spec.target
    if not timm.is_model(name):
        raise EdgecasesError(f"'{name}' is not a timm model{did_you_mean(name, timm.list_models())}",
                             suite.display, spec.line)
    if spec.folder is None:
        return timm.create_model(name, pretrained=False, **{**args, "num_classes": len(suite.labels)})
    config = json.loads((spec.folder / "config.json").read_text(encoding="utf-8"))
    saved_args = config.get("model_args") if isinstance(config.get("model_args"), dict) else {}
    overlay = config.get("pretrained_cfg") if isinstance(config.get("pretrained_cfg"), dict) else None
    model = timm.create_model(name, pretrained=False, pretrained_cfg_overlay=overlay,
                              **{**saved_args, **args, "num_classes": len(suite.labels)})
    weights = spec.folder / "model.safetensors"
    if not weights.is_file():
        weights = sorted(spec.folder.glob("*.safetensors"))[0]
    display = f"{spec.target}/{weights.name}"
    load_into(model, load_weights(weights, display), display, suite.display, spec.line)
    return model


def preprocessing(suite: Suite, spec: ModelSpec, model: torch.nn.Module) -> OwnPreprocess:
    """timm's eval transform for the model's data config (resize, crop, interpolation, mean, std)."""
    from timm.data import create_transform, resolve_model_data_config

    config = resolve_model_data_config(model)
    shown = json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in sorted(config.items())})
    return OwnPreprocess(create_transform(**config, is_training=False),
                         f"timm data config, create_transform (eval): {shown}")
