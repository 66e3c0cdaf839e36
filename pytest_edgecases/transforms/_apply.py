"""Running a level on an image, with a seed that depends only on the example and the level."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ._grammar import Level, TransformError, op_listing
from ._registry import OPS

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as _PILImage


def seed_for(identity: str, level: Level) -> int:
    """A stable 64-bit seed from an example's identity (e.g. its path relative to
    the project root, with ``/`` separators) and ``level.key``.

    SHA-256 based, so it is the same in every process and on every machine
    (never Python's randomised ``hash()``).
    """
    if not isinstance(identity, str):
        raise TypeError(f"identity must be a str, got {type(identity).__name__}")
    digest = hashlib.sha256(identity.encode("utf-8") + b"\x00" + level.key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def apply(image: "_PILImage.Image", level: Level, seed: int) -> "_PILImage.Image":
    """Apply ``level``'s ops, in order, to an RGB image; returns a new RGB image of the same size.

    ``seed`` (from :func:`seed_for`) drives every random choice; the result
    depends only on the pixels, the level and the seed.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
    if not isinstance(level, Level):
        raise TypeError(f"level must be a Level (from expand()), got {type(level).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int from 0 to 2**64 - 1, got {seed!r}")
    img = image.convert("RGB") if image.mode != "RGB" else image.copy()
    size = img.size
    for index, op in enumerate(level.ops):
        spec = OPS.get(op.name)
        if spec is None:
            raise TransformError(f"unknown transform {op.name!r} ({op_listing()})", (index,))
        # Each op of a composition gets its own random stream.
        op_seed = hashlib.sha256(b"%d:%d:%s" % (seed, index, op.name.encode("ascii"))).digest()
        img = spec.func(img, op.kwargs, op_seed)
        if img.mode != "RGB":
            img = img.convert("RGB")
        assert img.size == size, (op.name, img.size, size)
    return img
