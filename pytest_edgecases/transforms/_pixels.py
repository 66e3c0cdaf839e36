"""What the kernels share: pixels as arrays and back, seeded random bytes, torchvision's functional API.

numpy, Pillow and torchvision are imported inside each helper: importing the package stays cheap.
"""
from __future__ import annotations

import hashlib
from typing import Any


def random_bytes(op_seed: bytes, purpose: bytes, n: int) -> bytes:
    """n pseudo-random bytes: SHAKE-256 of (seed, purpose); standardised (FIPS 202),
    so identical on every platform and Python version."""
    return hashlib.shake_256(op_seed + b"/" + purpose).digest(n)


def to_array(img: Any) -> Any:
    import numpy as np

    return np.asarray(img, dtype=np.uint8)


def from_array(arr: Any) -> Any:
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), mode="RGB")


def tvf() -> Any:
    import torchvision.transforms.v2.functional as F

    return F
