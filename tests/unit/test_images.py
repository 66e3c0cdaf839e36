"""Decoding contributed images (images.py): allowlisted formats, bombs refused, modes normalised."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pytest_edgecases.images import ImageError, decode_rgb


def encoded(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "CMYK"])
def test_every_mode_becomes_8_bit_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = Image.new("RGB", (5, 3), (200, 100, 50)).convert(mode)
    out = decode_rgb(encoded(image, fmt))
    assert (out.mode, out.size) == ("RGB", (5, 3))
    assert out.tobytes() == image.convert("RGB").tobytes() or fmt == "JPEG"


def test_16_bit_greyscale_is_scaled_not_clipped():
    pixels = np.array([[0, 32768, 65535]], dtype=np.uint16)
    out = decode_rgb(encoded(Image.fromarray(pixels)))
    assert np.asarray(out)[0, :, 0].tolist() == [0, 127, 255]


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (6, 2), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6   # rotate 90° clockwise to display
    assert decode_rgb(encoded(image, "JPEG", exif=exif)).size == (2, 6)


@pytest.mark.parametrize("data, message", [
    (b"", "empty file (0 bytes)"),
    (b"garbage, not an image", "not an image in an allowed format (PNG, JPEG, BMP, GIF, WEBP, TIFF)"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", "not an image in an allowed format"),
    (encoded(Image.new("RGB", (64, 64)))[:60], "corrupt or truncated image"),
])
def test_unusable_files_say_why(data, message):
    with pytest.raises(ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_rgb(data)


def test_images_over_the_pixel_limit_are_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    data = encoded(Image.new("RGB", (12, 12)))   # 144 pixels: Pillow itself would only warn
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(
            ImageError, match="refused as a decompression bomb: 12x12 = 144 pixels, over the limit of 100"):
        decode_rgb(data)
    with pytest.raises(ImageError, match="refused as a decompression bomb"):
        decode_rgb(encoded(Image.new("RGB", (20, 20))))   # over twice the limit: Pillow's own error
