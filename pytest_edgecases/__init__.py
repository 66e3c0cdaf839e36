"""pytest-edgecases: regression-test image-recognition models on their edge cases."""
# No `from __future__ import annotations` here: it would bind the name `annotations` in this
# package to a __future__ feature, so `from pytest_edgecases import annotations` would return that
# instead of the annotations module (unless the module happened to be imported already).

__version__ = "0.1.0"
