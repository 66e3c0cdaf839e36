"""The logits in whatever a classifier returns (imports torch).

Libraries wrap them: a tuple or list with the logits first (TorchScript, torch.export), an object
with ``.logits`` (transformers' ImageClassifierOutput), a mapping with ``"logits"``. Anything else is
an error naming the type, rather than a guess.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..errors import EdgecasesError


def logits_of(output: Any) -> torch.Tensor:
    """The logits tensor in a model's output; the caller checks its shape."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if isinstance(output, Mapping) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    if isinstance(getattr(output, "logits", None), torch.Tensor):
        return output.logits
    kind = type(output).__name__
    if isinstance(output, (tuple, list)):
        kind += f" of {type(output[0]).__name__}" if output else " (empty)"
    raise EdgecasesError(f"the model returned a {kind}, not logits",
                         hint="return a tensor of shape (batch, labels), a tuple or list whose first element "
                              "is one, an object with .logits, or a mapping with 'logits'")
