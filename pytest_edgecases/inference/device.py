"""--edgecases-device: the device inference runs on, and the device type known without importing torch.

Prediction keys hold the device type. A rerun that finds every prediction in the cache must
know it without importing torch (seconds of one core), so ``torch_free_device`` answers where
that is certain; ``resolve_device`` asks torch, once a model is built anyway.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EdgecasesError

if TYPE_CHECKING:
    import torch


def resolve_device(requested: str) -> torch.device:
    """Turn --edgecases-device into a torch.device; `auto` prefers cuda, then mps, then cpu."""
    import torch  # only once a model is built, or a GPU was asked for by name

    requested = (requested or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "mps":
        if not mps_ok:
            raise EdgecasesError("--edgecases-device=mps, but MPS is not available on this machine",
                                 hint="use --edgecases-device=auto to pick the best available device")
        return torch.device("mps")
    if requested == "cuda" or requested.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise EdgecasesError(f"--edgecases-device={requested}, but CUDA is not available on this machine",
                                 hint="use --edgecases-device=auto (or cpu) where there is no GPU")
        index = requested.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise EdgecasesError(f"--edgecases-device={requested}: this machine has "
                                     f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device(requested)
    raise EdgecasesError(f"--edgecases-device={requested} is not a device",
                         hint="use auto, cpu, cuda, cuda:N or mps")


def torch_free_device(requested: str) -> str | None:
    """The device type `requested` resolves to when that is certain without importing torch, else None.

    `auto` is cpu for sure only where no GPU can be used: a torch build for neither CUDA nor ROCm
    (not on macOS, where MPS may be there), or a Linux machine without any GPU device node.
    """
    requested = (requested or "auto").strip().lower()
    if requested == "cpu":
        return "cpu"
    if requested != "auto" or sys.platform == "darwin":
        return None
    gpu_build = _torch_gpu_build()
    if gpu_build is None:
        return None
    if not gpu_build:
        return "cpu"
    return "cpu" if sys.platform.startswith("linux") and not _gpu_device_nodes() else None


def _torch_gpu_build() -> bool | None:
    """Whether the installed torch is built for CUDA or ROCm, read from torch/version.py (None: cannot tell)."""
    try:
        spec = importlib.util.find_spec("torch")
        folder = next(iter(spec.submodule_search_locations or [])) if spec else None
        text = (Path(folder) / "version.py").read_text() if folder else ""
    except (ImportError, OSError, StopIteration, ValueError):
        return None
    found = {}
    for name in ("cuda", "hip"):
        match = re.search(rf"^{name}\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
        if match is None:
            return None
        found[name] = match[1].strip() != "None"
    return any(found.values())


def _gpu_device_nodes(dev: Path = Path("/dev"), driver: Path = Path("/proc/driver/nvidia")) -> bool:
    """True when a node an NVIDIA, AMD (kfd) or WSL (dxg) GPU needs exists, or /dev cannot be read."""
    try:
        names = os.listdir(dev)
    except OSError:
        return True
    return driver.exists() or any(n.startswith("nvidia") or n in ("kfd", "dxg") for n in names)
