"""The package's modules import by name from a fresh interpreter, as API users import them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest_edgecases

ROOT = Path(pytest_edgecases.__file__).resolve().parents[1]


def test_from_package_import_annotations_gives_the_module() -> None:
    """`from pytest_edgecases import annotations` is the annotations module, not a __future__ feature."""
    code = ("from pytest_edgecases import annotations, suite\n"
            "assert annotations.__name__ == 'pytest_edgecases.annotations', type(annotations)\n"
            "assert callable(annotations.load_annotations) and callable(suite.load_suite)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert result.returncode == 0, result.stderr
