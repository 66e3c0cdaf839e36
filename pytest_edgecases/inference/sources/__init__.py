"""Model sources from other libraries: timm, Hugging Face, torch.export and ONNX, one module each.

Each module builds one kind of ``model:`` from local files only (models.SOURCES names the builders);
its library is imported when such a model is built, never before, so an absent optional extra
costs nothing until a suite asks for it, and then is a clear error naming the extra to install.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import torch

from ...errors import EdgecasesError
from ..logits import logits_of


@dataclass(frozen=True)
class OwnPreprocess:
    """A model's own preprocessing, as its library applies it: PIL image -> normalised CxHxW float tensor.

    ``description`` is what it resolved to (sizes, interpolation, mean, std), for the run info, the
    report and the model's fingerprint: a changed processor config means new predictions.
    """

    transform: Callable[[Any], Any]
    description: str


def require(module: str, extra: str, path: str, line: int | None) -> ModuleType:
    """Import an optional extra's package, or say which extra to install (never an ImportError)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgecasesError(f"a {extra}: model needs the '{module}' package, which cannot be imported ({exc})",
                             path, line, hint=f"pip install 'pytest-edgecases[{extra}]'") from None


class FixedBatch(torch.nn.Module):
    """A model exported for one batch size (torch.export without a batch Dim, ONNX with a fixed first
    dimension), run on any batch: slice by slice, the last padded with zeros and its padding dropped."""

    def __init__(self, model: Any, size: int):
        super().__init__()
        self.model, self.size = model, size

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[0] == self.size:
            return self.model(batch)
        parts = []
        for start in range(0, batch.shape[0], self.size):
            part = batch[start:start + self.size]
            rows = part.shape[0]
            if rows < self.size:
                part = torch.cat([part, part.new_zeros((self.size - rows, *part.shape[1:]))])
            parts.append(logits_of(self.model(part))[:rows])
        return torch.cat(parts)
