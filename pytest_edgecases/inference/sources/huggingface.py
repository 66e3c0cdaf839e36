"""``model: {huggingface: DIR}``: a transformers image classifier and its image processor, from a
``save_pretrained`` folder only (imports transformers)."""
from __future__ import annotations

import json
from typing import Any

import torch

from ...errors import EdgecasesError
from ...suite import ModelSpec, Suite
from . import OwnPreprocess, require

#: The image processor's implementation, pinned to the PIL one ("slow"): transformers' default changed to
#: the torchvision one ("fast") in 5.0, and the two differ slightly in their numbers (transformers #34785,
#: #39591). ``use_fast=False`` means the PIL one in every 5.x (later ones call it ``backend="pil"``).
USE_FAST = False


def build(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """The model, offline, from safetensors only, with no remote code and no weight initialised at random."""
    transformers = require("transformers", "huggingface", suite.display, spec.line)
    assert spec.folder is not None   # model_spec.py checked config.json, the safetensors and id2label
    try:
        model, info = transformers.AutoModelForImageClassification.from_pretrained(
            str(spec.folder), local_files_only=True, use_safetensors=True, trust_remote_code=False,
            dtype=torch.float32, output_loading_info=True)
    except (OSError, ValueError, KeyError) as exc:
        raise EdgecasesError(f"transformers cannot load '{spec.target}': {str(exc).splitlines()[0][:300]}",
                             suite.display, spec.line,
                             hint="give the folder model.save_pretrained(DIR) wrote") from None
    # from_pretrained fills a weight the file lacks (or has in another shape) at random, with a warning:
    # a gate must never judge such a model.
    unfit = [*info.get("missing_keys", ()), *(str(k[0]) if isinstance(k, tuple) else str(k)
                                              for k in info.get("mismatched_keys", ()))]
    if unfit:
        raise EdgecasesError(f"'{spec.target}' lacks weights for {len(unfit)} tensors of the model "
                             f"({', '.join(sorted(unfit)[:3])}); they would be random", suite.display, spec.line,
                             hint="save the trained model again with model.save_pretrained(DIR)")
    if model.config.num_labels != len(suite.labels):
        raise EdgecasesError(f"the model's head has {model.config.num_labels} outputs but the suite has "
                             f"{len(suite.labels)} labels", suite.display, spec.line)
    return model


def preprocessing(suite: Suite, spec: ModelSpec, model: torch.nn.Module) -> OwnPreprocess:
    """The folder's image processor (preprocessor_config.json), with its implementation pinned."""
    transformers = require("transformers", "huggingface", suite.display, spec.line)
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(
            str(spec.folder), local_files_only=True, trust_remote_code=False, use_fast=USE_FAST)
    except (OSError, ValueError, KeyError) as exc:
        raise EdgecasesError(f"transformers cannot load the image processor of '{spec.target}': "
                             f"{str(exc).splitlines()[0][:300]}", suite.display, spec.line,
                             hint="save it with processor.save_pretrained(DIR), or declare preprocess:") from None

    def transform(image: Any) -> torch.Tensor:
        return processor(images=image, return_tensors="pt")["pixel_values"][0]

    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(processor.to_dict().items())
                if v is not None and not k.startswith("_")}
    return OwnPreprocess(transform, f"{type(processor).__name__} (use_fast={USE_FAST}): "
                                   f"{json.dumps(settings, default=str)}")
