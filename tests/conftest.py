"""Shared test fixtures: tiny projects (images + a model) built in pytester's tmp dir.

The fixtures build through support/project.py (the one builder of suite projects; see
tests/README.md for the map of the test folders).

torch (and the other libraries the plugin imports lazily) are imported here, at the top:
pytester's in-process runs evict modules imported during a run, and these cannot be imported
twice in one process.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Iterator

# C extensions such as numpy.fft refuse a second import in one process.
import numpy.fft  # noqa: F401,E402

# Imported up front, not lazily as the plugin does (see the module docstring). PyYAML is here
# because its C loader keeps building nodes of the yaml.nodes it first saw: after an eviction,
# a re-imported yaml would no longer recognise them and every suite would fail to parse.
import pandas  # noqa: F401
import pytest
import safetensors.torch  # noqa: F401
import torch  # noqa: F401
import torchvision  # noqa: F401
import yaml as _yaml  # noqa: F401  (the name `yaml` is a fixture argument below)

# The plugin's lazily imported modules, for a related reason: after an eviction the package object
# still holds the evicted submodules as attributes, so `from . import engine` would find the previous
# run's engine (raising the previous run's EdgecasesError) while `from .errors import EdgecasesError`
# finds a fresh module, and `except EdgecasesError` stops matching. inference.local imports every
# module of the inference package that the session imports lazily.
import pytest_edgecases.explain_run  # noqa: F401,E402
import pytest_edgecases.inference.explain  # noqa: F401,E402
import pytest_edgecases.inference.local  # noqa: F401,E402
import pytest_edgecases.session  # noqa: F401,E402

try:
    # A run with --edgecases-explain imports Captum in a background thread (explain_run.prefetch): an
    # eviction could land in the middle of that import, so it is imported once, here.
    import captum.attr  # noqa: F401
except ImportError:
    pass

try:
    import scipy.stats  # noqa: F401  (test-only cross-checks)
except ImportError:
    pass
from PIL import Image

# The helpers live in support/, which every folder can import (tests/ is on sys.path). They are
# re-exported for tests that import them from conftest; new tests import them from support, since
# `conftest` names whichever conftest.py pytest imported last once a folder has one of its own.
from support.project import (  # noqa: F401
    COUNTING_MODEL,
    TINY_MODEL,
    SuiteProject,
    colour_categories,
    inferred_line,
    suite_yaml,
    write_images,
)

from pytest_edgecases.inference import models

pytest_plugins = ["pytester"]

@pytest.fixture
def tiny_project(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Build a project: tinymodel.py, clean/ and dark/ image folders, and a suite from ``yaml`` text.

    Without ``yaml``, the suite has the categories clean and dark, and its model is ``factory``
    (``countmodel:build`` with the forward_log fixture).
    """

    def make(yaml: str | None = None, *, clean: int = 6, dark: int = 6, filename: str = "edgecases.yaml",
             factory: str = "tinymodel:build") -> Path:
        project = SuiteProject(pytester.path).colours(clean=clean, dark=dark)
        if yaml is None:
            yaml = suite_yaml(model=f'{{factory: "{factory}", args: {{bias: 1.0}}}}',
                              categories=colour_categories(clean="description: Bright colours"))
        return project.suite(textwrap.dedent(yaml).lstrip(), filename)

    return make


@pytest.fixture
def forward_log(pytester: pytest.Pytester) -> Callable[[], list[int]]:
    """Write countmodel.py (factory ``countmodel:build``); return a reader of the batch sizes so far."""
    (pytester.path / "countmodel.py").write_text(COUNTING_MODEL)
    log = pytester.path / "forward.log"

    def read() -> list[int]:
        return [int(n) for n in log.read_text().split()] if log.exists() else []

    return read


@pytest.fixture
def solid_image() -> Callable[..., Path]:
    """Return a writer of one solid-colour image: ``solid_image(path, (r, g, b), size=8)``."""

    def write(path: Path, rgb: tuple[int, int, int], size: int = 8) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (size, size), rgb).save(path)
        return path

    return write


@pytest.fixture
def tiny_net(tmp_path: Path) -> Iterator[Callable[..., torch.nn.Module]]:
    """``tiny_net(bias)``: the tiny colour model built in this process (to save weights or script it).

    Loaded from a real file so that torch.jit.script can read its source.
    """
    import importlib.util
    import sys

    source = tmp_path / "tinymodel_here.py"
    source.write_text(TINY_MODEL)
    name = f"tinymodel_here_{abs(hash(str(tmp_path)))}"
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module.build
    sys.modules.pop(name, None)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every model models.load_model builds in this test, by its suite's model kind ("hook" for the hook's)."""
    built: list[str] = []
    real = models.load_model

    def counting(suite, device, hook=None):
        built.append(suite.model.kind if suite.model else "hook")
        return real(suite, device, hook)

    monkeypatch.setattr(models, "load_model", counting)
    return built
