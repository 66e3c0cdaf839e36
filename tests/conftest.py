"""Shared test fixtures: tiny projects (images + a model) built in pytester's tmp dir.

torch (and the other libraries the plugin imports lazily) are imported here, at the top:
pytester's in-process runs evict modules imported during a run, and these cannot be imported
twice in one process.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

# Imported up front, not lazily as the plugin does (see the module docstring). PyYAML is here
# because its C loader keeps building nodes of the yaml.nodes it first saw: after an eviction,
# a re-imported yaml would no longer recognise them and every suite would fail to parse.
import pandas  # noqa: F401
import pytest
import safetensors.torch  # noqa: F401
import torch  # noqa: F401
import torchvision  # noqa: F401
import yaml  # noqa: F401
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
    """Build a project: tinymodel.py, clean/ and dark/ image folders, and a suite from ``yaml`` text."""

    def make(yaml: str | None = None, *, clean: int = 6, dark: int = 6, filename: str = "edgecases.yaml") -> Path:
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
                model: {factory: "tinymodel:build", args: {bias: 1.0}}
                preprocess: {resize: [8, 8]}
                defaults: {min_accuracy: 0.9}
                categories:
                  - name: clean
                    description: Bright colours
                    images: data/clean/
                  - name: dark
                    images: data/dark/
                    severity: high
            """
        path = root / filename
        path.write_text(textwrap.dedent(yaml).lstrip())
        return path

    return make
