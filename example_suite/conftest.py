"""The example's model hook: SIGNS_MODEL=v2 evaluates the fixed model instead of the suite's v1.

This is how a team whose model loading is code (a registry, a checkpoint chosen by a CI
variable) plugs it in; returning None falls back to the suite's model: section.
"""
from __future__ import annotations

import os
from pathlib import Path


def pytest_edgecases_load_model(suite, device):
    """Build the road-sign model with the weights SIGNS_MODEL names (v1 or v2)."""
    version = os.environ.get("SIGNS_MODEL")
    if suite.name != "road-signs" or not version:
        return None
    from safetensors.torch import load_file
    from signs.model import build

    weights = Path(__file__).parent / "models" / f"signs-{version}.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"SIGNS_MODEL={version}: no weights at {weights} (use v1 or v2)")
    model = build()
    model.load_state_dict(load_file(str(weights)))
    return model
