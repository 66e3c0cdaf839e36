"""Make the picture strips in docs/img/transforms/ and time each op.

    python docs/make_transform_gallery.py            # write the PNGs
    python docs/make_transform_gallery.py --timing   # also print a per-op timing table

Each strip shows a synthetic road-sign scene (drawn here with PIL, no data
files) and the same scene at every example level of one op, as listed in
``OPS[op].examples``.  The scene is PANEL x PANEL pixels, so pixel-valued
parameters (sigma, length) look as strong as they would on an 80 x 80 input.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from pytest_edgecases.transforms import OPS, apply, expand, seed_for  # noqa: E402

PANEL = 80
LABEL_H = 16
OUT_DIR = ROOT / "docs" / "img" / "transforms"

#: extra strips beyond one per op: file stem -> transform (as YAML would give it)
EXTRA = {
    "composition": [{"brightness": [0.5, 0.3, 0.15]}, {"gaussian_noise": [0.03, 0.05, 0.08]}],
    "perspective_horizontal": {"perspective": {"tilt": [30, 50, 70], "axis": "horizontal"}},
    "downscale_nearest": {"downscale": {"scale": [0.5, 0.25, 0.125], "upsample": "nearest"}},
    "occlusion_patches": {"occlusion": {"area": [0.1, 0.2, 0.3], "patches": 6, "fill": [255, 255, 255]}},
}


def road_sign(size: int = PANEL) -> Image.Image:
    """A stop-sign-like scene: sky, trees, grass, a pole and a red octagon with a white bar."""
    s = 4 * size  # draw 4x larger, then downsample for smooth edges
    img = Image.new("RGB", (s, s))
    d = ImageDraw.Draw(img)
    for y in range(s):  # sky gradient, then grass
        t = y / s
        if t < 0.62:
            d.line([(0, y), (s, y)], fill=(int(120 + 90 * t), int(170 + 60 * t), 235))
        else:
            d.line([(0, y), (s, y)], fill=(int(70 - 30 * t), int(130 - 30 * t), 50))
    for i in range(0, s, s // 12):  # grass stripes: fine detail that blur removes
        d.line([(i, int(0.64 * s)), (i + s // 40, s)], fill=(40, 95, 35), width=max(1, s // 120))
    for cx, cy, r in ((0.12, 0.55, 0.13), (0.9, 0.5, 0.16), (0.78, 0.6, 0.1)):  # trees
        d.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=(35, 90, 45))
    d.rectangle([0.47 * s, 0.45 * s, 0.53 * s, 0.98 * s], fill=(120, 120, 125))  # pole
    c, r = (0.5 * s, 0.36 * s), 0.27 * s
    pts = [(c[0] + r * math.cos(math.radians(22.5 + 45 * k)), c[1] + r * math.sin(math.radians(22.5 + 45 * k)))
           for k in range(8)]
    d.polygon(pts, fill=(255, 255, 255))
    inner = [(c[0] + 0.86 * (x - c[0]), c[1] + 0.86 * (y - c[1])) for x, y in pts]
    d.polygon(inner, fill=(200, 25, 35))
    d.rectangle([c[0] - 0.6 * r, c[1] - 0.14 * r, c[0] + 0.6 * r, c[1] + 0.14 * r], fill=(255, 255, 255))
    return img.resize((size, size), Image.LANCZOS)


def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=10)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def strip(scene: Image.Image, raw: object) -> Image.Image:
    levels = expand(raw)
    panels = [("original", scene)] + [(lv.id or "(one level)", apply(scene, lv, seed_for("docs/road_sign", lv)))
                                      for lv in levels]
    gap = 6
    lines = max(len(label.split(",")) for label, _ in panels)  # one "name=value" per line
    out = Image.new("RGB", (len(panels) * (PANEL + gap) - gap, PANEL + LABEL_H * lines), (255, 255, 255))
    d = ImageDraw.Draw(out)
    font = _font()
    for i, (label, im) in enumerate(panels):
        x = i * (PANEL + gap)
        out.paste(im, (x, 0))
        for j, part in enumerate(label.split(",")):
            d.text((x + PANEL / 2, PANEL + 2 + j * LABEL_H), part, fill=(0, 0, 0), font=font, anchor="mt")
    return out


def write_gallery() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    scene = road_sign()
    jobs = {name: {name: dict(spec.examples)} for name, spec in OPS.items()}
    jobs.update(EXTRA)
    total = 0
    for stem, raw in jobs.items():
        path = OUT_DIR / f"{stem}.png"
        strip(scene, raw).save(path, optimize=True)
        total += path.stat().st_size
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.1f} KiB")
    print(f"total {total / 1024:.1f} KiB")


def timing(sizes=(64, 224), repeats: int = 20, threads: int | None = None) -> None:
    """Median wall time per image for each op at its middle example level (libraries already imported)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    print(f"torch threads: {torch.get_num_threads()}; median of {repeats} runs, ms per image")
    print("| op | level | " + " | ".join(f"{s}x{s}" for s in sizes) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in sizes) + " |")
    jobs = {name: {name: dict(spec.examples)} for name, spec in OPS.items()}
    jobs["composition"] = EXTRA["composition"]
    scenes = {s: road_sign(s) for s in sizes}
    for name, raw in jobs.items():
        levels = expand(raw)
        lv = levels[len(levels) // 2]
        cells = []
        for s in sizes:
            apply(scenes[s], lv, 1)  # warm-up (lazy imports, allocator)
            ts = []
            for r in range(repeats):
                t0 = time.perf_counter()
                apply(scenes[s], lv, r)
                ts.append(time.perf_counter() - t0)
            cells.append(f"{1000 * statistics.median(ts):.2f}")
        print(f"| {name} | {lv.id} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timing", action="store_true", help="print a per-op timing table")
    ap.add_argument("--no-images", action="store_true", help="do not write the PNGs")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads for --timing")
    args = ap.parse_args()
    if not args.no_images:
        write_gallery()
    if args.timing:
        timing(threads=args.threads)


if __name__ == "__main__":
    main()
