"""Reading images that contributors commit: allowlisted formats, bomb guard on, modes normalised.

Behaviour matches torchvision's default ImageFolder loader (``Image.open(f).convert("RGB")``),
so a plain PyTorch loop over the same files sees the same pixels, with three deliberate
additions: formats outside the allowlist are never decoded (EPS would run Ghostscript),
16-bit greyscale is scaled rather than clipped, and EXIF orientation is applied, as a
photo viewer (and a reviewer looking at the image) would show it.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

#: Pillow plugins we let decode untrusted files. Anything else (EPS, PSD, …) is refused unopened.
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")


class ImageError(Exception):
    """An image that cannot be used; the message says why, in words."""


def read_bytes(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """The file's bytes and their SHA-256 (what caches and reviews are keyed on)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror or exc}") from None
    return data, hashlib.sha256(data).hexdigest()


def decode_rgb(data: bytes) -> Image.Image:
    """Decode image bytes to an 8-bit RGB PIL image, or raise ImageError saying what is wrong."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as im:
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too. Checked here,
            # not by turning the warning into an error: warning filters are process-wide and images
            # are decoded in threads, so one thread leaving catch_warnings() unset another's filter.
            limit = Image.MAX_IMAGE_PIXELS
            if limit and im.width * im.height > limit:
                raise Image.DecompressionBombError(f"{im.width}x{im.height} = {im.width * im.height} pixels, "
                                                   f"over the limit of {limit}")
            im.load()
            im = ImageOps.exif_transpose(im) or im
            return _to_rgb(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError(f"not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or truncated image: {exc}") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # convert("RGB") would clip 16-bit values at 255 and show a white image; scale instead.
        import numpy as np

        arr = np.asarray(im, dtype=np.int64)
        # I;16 is 16-bit by definition: a dark 16-bit photo (every value <= 255) must stay dark, as its
        # 16-bit RGB sibling does in Pillow. Only 32-bit "I", whose range is unknown, is guessed from the data.
        peak = 65535 if im.mode != "I" or arr.max(initial=0) > 255 else 255
        arr = (np.clip(arr, 0, peak) * 255 // peak).astype(np.uint8)
        im = Image.fromarray(arr, mode="L")
    elif im.mode == "F":
        import numpy as np

        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        im = Image.fromarray((np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8), mode="L")
    return im if im.mode == "RGB" else im.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """Read and decode a file (used for thumbnails and docs)."""
    return decode_rgb(read_bytes(path)[0])


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, as a container or taskset limits it): what
    every pool that decodes images is sized by (inference, measuring, the report's thumbnails)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
