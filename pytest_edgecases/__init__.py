"""pytest-edgecases: regression-test image-recognition models on their edge cases."""
from __future__ import annotations

__version__ = "0.1.0"
