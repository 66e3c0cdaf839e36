"""Hooks users implement in conftest.py."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_edgecases_load_model(suite: Any, device: Any) -> Any:
    """Return the torch.nn.Module for ``suite`` (a pytest_edgecases.suite.Suite) on ``device``.

    Return None to fall back to the suite's ``model:`` section. The plugin calls ``.eval()``
    and moves the model to ``device`` itself; weights you load here are your responsibility
    (use safetensors or ``torch.load(..., weights_only=True)``).
    """
