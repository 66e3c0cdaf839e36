"""Regenerate the committed evaluation images under ``example_suite/data/``.

Deterministic: every image comes from its own seeded generator, keyed by
(set, label, index), so rerunning this script rewrites the same pixels.
(Exact bytes can differ across Pillow versions, whose text rasteriser and
resamplers occasionally change.)

Writes:

* ``data/clean/<label>/NNNN.png``: daylight photos on sky, field or wall
  backgrounds, 20 per label. The yardstick every model should pass.
* ``data/snow/<label>/NNNN.png``: winter scenes, 10 per label; from index 3 on
  the sign itself is partly covered with snow. Probes the "snow means yield"
  shortcut that v1 learned.
* ``data/low_light.csv`` and ``data/low_light/NNNN.png``: dusk and night frames
  from two dashcams, 12 per label; dashcam_b is the cheaper, noisier camera.
  Manifest columns: path,label,severity,camera,time_of_day (severity is
  ``high`` for stop and no_entry, where a miss means running a junction).
* ``data/rare/pedestrian_crossing/NNNN.png``: 10 faded or old-style
  (red-bordered upright triangle) pedestrian crossing signs.
* ``data/distant/<label>/NNNN.png``: signs seen from far away, 6 per label,
  only 10-15 pixels across.

Training data is not written here: train.py renders it in memory.

Usage: ``python example_suite/make_data.py``
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so `signs` imports however the script is started

from signs import LABELS  # noqa: E402
from signs.render import Scene, render, sample_scene  # noqa: E402

DATA = HERE / "data"
SEED = 20261120  # differs from train.py's, so no evaluation scene is a training scene
_DAY_BACKGROUNDS = ("sky", "grass", "urban")
_HIGH_SEVERITY = {"stop", "no_entry"}


@dataclass(frozen=True)
class Item:
    """One evaluation image: where it goes, what it shows, its manifest fields."""

    relpath: str
    scene: Scene
    rng: np.random.Generator
    camera: str = ""
    time_of_day: str = ""


def _rng(set_id: int, label: str, i: int) -> np.random.Generator:
    """An independent generator per image, so sets can grow without reshuffling."""
    return np.random.default_rng([SEED, set_id, LABELS.index(label), i])


def clean() -> Iterator[Item]:
    """Daylight, no snow: 20 per label, backgrounds rotating sky/grass/urban."""
    for label in LABELS:
        for i in range(20):
            rng = _rng(1, label, i)
            scene = sample_scene(rng, label, _DAY_BACKGROUNDS[i % 3])
            yield Item(f"clean/{label}/{i:04d}.png", scene, rng)


def snow() -> Iterator[Item]:
    """Winter scenes, 10 per label: 0-2 clear signs, 3-9 partly snow-covered.

    snow/stop/0009 is deliberately buried (about two thirds covered): only the
    red rim and a corner of the octagon remain, so reviewers may call it
    ambiguous.
    """
    for label in LABELS:
        for i in range(10):
            rng = _rng(2, label, i)
            cover = 0.0 if i < 3 else float(rng.uniform(0.2, 0.5))
            if label == "stop" and i == 9:
                cover = 0.65
            scene = sample_scene(rng, label, "snow", snow_cover=cover)
            yield Item(f"snow/{label}/{i:04d}.png", scene, rng)


def low_light() -> Iterator[Item]:
    """Dusk and night dashcam frames, 12 per label, split evenly by camera and time.

    Two frames are deliberately near-black (exposure x0.35 on dashcam_b at
    night): a speed limit and a no-entry sign that a person could not tell
    apart, the honest "ambiguous" cases.
    """
    n = 0
    for label in LABELS:
        for i in range(12):
            rng = _rng(3, label, i)
            camera = "dashcam_a" if i % 2 == 0 else "dashcam_b"
            time_of_day = "dusk" if i % 4 < 2 else "night"
            exposure = 0.35 if (label, i) in {("speed_limit", 11), ("no_entry", 11)} else 1.0
            scene = sample_scene(
                rng, label, _DAY_BACKGROUNDS[(i // 2) % 3],
                condition=time_of_day, camera=camera, exposure=exposure,
            )
            yield Item(f"low_light/{n:04d}.png", scene, rng, camera, time_of_day)
            n += 1


def rare() -> Iterator[Item]:
    """Ten worn pedestrian crossing signs; 0-3 are the old triangular design."""
    label = "pedestrian_crossing"
    for i in range(10):
        rng = _rng(4, label, i)
        scene = sample_scene(
            rng, label, _DAY_BACKGROUNDS[i % 3],
            fade=float(rng.uniform(0.45, 0.85)), old_style=i < 4,
        )
        yield Item(f"rare/{label}/{i:04d}.png", scene, rng)


def distant() -> Iterator[Item]:
    """Far-off signs, 6 per label: 0.16-0.24 of the frame, i.e. 10-15 pixels wide."""
    for label in LABELS:
        for i in range(6):
            rng = _rng(5, label, i)
            scene = sample_scene(rng, label, _DAY_BACKGROUNDS[i % 3], size_range=(0.16, 0.24))
            yield Item(f"distant/{label}/{i:04d}.png", scene, rng)


def main() -> int:
    """Delete and rewrite the generated sets, then the low_light manifest."""
    sets = {"clean": clean, "snow": snow, "low_light": low_light, "rare": rare, "distant": distant}
    for name in sets:
        # Start from empty so that a shrunken set leaves no stale images behind.
        shutil.rmtree(DATA / name, ignore_errors=True)
    manifest: list[dict[str, str]] = []
    for name, make in sets.items():
        count = 0
        for item in make():
            out = DATA / item.relpath
            out.parent.mkdir(parents=True, exist_ok=True)
            # optimize=True: smaller files, same pixels; no metadata, so bytes are stable.
            render(item.scene, item.rng).save(out, optimize=True)
            count += 1
            if name == "low_light":
                manifest.append({
                    # Relative to the suite file's folder (example_suite/).
                    "path": f"data/{item.relpath}",
                    "label": item.scene.label,
                    "severity": "high" if item.scene.label in _HIGH_SEVERITY else "",
                    "camera": item.camera,
                    "time_of_day": item.time_of_day,
                })
        print(f"{name}: {count} images")
    with open(DATA / "low_light.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "severity", "camera", "time_of_day"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)
    print(f"low_light.csv: {len(manifest)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
