"""Blur: out of focus (gaussian_blur, torchvision in float64) and motion (a hand-written streak kernel)."""
from __future__ import annotations

import math
from typing import Any

from ._pixels import from_array, to_array, tvf
from ._registry import Param, register_kernel


@register_kernel(
    "gaussian_blur",
    simulates="out of focus, dirty lens",
    params=(
        Param("sigma", "float", "pixels of the input image",
              "standard deviation of the Gaussian blur kernel", None, 0, 50, low_open=True),
    ),
    primary="sigma",
    examples={"sigma": [1, 2, 4]},
    implementation="torchvision.transforms.v2.functional.gaussian_blur (float64, kernel +-3 sigma)",
)
def gaussian_blur(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """torchvision's gaussian_blur, run in float64 as two 1-D passes.

    Why float64: torchvision's own uint8 path convolves in float32 through
    oneDNN/ATen kernels whose summation order depends on the CPU's vector
    instructions and thread count; we measured different output bytes with
    ATEN_CPU_CAPABILITY=default or ONEDNN_MAX_CPU_ISA=SSE41.  In float64 those
    order differences are below 1e-12 of a grey level, and the result is rounded
    to uint8: it can only change if the exact blurred value lies within 1e-12 of
    a rounding boundary (x.5), which for Gaussian weights (transcendental
    numbers) practically never happens (~1e-12 per pixel).  The test suite
    checks identical bytes under those CPU settings.
    """
    import numpy as np
    import torch

    F = tvf()
    sigma = p["sigma"]
    arr = to_array(img)
    h, w = arr.shape[:2]
    # +-3 sigma covers 99.7% of the kernel; reflect padding needs radius < size.
    radius = math.ceil(3.0 * sigma)
    rx, ry = min(radius, w - 1), min(radius, h - 1)
    # channels as a batch of 3 one-channel images: a plain (not grouped) convolution, faster on CPU
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(1).to(torch.float64)
    if rx > 0:
        t = F.gaussian_blur(t, kernel_size=[2 * rx + 1, 1], sigma=[sigma, sigma])
    if ry > 0:
        t = F.gaussian_blur(t, kernel_size=[1, 2 * ry + 1], sigma=[sigma, sigma])
    out = t.squeeze(1).round().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return from_array(np.asarray(out))


# --- hand-written ops --------------------------------------------------------------
# No maintained library offers these with a seed we control and integer-exact
# arithmetic, so they are written here in numpy integer math.


def _motion_kernel(length: float, angle: float) -> list[tuple[int, int, int]]:
    """Integer taps (dy, dx, weight) of a straight streak ``length`` pixels long.

    Hand-written (no maintained library offers a motion-blur kernel): the
    segment is sampled at 8 points per pixel, each sample split bilinearly over
    its 4 nearest pixels, and the weights quantised to integers (2**16 total).
    Float rounding differences below 2**-16 cannot change the integer taps
    except at an exact tie.
    """
    th = math.radians(angle)
    dx, dy = math.cos(th), -math.sin(th)  # image y points down; angles counter-clockwise
    n = max(1, math.ceil(8 * length))
    acc: dict[tuple[int, int], float] = {}
    for i in range(n):
        s = ((i + 0.5) / n - 0.5) * length
        x, y = s * dx, s * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for oy, wy in ((0, 1.0 - fy), (1, fy)):
            for ox, wx in ((0, 1.0 - fx), (1, fx)):
                if wx * wy > 0:
                    key = (y0 + oy, x0 + ox)
                    acc[key] = acc.get(key, 0.0) + wx * wy
    total = sum(acc.values())
    taps = [(ky, kx, math.floor(v / total * 65536 + 0.5)) for (ky, kx), v in sorted(acc.items())]
    return [t for t in taps if t[2] > 0]


@register_kernel(
    "motion_blur",
    simulates="camera shake, a moving object or vehicle, long exposure",
    params=(
        Param("length", "float", "pixels of the input image",
              "length of the streak a point is smeared into", None, 0, 100, low_open=True),
        Param("angle", "float", "degrees, counter-clockwise, 0 = horizontal",
              "direction of the motion", 0.0, -180, 180),
    ),
    primary="length",
    examples={"length": [3, 6, 12]},
    implementation="hand-written (streak kernel, integer convolution)",
)
def motion_blur(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Camera shake / a moving object: convolution with a streak (integer arithmetic)."""
    import numpy as np

    arr = to_array(img)
    h, w = arr.shape[:2]
    taps = _motion_kernel(p["length"], p["angle"])
    r = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    padded = np.pad(arr.astype(np.int64), ((r, r), (r, r), (0, 0)), mode="edge")
    acc = np.zeros(arr.shape, dtype=np.int64)
    total = 0
    for dy, dx, wt in taps:
        acc += wt * padded[r + dy : r + dy + h, r + dx : r + dx + w]
        total += wt
    return from_array((acc + total // 2) // total)


# ------------------------------------------------------------------- the registry
