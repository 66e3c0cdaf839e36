"""Partial occlusion: rectangular patches at seeded positions, hand-written."""
from __future__ import annotations

import math
from typing import Any

from ._pixels import from_array, random_bytes, to_array
from ._registry import Param, register_kernel, rgb_param


def _grid_shape(patches: int, width: int, height: int) -> tuple[int, int]:
    """rows x cols == patches, as square as possible, more cells along the longer side."""
    best = (1, patches)
    for r in range(1, int(math.isqrt(patches)) + 1):
        if patches % r == 0:
            best = (r, patches // r)
    rows, cols = best
    return (cols, rows) if height > width else (rows, cols)


def _patch_size(cw: int, ch: int, area: float) -> tuple[int, int]:
    """Width and height of a patch covering ``area`` of a cw x ch cell: the most
    cell-shaped rectangle within 1% of the target pixel count, else the closest."""
    target = math.floor(area * cw * ch + 0.5)
    if target <= 0 or cw <= 0 or ch <= 0:
        return 0, 0
    candidates = []
    for pw in range(1, cw + 1):
        for ph in {math.floor(target / pw), math.ceil(target / pw)}:
            if 1 <= ph <= ch:
                candidates.append((abs(pw * ph - target), abs(pw * ch - ph * cw), pw, ph))
    if not candidates:
        return 0, 0
    close = [c for c in candidates if c[0] <= target // 100]
    err, _, pw, ph = min(close, key=lambda c: (c[1], c[2])) if close else min(candidates)
    return pw, ph


@register_kernel(
    "occlusion",
    simulates="partial occlusion: stickers, snow, dirt, a hand or another object in front",
    params=(
        Param("area", "float", "share of the image area",
              "total share of the image covered by the patches", None, 0, 1),
        Param("patches", "int", "count",
              "number of rectangular patches (the image is split into this many cells, one patch each)",
              1, 1, 100),
        rgb_param("fill", (0, 0, 0), "colour of the patches"),
    ),
    primary="area",
    examples={"area": [0.1, 0.2, 0.3]},
    implementation="hand-written (seeded patch placement)",
)
def occlusion(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Rectangular occluders (stickers, snow, a hand) covering ``area`` of the image.

    Hand-written (torchvision's erase() only paints a rectangle you place):
    the image is split into a grid of ``patches`` equal cells and each cell gets
    one rectangle of ``area`` of the cell, with the cell's aspect ratio, at a
    seeded random position inside it.  So patches never overlap and together
    cover ``area`` of the image to within 1% (_patch_size trades that for cell-shaped patches).
    """
    arr = to_array(img).copy()
    h, w = arr.shape[:2]
    area, patches, fill = p["area"], p["patches"], p["fill"]
    rows, cols = _grid_shape(patches, w, h)
    rnd = random_bytes(op_seed, b"occlusion", 8 * rows * cols)
    for r in range(rows):
        y0, y1 = r * h // rows, (r + 1) * h // rows
        for c in range(cols):
            x0, x1 = c * w // cols, (c + 1) * w // cols
            pw, ph = _patch_size(x1 - x0, y1 - y0, area)
            if pw <= 0 or ph <= 0:
                continue
            cw, ch = x1 - x0, y1 - y0
            i = 8 * (r * cols + c)
            px = x0 + int.from_bytes(rnd[i : i + 4], "big") % (cw - pw + 1)
            py = y0 + int.from_bytes(rnd[i + 4 : i + 8], "big") % (ch - ph + 1)
            arr[py : py + ph, px : px + pw] = fill
    return from_array(arr)
