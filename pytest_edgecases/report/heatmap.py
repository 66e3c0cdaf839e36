"""Saliency heat maps for the report: the results file's 8×8 grid, coloured, as a tiny PNG data URI.

Drawn from the very numbers the results file holds (records.Saliency.grid), not from a finer map:
what a reader sees is what a tool reads. An 8×8 PNG is about 150 bytes, so every shown example's two
maps cost less than one thumbnail (the report's size budget, benchmarks/report_size.py); the page
stretches it over the image, and the browser's smoothing blurs the cells' edges.
"""
from __future__ import annotations

import base64
import functools
import io
from typing import Sequence

from PIL import Image

from ..records import Saliency

#: The colour scale, dark (no evidence) to bright (the map's peak): black, purple, red, orange, pale yellow.
STOPS = ((0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164))


def colour(value: float) -> tuple[int, int, int]:
    """The scale's colour at ``value`` in [0, 1] (clamped), interpolated between STOPS."""
    v = min(1.0, max(0.0, value)) * (len(STOPS) - 1)
    low = min(int(v), len(STOPS) - 2)
    t = v - low
    a, b = STOPS[low], STOPS[low + 1]
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


#: The scale in 256 steps, looked up rather than worked out per pixel. (An RGB PNG: a palette PNG carries
#: its 768-byte palette, four times an 8×8 map's own size.)
SCALE = [colour(step / 255) for step in range(256)]


def _png(levels: Sequence[int], size: tuple[int, int]) -> str:
    """Levels 0-255 of the scale as an RGB PNG data URI."""
    image = Image.new("RGB", size)
    image.putdata([SCALE[level] for level in levels])
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def heat_uri(saliency: Saliency | None) -> str | None:
    """The map as a PNG data URI, scaled so its peak is brightest; None without a usable grid."""
    if saliency is None or not saliency.grid or any(len(row) != len(saliency.grid[0]) for row in saliency.grid):
        return None
    return _heat(tuple(tuple(float(v) for v in row) for row in saliency.grid))


@functools.lru_cache(maxsize=4096)
def _heat(grid: tuple[tuple[float, ...], ...]) -> str | None:
    """heat_uri's work, once per grid: the gallery and review mode show the same examples' maps."""
    values = [v for row in grid for v in row]
    peak = max(values)
    if peak <= 0 or peak != peak:   # no evidence, or NaN: nothing to show
        return None
    return _png([round(255 * min(1.0, max(0.0, v / peak))) for v in values], (len(grid[0]), len(grid)))


def legend_uri(width: int = 64) -> str:
    """The colour scale as a strip, for the legend."""
    return _png([round(255 * x / (width - 1)) for x in range(width)], (width, 1))
