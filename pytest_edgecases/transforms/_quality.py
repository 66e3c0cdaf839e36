"""Image quality: JPEG compression and lost resolution, through torchvision's Pillow kernels."""
from __future__ import annotations

import math
from typing import Any

from ._pixels import tvf
from ._registry import Param, register_kernel


@register_kernel(
    "jpeg",
    simulates="compression artefacts: messaging apps, web images, low-bandwidth cameras",
    params=(
        Param("quality", "int", "JPEG quality, 100 = best", "JPEG encoder quality setting", None, 1, 100),
    ),
    primary="quality",
    examples={"quality": [50, 20, 5]},
    implementation="torchvision.transforms.v2.functional.jpeg (Pillow / libjpeg-turbo)",
)
def jpeg(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    # Pillow's libjpeg-turbo with the default integer ("islow") DCT, whose SIMD
    # variants are bit-exact with its C code.
    return tvf().jpeg(img, quality=int(p["quality"]))


_UPSAMPLE = {"bilinear": "BILINEAR", "nearest": "NEAREST", "bicubic": "BICUBIC"}


@register_kernel(
    "downscale",
    simulates="a small or distant object: few pixels on target, scaled back up",
    params=(
        Param("scale", "float", "fraction of the original width and height",
              "the image is shrunk to this fraction of its size, then resized back", None, 0, 1,
              low_open=True),
        Param("upsample", "choice", "resampling used to scale back up",
              "bilinear looks soft, nearest blocky (pixelated)", "bilinear",
              choices=("bilinear", "nearest", "bicubic")),
    ),
    primary="scale",
    examples={"scale": [0.5, 0.25, 0.125]},
    implementation="torchvision.transforms.v2.functional.resize, twice (Pillow kernel, antialiased)",
)
def downscale(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = tvf()
    w, h = img.size
    scale = p["scale"]
    small = (max(1, math.floor(h * scale + 0.5)), max(1, math.floor(w * scale + 0.5)))
    if small == (h, w):
        return img.copy()
    # Pillow resize: antialiased when shrinking, fixed-point coefficients for 8-bit images.
    out = F.resize(img, list(small), interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    mode = getattr(F.InterpolationMode, _UPSAMPLE[p["upsample"]])
    return F.resize(out, [h, w], interpolation=mode, antialias=True)
