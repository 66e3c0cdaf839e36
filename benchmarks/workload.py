"""Synthetic projects for benchmarks/bench.py: PNG images in ImageFolder categories, a model, a suite.

Models (issues 8 and 21): ``small`` (a four-layer CNN at 64 px, a factory model whose forward can
log its batch sizes, so a benchmark can count what was inferred), ``small32`` (the same CNN at
32 px, for the 100,000-image runs), ``mnv3`` (torchvision's mobilenet_v3_small at 224 px) and
``light`` (mobilenet_v3_small again, from a ``factory:`` at 96 px: issue 21's light workload).
All have random weights saved as .safetensors: the numbers are meaningless, the work is real.

A project (``Shape``: images, their side, categories) is built once and reused by later runs (a
marker file says it is complete), because writing 20,000 PNGs takes a while on two cores.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = [f"l{i}" for i in range(10)]
CATEGORIES = [f"c{i}" for i in range(5)]
IMAGE_SIDE = 256

MODELS = {
    # name: (preprocess side, yaml model block)
    "small": (64, '{factory: "benchnet:build", args: {num_classes: 10}, weights: models/small.safetensors}'),
    "small32": (32, '{factory: "benchnet:build", args: {num_classes: 10}, weights: models/small.safetensors}'),
    "mnv3": (224, '{torchvision: mobilenet_v3_small, args: {num_classes: 10}, weights: models/mnv3.safetensors}'),
    "light": (96, '{factory: "lightnet:build", args: {num_classes: 10}, weights: models/mnv3.safetensors}'),
}
def weights_file(model: str) -> str:
    """The model's weights file, relative to the project (from its suite block)."""
    return MODELS[model][1].split("weights: ", 1)[1].split(",", 1)[0].rstrip("}")


#: The file that defines each factory model (its defined_by:).
DEFINED_BY = {"small": "benchnet.py", "small32": "benchnet.py", "light": "lightnet.py"}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

#: The small CNN. BENCH_FORWARD_LOG names a file to append each batch size to (xdist counting).
BENCHNET = '''
import os

import torch
from torch import nn


class BenchNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        def block(i, o, s):
            return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*block(3, 16, 2), *block(16, 32, 2), *block(32, 64, 2), *block(64, 64, 1),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        log = os.environ.get("BENCH_FORWARD_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{x.shape[0]}\\n")
        return self.fc(self.features(x))


def build(num_classes=10):
    return BenchNet(num_classes)
'''

#: mobilenet_v3_small from a factory, as a user with a torchvision architecture in their own code has it.
LIGHTNET = '''
import torchvision


def build(num_classes=10):
    return torchvision.models.mobilenet_v3_small(num_classes=num_classes)
'''


@dataclass(frozen=True)
class Shape:
    """A project's images: how many, their side in pixels, and how many ImageFolder categories."""

    n: int
    side: int = 256
    categories: int = 5

    @property
    def folder(self) -> str:
        default = self.side == IMAGE_SIDE and self.categories == len(CATEGORIES)
        return f"images{self.n}" if default else f"images{self.n}-{self.side}px-{self.categories}c"

    @property
    def category_names(self) -> list[str]:
        return [f"c{i}" for i in range(self.categories)]


def image_path(root: Path, index: int, shape: Shape) -> Path:
    """Where image ``index`` of the shape's lives: spread evenly over categories, then labels."""
    per_cat = shape.n // shape.categories
    cat = f"c{min(index // per_cat, shape.categories - 1)}"
    label = LABELS[index % len(LABELS)]
    return root / "data" / cat / label / f"{index:05d}.png"


