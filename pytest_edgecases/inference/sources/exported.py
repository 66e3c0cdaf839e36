"""``model: {exported: m.pt2}``: a ``torch.export`` program, TorchScript's successor (imports torch)."""
from __future__ import annotations

import os
from typing import Any

import torch

from ...errors import EdgecasesError
from ...suite import ModelSpec, Suite
from . import FixedBatch


def build(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """The program's module. Its graph is data, not code; its tensors are read with weights_only=True.

    torch.export.load falls back to unpickling (weights_only=False) for some archives, which could run
    code: TORCH_FORCE_WEIGHTS_ONLY_LOAD, set while it loads, makes torch refuse that instead.
    """
    before = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        program = torch.export.load(str(spec.weights))
    except Exception as exc:   # a damaged archive, another torch's format, or a pickle refused
        raise EdgecasesError(f"cannot load '{spec.weights_display}' with torch.export.load: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                             suite.display, spec.line,
                             hint="save it with torch.export.save(torch.export.export(model, (x,)), FILE) "
                                  "with this torch version") from None
    finally:
        if before is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = before
    batch = _fixed_batch(program)
    module = Exported(program.module())
    return FixedBatch(module, batch) if batch else module


class Exported(torch.nn.Module):
    """A program's module, which refuses eval() and train(): it runs in the mode it was exported in."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.program = module

    def train(self, mode: bool = True) -> Exported:
        self.training = mode
        return self

    def forward(self, batch: torch.Tensor) -> object:
        return self.program(batch)


def _fixed_batch(program: Any) -> int | None:
    """The batch size a program was exported with when it is static (no Dim for it), else None."""
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
            shape = getattr(node.meta.get("val"), "shape", None)
            return int(shape[0]) if shape is not None and len(shape) and isinstance(shape[0], int) else None
    return None
