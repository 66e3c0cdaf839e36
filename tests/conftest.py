"""Shared test fixtures: tiny projects (images + a model) built in pytester's tmp dir.

torch (and the other libraries the plugin imports lazily) are imported here, at the top:
pytester's in-process runs evict modules imported during a run, and these cannot be imported
twice in one process.
"""
from __future__ import annotations

import re
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
import pytest_edgecases.inference.local  # noqa: F401,E402
import pytest_edgecases.session  # noqa: F401,E402

try:
    import scipy.stats  # noqa: F401  (test-only cross-checks)
except ImportError:
    pass
from PIL import Image

pytest_plugins = ["pytester"]

#: A model that reads colour: the mean of channel 0 against channel 2 decides red vs blue.
#: bias > 0 pushes dark images towards "blue", which makes dark red images fail on purpose.
TINY_MODEL = '''
import torch


class Net(torch.nn.Module):
    def __init__(self, bias=0.0):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[4.0, 0.0, -4.0], [-4.0, 0.0, 4.0]]))
            self.fc.bias.copy_(torch.tensor([-bias, bias]))

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


def build(bias=0.0):
    return Net(bias)
'''


def inferred_line(result: pytest.RunResult) -> tuple[int, int, int]:
    """(images, inferred, from cache) from the session's 'edgecases: colours: …' line."""
    match = re.search(r"edgecases: colours: (\d+) images, (\d+) inferred, (\d+) from cache", result.stdout.str())
    assert match, result.stdout.str()
    return int(match[1]), int(match[2]), int(match[3])


def write_images(root: Path, folder: str, counts: dict[str, int], brightness: float = 1.0,
                 size: int = 16) -> list[Path]:
    """ImageFolder tree of solid-colour PNGs: label 'red' is red, 'blue' is blue, scaled by brightness."""
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    out = []
    for label, n in counts.items():
        d = root / folder / label
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = colours.get(label, (128, 128, 128))
            c = tuple(min(255, int(v * brightness) + (i * 3) % 11) for v in base)
            p = d / f"{i:03d}.png"
            Image.new("RGB", (size, size), c).save(p)
            out.append(p)
    return out


@pytest.fixture
def tiny_project(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Build a project: tinymodel.py, clean/ and dark/ image folders, and a suite from ``yaml`` text.

    Without ``yaml``, the suite has the categories clean and dark, and its model is ``factory``
    (``countmodel:build`` with the forward_log fixture).
    """

    def make(yaml: str | None = None, *, clean: int = 6, dark: int = 6, filename: str = "edgecases.yaml",
             factory: str = "tinymodel:build") -> Path:
        root = pytester.path
        (root / "tinymodel.py").write_text(TINY_MODEL)
        if clean:
            write_images(root, "data/clean", {"red": clean, "blue": clean})
        if dark:
            write_images(root, "data/dark", {"red": dark, "blue": dark}, brightness=0.15)
        if yaml is None:
            yaml = """
                suite: colours
                labels: [red, blue]
                model: {factory: "%s", args: {bias: 1.0}}
                preprocess: {resize: [8, 8]}
                defaults: {min_accuracy: 0.9}
                categories:
                  - name: clean
                    description: Bright colours
                    images: data/clean/
                  - name: dark
                    images: data/dark/
                    severity: high
            """ % factory
        path = root / filename
        path.write_text(textwrap.dedent(yaml).lstrip())
        return path

    return make


#: The tiny model, appending each forward batch's size to forward.log next to it. Appends are
#: atomic for such short lines, so xdist workers can share the log.
COUNTING_MODEL = '''
import os

from tinymodel import Net

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward.log")


class CountingNet(Net):
    def forward(self, x):
        with open(LOG, "a") as f:
            f.write(f"{x.shape[0]}\\n")
        return super().forward(x)


def build(bias=0.0):
    return CountingNet(bias)
'''


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