def make_image(index: int, side: int = IMAGE_SIDE) -> Image.Image:
    """A smooth random colour field with a little pixel noise (PNGs of realistic decode cost)."""
    rng = np.random.default_rng(index)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((side, side), Image.BICUBIC)
    arr = np.asarray(coarse, dtype=np.int16) + rng.integers(-3, 4, (side, side, 3), dtype=np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _write_range(args: tuple[str, int, int, Shape]) -> None:
    root, start, stop, shape = args
    for i in range(start, stop):
        path = image_path(Path(root), i, shape)
        path.parent.mkdir(parents=True, exist_ok=True)
        make_image(i, shape.side).save(path, compress_level=1)


def build_images(root: Path, shape: Shape) -> None:
    """Write the shape's PNGs under root/data (once: a marker file records a finished build)."""
    marker = root / "images.done"
    if marker.exists() and marker.read_text() == repr(shape):
        return
    shutil.rmtree(root / "data", ignore_errors=True)
    chunks = [(str(root), s, min(shape.n, s + 500), shape) for s in range(0, shape.n, 500)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(_write_range, chunks))
    marker.write_text(repr(shape))


def build_models(root: Path) -> None:
    """benchnet.py, lightnet.py and the models' random weights (fixed seeds) as .safetensors."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    (root / "benchnet.py").write_text(BENCHNET)
    (root / "lightnet.py").write_text(LIGHTNET)
    models = root / "models"
    models.mkdir(exist_ok=True)
    if not (models / "small.safetensors").exists():
        import importlib.util

        spec = importlib.util.spec_from_file_location("benchnet_build", root / "benchnet.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        torch.manual_seed(0)
        save_file(module.build(10).state_dict(), str(models / "small.safetensors"))
    if not (models / "mnv3.safetensors").exists():
        torch.manual_seed(0)
        state = torchvision.models.mobilenet_v3_small(num_classes=10).state_dict()
        save_file({k: v.contiguous() for k, v in state.items()}, str(models / "mnv3.safetensors"))


def suite_text(model: str, name: str = "bench", defined_by: bool = False, categories: int = 5) -> str:
    """The suite: one ImageFolder category per data/c*/ folder, min_accuracy 0 (random weights).

    defined_by: a factory model's suite declares the file that defines it (DEFINED_BY)."""
    side, block = MODELS[model]
    if defined_by:
        block = block[:-1] + f", defined_by: {DEFINED_BY[model]}}}"
    cats = "\n".join(f"  - name: c{i}\n    images: data/c{i}/" for i in range(categories))
    return (f"suite: {name}\nlabels: {json.dumps(LABELS)}\nmodel: {block}\n"
            f"preprocess: {{resize: [{side}, {side}], mean: {MEAN}, std: {STD}}}\n"
            f"defaults: {{min_accuracy: 0.0}}\ncategories:\n{cats}\n")


def build_project(workdir: Path, shape: Shape) -> Path:
    """A project folder with the shape's images and the models' weights; returns the folder.
    (bench.activate writes the one suite each run uses.)"""
    root = workdir / shape.folder
    root.mkdir(parents=True, exist_ok=True)
    build_images(root, shape)
    if not all((root / weights_file(m)).exists() for m in MODELS):
        # In a child process: a parent that imported torch (600 MB) would set a floor under every later
        # child's peak RSS, as wait4 reports it (a child's high-water mark starts from its parent's).
        subprocess.run([sys.executable, __file__, "models", str(root)], check=True)
    (root / "benchnet.py").write_text(BENCHNET)
    (root / "lightnet.py").write_text(LIGHTNET)
    (root / "pytest.ini").write_text("[pytest]\n")   # the project's own rootdir, no inherited options
    return root


def many_categories(workdir: Path, n_categories: int = 1000) -> Path:
    """A suite of n_categories small ImageFolder categories (two images each), for collection timing."""
    root = workdir / f"categories{n_categories}"
    suite = root / "edgecases.yaml"
    if suite.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchnet.py").write_text(BENCHNET)
    (root / "pytest.ini").write_text("[pytest]\n")
    image = make_image(0, 32)
    lines = ["suite: many", "labels: [a, b]", 'model: {factory: "benchnet:build", args: {num_classes: 2}}',
             "preprocess: {resize: [32, 32]}", "defaults: {min_accuracy: 0.0}", "categories:"]
    for i in range(n_categories):
        for label in ("a", "b"):
            folder = root / "data" / f"k{i:04d}" / label
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / "0.png")
        lines += [f"  - name: k{i:04d}", f"    images: data/k{i:04d}/", f"    description: category number {i}"]
    suite.write_text("\n".join(lines) + "\n")
    return root


if __name__ == "__main__":
    if sys.argv[1:2] == ["models"]:
        build_models(Path(sys.argv[2]))
