"""The one builder of suite projects: the tiny colour model, folders of solid-colour images, suite YAML.

Every test that needs a project on disk builds it here, through the ``tiny_project`` fixture of
tests/conftest.py (or ``SuiteProject`` directly, for a project outside pytester's folder). The
suite text comes from ``suite_yaml`` so the colour suite is declared once; tests that assert line
numbers pass its parts explicitly and say which lines they are.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from PIL import Image

#: A model that reads colour: the mean of channel 0 against channel 2 decides red vs blue.
#: bias > 0 pushes dark images towards "blue", which makes dark red images fail on purpose
#: (bias 1.0: the six dark red images of the default project, and nothing else).
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

#: A convolutional twin of the tiny model (for saliency: gradcam needs a Conv2d): a 1x1 convolution scores
#: red minus blue per pixel, and each label's logit is its channel's ReLU averaged over the image, so a
#: pixel's share of a label's evidence is plain arithmetic (tests/integration/test_explain_runs.py).
CONV_MODEL = '''
import torch


class ConvNet(torch.nn.Module):
    def __init__(self, bias=0.0):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[4.0, 0.0, -4.0], [-4.0, 0.0, 4.0]]).view(2, 3, 1, 1))
            self.conv.bias.copy_(torch.tensor([-bias, bias]))

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def build(bias=0.0):
    return ConvNet(bias)
'''

#: The tiny model with dark red images failing: the default suite's model.
FAILING_MODEL = '{factory: "tinymodel:build", args: {bias: 1.0}}'
#: The tiny model with no bias, which gets every image right.
PASSING_MODEL = '{factory: "tinymodel:build"}'


def colour_categories(clean: str = "", dark: str = "severity: high") -> str:
    """The ``categories:`` section: clean over data/clean/, dark over data/dark/, each with ``clean``/``dark``
    as extra keys (YAML lines, without indentation). Five lines plus one per extra key."""

    def keys(text: str) -> str:
        return "".join(f"    {line}\n" for line in text.splitlines())

    return ("categories:\n  - name: clean\n" + keys(clean) + "    images: data/clean/\n"
            "  - name: dark\n    images: data/dark/\n" + keys(dark))


def suite_yaml(*, suite: str | None = "colours", labels: str = "[red, blue]", model: str | None = FAILING_MODEL,
               preprocess: str | None = "{resize: [8, 8]}", defaults: str | None = "{min_accuracy: 0.9}",
               extra: str = "", categories: str | None = None) -> str:
    """The colour suite, one line per key in this order: suite, labels, model, preprocess, defaults, then
    ``extra`` (more top-level lines, as given), then ``categories`` (default: ``colour_categories()``).

    A key given as None is left out, so ``suite_yaml(categories="")`` is a header whose length a test can count.
    """
    lines = [f"{key}: {value}\n" for key, value in (("suite", suite), ("labels", labels), ("model", model),
                                                     ("preprocess", preprocess), ("defaults", defaults))
             if value is not None]
    if extra:
        lines.append(extra if extra.endswith("\n") else extra + "\n")
    return "".join(lines) + (colour_categories() if categories is None else categories)


def model_suite(model: str, size: int = 8, min_accuracy: float = 0.9) -> str:
    """The colour suite with another ``model:`` section (line 3), images resized to ``size`` square, clean and
    dark with no extra keys: for tests of where the model comes from and of what makes it infer again."""
    return suite_yaml(model=model, preprocess=f"{{resize: [{size}, {size}]}}",
                      defaults=f"{{min_accuracy: {min_accuracy}}}", categories=colour_categories(dark=""))


class SuiteProject:
    """A project folder: the tiny model's files, ImageFolder trees of solid colours, suite files."""

    def __init__(self, root: Path):
        self.root = root

    def colours(self, clean: int = 6, dark: int = 6) -> SuiteProject:
        """tinymodel.py, data/clean/ and data/dark/ (15 % brightness), ``clean``/``dark`` images per label."""
        (self.root / "tinymodel.py").write_text(TINY_MODEL)
        if clean:
            self.images("data/clean", {"red": clean, "blue": clean})
        if dark:
            self.images("data/dark", {"red": dark, "blue": dark}, brightness=0.15)
        return self

    def images(self, folder: str, counts: dict[str, int], brightness: float = 1.0, size: int = 16,
               name: str = "{:03d}.png") -> list[Path]:
        """See write_images."""
        return write_images(self.root, folder, counts, brightness, size, name)

    def suite(self, text: str | bytes, rel: str = "edgecases.yaml") -> Path:
        """Write a suite file, its text as given (its line numbers are what errors name)."""
        return self.write(rel, text)

    def write(self, rel: str, data: str | bytes) -> Path:
        """Write a file below the project root, creating folders."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        return path

    def link(self, rel: str, target: str | Path) -> Path:
        """A symlink below the project root."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        return path


def write_dedented(root: Path, rel: str, text: str) -> Path:
    """Write a file below root, creating folders: ``text`` as tests write it inline (indented, after a line
    break), dedented."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def write_images(root: Path, folder: str, counts: dict[str, int], brightness: float = 1.0,
                 size: int = 16, name: str = "{:03d}.png") -> list[Path]:
    """ImageFolder tree of solid-colour PNGs: label 'red' is red, 'blue' is blue, scaled by brightness."""
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    out = []
    for label, n in counts.items():
        d = root / folder / label
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = colours.get(label, (128, 128, 128))
            c = tuple(min(255, int(v * brightness) + (i * 3) % 11) for v in base)
            p = d / name.format(i)
            Image.new("RGB", (size, size), c).save(p)
            out.append(p)
    return out


def write_half_images(root: Path, folder: str, counts: dict[str, int], brightness: float = 1.0,
                      size: int = 16) -> list[Path]:
    """Like write_images, but only the left half has the label's colour; the right half is mid grey."""
    out = write_images(root, folder, counts, brightness, size)
    for path in out:
        image = Image.open(path).convert("RGB")
        image.paste((128, 128, 128), (size // 2, 0, size, size))
        image.save(path)
    return out


def conv_project(root: Path, extra: str = "", model: str = '{factory: "convmodel:build", args: {bias: 1.0}}',
                 dark: int = 4) -> Path:
    """convmodel.py (CONV_MODEL), half-coloured clean and dark images (4 of each label), and the colour suite
    with ``extra`` top-level lines (line 6 on): with bias 1.0, the dark red images are its failures."""
    project = SuiteProject(root)
    project.write("convmodel.py", CONV_MODEL)
    write_half_images(root, "data/clean", {"red": 4, "blue": 4})
    write_half_images(root, "data/dark", {"red": dark, "blue": dark}, brightness=0.15)
    return project.suite(suite_yaml(model=model, preprocess="{resize: [16, 16]}", extra=extra,
                                    categories=colour_categories(dark="")))


def inferred_line(result: pytest.RunResult) -> tuple[int, int, int]:
    """(images, inferred, from cache) from the session's 'edgecases: colours: …' line."""
    match = re.search(r"edgecases: colours: (\d+) images, (\d+) inferred, (\d+) from cache", result.stdout.str())
    assert match, result.stdout.str()
    return int(match[1]), int(match[2]), int(match[3])
