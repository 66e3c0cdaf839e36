"""Sensor noise, hand-written in integer arithmetic from a seeded SHAKE-256 stream."""
from __future__ import annotations

import math
from typing import Any

from ._pixels import from_array, random_bytes, to_array
from ._registry import Param, register_kernel


@register_kernel(
    "gaussian_noise",
    simulates="sensor noise: low light with high ISO, cheap cameras",
    params=(
        Param("sigma", "float", "fraction of the full 0-255 range",
              "standard deviation of the additive noise; 0.05 = about 13 grey levels", None, 0, 1),
    ),
    primary="sigma",
    examples={"sigma": [0.05, 0.1, 0.2]},
    implementation="hand-written (seeded SHAKE-256 stream, integer arithmetic)",
)
def gaussian_noise(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Additive, per-channel sensor noise.

    Hand-written: torchvision.transforms.v2.functional.gaussian_noise draws from
    torch's global RNG (no generator argument), and torch's vectorised normal
    sampler gives other bytes on other CPU instruction sets (measured: seeded
    torch.randn differs under ATEN_CPU_CAPABILITY=default), so it is neither
    seedable per image nor bit-stable.  Here each sample is a sum of 12 uniform bytes from SHAKE-256
    (Irwin-Hall: distribution function within 0.25% of a Gaussian, none beyond 6 sigma), scaled in
    24-bit fixed point -- integer arithmetic only.
    """
    import numpy as np

    sigma = p["sigma"]
    arr = to_array(img)
    if sigma == 0:
        return img.copy()
    n = arr.size
    raw = np.frombuffer(random_bytes(op_seed, b"gaussian_noise", 12 * n), dtype=np.uint8)
    # sample i sums bytes i, n + i, 2n + i, ...: 12 vectorised adds
    z = raw.reshape(12, n).sum(axis=0, dtype=np.int64) - 1530  # mean 0, variance 65535
    scale = round(sigma * 255.0 * (1 << 24) / math.sqrt(65535.0))  # grey levels per unit of z, 2**-24
    out = (arr.reshape(-1).astype(np.int64) << 24) + z * scale + (1 << 23)
    out = np.clip(out >> 24, 0, 255).astype(np.uint8)
    return from_array(out.reshape(arr.shape))
