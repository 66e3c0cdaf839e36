"""Light and atmosphere: brightness, contrast, fog.

brightness and contrast are torchvision's functional ops called on PIL images, so they run Pillow's
integer / fixed-point kernels (no CPU-specific float paths); fog is hand-written in integer arithmetic.
"""
from __future__ import annotations

import math
from typing import Any

from ._pixels import from_array, random_bytes, to_array, tvf
from ._registry import Param, register_kernel, rgb_param


@register_kernel(
    "brightness",
    simulates="low light / underexposure (values below 1), overexposure (above 1)",
    params=(
        Param("brightness", "float", "fraction of the original brightness",
              "every pixel value is multiplied by this; 0.3 = 30% of the light", None, 0, 10),
    ),
    primary="brightness",
    examples={"brightness": [0.6, 0.3, 0.1]},
    implementation="torchvision.transforms.v2.functional.adjust_brightness (Pillow kernel)",
)
def brightness(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    return tvf().adjust_brightness(img, brightness_factor=p["brightness"])


@register_kernel(
    "contrast",
    simulates="low contrast: haze, glare, a washed-out or flat-lit scene",
    params=(
        Param("contrast", "float", "fraction of the original contrast",
              "pixels are blended toward the image's mean grey; 0.3 keeps 30% of the contrast", None, 0, 10),
    ),
    primary="contrast",
    examples={"contrast": [0.5, 0.3, 0.1]},
    implementation="torchvision.transforms.v2.functional.adjust_contrast (Pillow kernel)",
)
def contrast(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    return tvf().adjust_contrast(img, contrast_factor=p["contrast"])


def _upsample_rows(grid: Any, n: int) -> Any:
    """Integer linear interpolation of grid's rows (axis 0) to n rows, scaled by 256."""
    import numpy as np

    g = grid.shape[0]
    i = np.arange(n, dtype=np.int64)
    pos = (i * (g - 1) * 256) // max(n - 1, 1)
    i0 = pos >> 8
    frac = (pos & 255)[:, None]
    i1 = np.minimum(i0 + 1, g - 1)
    return grid[i0] * (256 - frac) + grid[i1] * frac


@register_kernel(
    "fog",
    simulates="fog, mist, haze: brighter, lower contrast, patchy",
    params=(
        Param("density", "float", "share of the view hidden by fog, on average",
              "mean share of the fog colour mixed into each pixel", None, 0, 1),
        Param("patchiness", "float", "0 = uniform haze, 1 = very patchy",
              "how much the fog density varies across the image", 0.5, 0, 1),
        rgb_param("color", (220, 220, 220), "colour of the fog"),
    ),
    primary="density",
    examples={"density": [0.3, 0.5, 0.7]},
    implementation="hand-written (fractal value noise, integer arithmetic)",
)
def fog(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Fog / haze: blend toward a fog colour with a patchy, fractal density.

    Hand-written (ImageNet-C's fog uses a plasma fractal; no maintained library
    provides one): value noise at 5 octaves (2 to 17 grid points across the
    image), bilinearly upsampled and normalised in integer arithmetic.  The
    local fog share is density * (1 + patchiness * (2n - 1)) for n in [0, 1],
    so its mean is about ``density``.
    """
    import numpy as np

    arr = to_array(img)
    h, w = arr.shape[:2]
    density, patchiness, color = p["density"], p["patchiness"], p["color"]
    field_ = np.zeros((h, w), dtype=np.int64)
    for octave in range(5):
        g = (1 << (octave + 1)) + 1
        raw = random_bytes(op_seed, b"fog%d" % octave, g * g)
        grid = np.frombuffer(raw, dtype=np.uint8).astype(np.int64).reshape(g, g)
        up = _upsample_rows(_upsample_rows(grid, h).T, w).T  # (h, w), scaled by 256*256
        field_ += up << (4 - octave)  # amplitude halves per octave
    lo, hi = int(field_.min()), int(field_.max())
    one = 4096
    noise = (field_ - lo) * one // (hi - lo) if hi > lo else np.full((h, w), one // 2, dtype=np.int64)
    d = math.floor(density * one + 0.5)
    pt = math.floor(patchiness * one + 0.5)
    share = d * (one + pt * (2 * noise - one) // one) // one
    share = np.clip(share, 0, one)[:, :, None]
    col = np.array(color, dtype=np.int64)[None, None, :]
    out = (arr.astype(np.int64) * (one - share) + col * share + one // 2) >> 12
    return from_array(np.clip(out, 0, 255))
