"""Loading weights into a model safely: safetensors, or torch.load(weights_only=True), never a pickle."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import EdgecasesError


def load_weights(path: Path, display: str) -> dict[str, torch.Tensor]:
    """Load a state dict safely: safetensors, or torch.load(weights_only=True) and nothing less."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:
            raise EdgecasesError(f"cannot read safetensors weights: {exc}", display) from None
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "").strip().lower() not in ("", "0", "false"):
        raise EdgecasesError("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it would make torch.load unpickle "
                             "arbitrary code, so .pt weights are refused", display,
                             hint="unset it, or convert the weights to .safetensors")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        # Never retried with weights_only=False: a checkpoint that needs it could run code.
        raise EdgecasesError(f"refused to load '{display}' with weights_only=True: "
                             f"{str(exc).splitlines()[0][:300]}", display,
                             hint="save a plain state_dict (torch.save(model.state_dict(), f)) "
                                  "or .safetensors") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EdgecasesError(f"'{display}' is not a state dict (name -> tensor)", display)
    return state


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], display: str, path: str,
              line: int | None) -> None:
    """Load a state dict key for key: a missing, extra or reshaped tensor (a head of another size) is an
    error, never a tensor left at its random initial value."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise EdgecasesError(f"weights '{display}' do not fit the model: {' '.join(first[:3])[:400]}", path, line,
                             hint="the architecture and the checkpoint must match key for key") from None
