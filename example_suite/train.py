"""Train the two showcase models and save their weights under ``models/``.

* ``signs-v1``: trained on *biased* data. Yield signs were mostly photographed
  in winter (95% on snow) and stop signs almost never (0.5%), so "snow" is a
  cheap, spurious cue for "yield" -- the road-sign version of "cow on grass".
* ``signs-v2``: the fix. Same recipe, same seed, same number of images, but every
  class appears on every background equally often (25% snow each).

Training images are rendered in memory by :mod:`signs.render` and never stored.
Both runs are deterministic on a given machine (seeded data, init and order).

Usage: ``python example_suite/train.py [--only v1|v2] [--per-class N] [--epochs N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so `signs` imports however the script is started

from signs import LABELS  # noqa: E402
from signs.model import MEAN, STD, build  # noqa: E402
from signs.render import render, sample_scene  # noqa: E402

DATA_SEED = 7  # training scenes; make_data.py uses other seeds for evaluation
INIT_SEED = 0  # model initialisation and batch order, shared by v1 and v2

# P(snow background | label). v1's skew is the bug; v2's flat 25% is the fix.
SNOW_SHARE: dict[str, dict[str, float]] = {
    "v1": {"stop": 0.005, "yield": 0.95, "speed_limit": 0.03, "no_entry": 0.03, "pedestrian_crossing": 0.03},
    "v2": {label: 0.25 for label in LABELS},
}
_OTHER_BACKGROUNDS = ("sky", "grass", "urban")


def training_images(version: str, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Render ``per_class`` scenes per label as a uint8 (N, 3, 64, 64) tensor and labels.

    Everything but the background is drawn the same way for v1 and v2, so the
    two models differ only in the correlation between background and class.
    """
    images: list[np.ndarray] = []
    targets: list[int] = []
    for li, label in enumerate(LABELS):
        for i in range(per_class):
            rng = np.random.default_rng([DATA_SEED, li, i])
            # The background decision uses its own draw so that, for a given
            # (label, i), v1 and v2 see otherwise comparable scenes.
            snowy = rng.random() < SNOW_SHARE[version][label]
            background = "snow" if snowy else _OTHER_BACKGROUNDS[int(rng.integers(0, 3))]
            # Snow sticks to signs only where there is snow: in v1 that means
            # nearly only on yield signs, which deepens the shortcut.
            cover = float(rng.uniform(0.1, 0.45)) if snowy and rng.random() < 0.5 else 0.0
            # Mostly daytime survey photos; some dusk dashcam frames. No night,
            # no dashcam_b: those are what the low_light category probes.
            dusk = rng.random() < 0.12
            fade = float(rng.uniform(0.0, 0.4)) if rng.random() < 0.1 else 0.0
            scene = sample_scene(
                rng,
                label,
                background,
                condition="dusk" if dusk else "day",
                camera="dashcam_a" if dusk or rng.random() < 0.15 else "survey",
                snow_cover=cover,
                size_range=(0.3, 0.75),
                fade=fade,
            )
            images.append(np.asarray(render(scene, rng)))
            targets.append(li)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(targets, dtype=torch.long)


def normalise(batch_u8: torch.Tensor) -> torch.Tensor:
    """Exactly torchvision's ToTensor then Normalize(MEAN, STD), for a uint8 batch."""
    # Same operations in the same order as ToTensor (float, /255) and Normalize
    # (-mean, /std), so training sees bit-identical inputs to evaluation.
    x = batch_u8.float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return x.sub(mean).div(std)


def train(version: str, per_class: int, epochs: int, batch_size: int = 64) -> tuple[nn.Module, float]:
    """Train one model version; return it (in eval mode) and the seconds spent."""
    t0 = time.perf_counter()
    x, y = training_images(version, per_class)
    t_data = time.perf_counter() - t0
    torch.manual_seed(INIT_SEED)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.2)
    loss_fn = nn.CrossEntropyLoss()
    order_gen = torch.Generator().manual_seed(INIT_SEED)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order_gen)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start : start + batch_size]
            inputs, targets = normalise(x[idx]), y[idx]
            logits = model(inputs)
            loss = loss_fn(logits, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == targets).sum())
            total += len(idx)
        print(f"  {version} epoch {epoch + 1}/{epochs}: loss {loss_sum / total:.4f}, train acc {correct / total:.3f}")
    model.eval()
    elapsed = time.perf_counter() - t0
    print(f"  {version}: {len(x)} images rendered in {t_data:.1f}s, total {elapsed:.1f}s")
    return model, elapsed


def main(argv: list[str] | None = None) -> int:
    """Train the requested versions and write ``models/signs-<version>.safetensors``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SNOW_SHARE), help="train just this version")
    parser.add_argument("--per-class", type=int, default=800, help="training images per label (default 800)")
    parser.add_argument("--epochs", type=int, default=6, help="passes over the training set (default 6)")
    parser.add_argument("--out", type=Path, default=HERE / "models", help="output folder")
    args = parser.parse_args(argv)
    if args.per_class < 1 or args.epochs < 1:
        parser.error("--per-class and --epochs must be positive")

    # Two threads: the reference machine has two cores, and fixing the count
    # keeps the floating-point reduction order, hence the weights, reproducible.
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    for version in [args.only] if args.only else sorted(SNOW_SHARE):
        print(f"training {version} (snow share per label: {SNOW_SHARE[version]})")
        model, _ = train(version, args.per_class, args.epochs)
        path = args.out / f"signs-{version}.safetensors"
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        # One metadata key only: safetensors writes several in hash-map order,
        # which would make identical weights differ byte-wise between runs
        # (and so defeat caches keyed on the file's bytes).
        save_file(state, str(path), metadata={"labels": ",".join(LABELS)})
        print(f"  wrote {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
