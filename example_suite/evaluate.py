"""Reference evaluation of a road-sign model, in plain PyTorch (no plugin).

Loads ``signs.model:build`` with a weights file, runs every evaluation set under
``data/`` -- each ImageFolder folder (``data/<category>/<label>/*.png``) and
each manifest (``data/<category>.csv``) -- and prints per-category accuracy,
per-camera accuracy for manifests that have a ``camera`` column, and every
misclassified image with its prediction and softmax confidence.

pytest-edgecases' numbers for this suite must match these.

Preprocessing, as the suite YAML declares it: decode with PIL and
``.convert("RGB")``, resize to 64x64 bilinear, scale to [0, 1] (/255), then
normalise with mean 0.5 and std 0.25 per channel.

Usage::

    python example_suite/evaluate.py example_suite/models/signs-v1.safetensors
    python example_suite/evaluate.py example_suite/models/signs-v2.safetensors --json v2.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the suite folder is where `signs` lives

from signs import LABELS  # noqa: E402
from signs.model import INPUT_SIZE, MEAN, STD, build  # noqa: E402


@dataclass
class Example:
    """One image to score; ``path`` is relative to the suite folder."""

    path: str
    category: str
    label: str
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Prediction:
    """The model's answer for one example."""

    path: str
    category: str
    label: str
    predicted: str
    confidence: float
    """Softmax probability of the predicted label."""
    margin: float
    """Top-1 minus top-2 probability: tiny margins flip on numeric noise."""
    correct: bool
    meta: dict[str, str]


def discover(root: Path) -> list[Example]:
    """Every example under ``root/data``: ImageFolder dirs and CSV manifests, sorted."""
    data = root / "data"
    examples: list[Example] = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        label_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
        if not label_dirs:
            continue  # a manifest's image folder, listed by its CSV instead
        for label_dir in label_dirs:
            # Labels come from folder *names*, looked up in LABELS: a folder
            # with only some labels (rare/) must not be re-indexed from 0 the
            # way torchvision's ImageFolder would.
            if label_dir.name not in LABELS:
                raise ValueError(f"{label_dir}: folder name is not a label in {LABELS}")
            for img in sorted(label_dir.glob("*.png")):
                examples.append(Example(img.relative_to(root).as_posix(), folder.name, label_dir.name))
    for manifest in sorted(data.glob("*.csv")):
        with open(manifest, newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                if row["label"] not in LABELS:
                    raise ValueError(f"{manifest}:{line}: label {row['label']!r} is not in {LABELS}")
                meta = {k: v for k, v in row.items() if k not in ("path", "label")}
                examples.append(Example(row["path"], manifest.stem, row["label"], meta))
    return examples


def load_image(path: Path) -> torch.Tensor:
    """Decode, resize and normalise one image to a (3, 64, 64) float tensor."""
    with Image.open(path) as im:
        rgb = im.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
    return x.sub(torch.tensor(MEAN).view(3, 1, 1)).div(torch.tensor(STD).view(3, 1, 1))


def load_model(weights: Path) -> torch.nn.Module:
    """``signs.model.build()`` with the given safetensors state dict, in eval mode."""
    model = build()
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval()  # batch norm must use its running statistics


@torch.inference_mode()
def predict(model: torch.nn.Module, root: Path, examples: list[Example], batch_size: int = 64) -> list[Prediction]:
    """Run the model over ``examples`` in batches and collect softmax answers."""
    out: list[Prediction] = []
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        x = torch.stack([load_image(root / ex.path) for ex in batch])
        probs = torch.softmax(model(x), dim=1)
        top2 = probs.topk(2, dim=1)
        for ex, p, idx in zip(batch, top2.values, top2.indices, strict=True):
            predicted = LABELS[int(idx[0])]
            out.append(Prediction(
                ex.path, ex.category, ex.label, predicted, float(p[0]), float(p[0] - p[1]),
                predicted == ex.label, ex.meta,
            ))
    return out


def mean_luminance(root: Path, path: str) -> float:
    """Rec. 601 luma of the image, averaged, on a 0..1 scale."""
    with Image.open(root / path) as im:
        return float(np.asarray(im.convert("L"), dtype=np.float32).mean() / 255)


def report(preds: list[Prediction], root: Path) -> None:
    """Print per-category and per-camera accuracy, then every mistake."""
    by_cat: dict[str, list[Prediction]] = defaultdict(list)
    for p in preds:
        by_cat[p.category].append(p)
    print(f"{'category':<12}{'images':>7}{'correct':>8}{'accuracy':>10}{'mean luma':>11}")
    for cat, ps in by_cat.items():
        n_ok = sum(p.correct for p in ps)
        luma = np.mean([mean_luminance(root, p.path) for p in ps])
        print(f"{cat:<12}{len(ps):>7}{n_ok:>8}{n_ok / len(ps):>10.3f}{luma:>11.3f}")
    print(f"{'all':<12}{len(preds):>7}{sum(p.correct for p in preds):>8}"
          f"{sum(p.correct for p in preds) / len(preds):>10.3f}")

    for cat, ps in by_cat.items():
        for key in ("camera", "time_of_day"):
            groups: dict[str, list[bool]] = defaultdict(list)
            for p in ps:
                if key in p.meta:
                    groups[p.meta[key]].append(p.correct)
            if groups:
                print(f"\n{cat} by {key}:")
                for g, oks in sorted(groups.items()):
                    print(f"  {g:<12}{len(oks):>4}{sum(oks):>5}{sum(oks) / len(oks):>8.3f}")

    wrong = [p for p in preds if not p.correct]
    print(f"\nmisclassified ({len(wrong)}):")
    print(f"  {'path':<42}{'true':<21}{'predicted':<21}{'conf':>6}")
    for p in wrong:
        print(f"  {p.path:<42}{p.label:<21}{p.predicted:<21}{p.confidence:>6.3f}")


def main(argv: list[str] | None = None) -> int:
    """Evaluate one weights file over the whole suite."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="a models/signs-v*.safetensors file")
    parser.add_argument("--json", type=Path, help="also write every prediction to this JSON file")
    args = parser.parse_args(argv)
    if not args.weights.is_file():
        parser.error(f"weights file not found: {args.weights}")

    torch.set_num_threads(2)
    model = load_model(args.weights)
    preds = predict(model, HERE, discover(HERE))
    print(f"weights: {args.weights}\n")
    report(preds, HERE)
    if args.json:
        args.json.write_text(json.dumps([asdict(p) for p in preds], indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {len(preds)} predictions to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
