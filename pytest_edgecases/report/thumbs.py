"""Thumbnails for the report: small, re-encoded, metadata-free images inlined as data URIs.

A thumbnail is rebuilt from the decoded pixels and nothing else, so EXIF (GPS, camera
serials), ICC profiles and text chunks in a contributor's file never reach the report.
"""
from __future__ import annotations

import base64
import functools
import io
from pathlib import Path
from typing import Callable, Protocol

from PIL import Image

from ..images import ImageError, decode_rgb, load_rgb, read_bytes
from ..inference.keys import example_seed, thumbnail_key
from ..records import CategoryResult, ExampleResult
from ..transforms import Level, apply

Thumbnailer = Callable[[CategoryResult, ExampleResult], "str | None"]
#: The synthetic transform of a result's category (None if it has none); may raise where the suite cannot be read.
TransformOf = Callable[[CategoryResult], "Level | None"]


class BlobMemo(Protocol):
    """Where thumbnails are kept between runs (the prediction cache's blob memo); called from threads."""

    def get_blob(self, key: str) -> str | None:
        """The value memoised under key, or None."""

    def put_blob(self, key: str, value: str) -> None:
        """Memoise a value."""


def data_uri(image: Image.Image, max_side: int = 96) -> str:
    """Shrink to fit max_side, re-encode as JPEG (q80), or PNG where that is smaller; metadata stripped."""
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 8:
        raise ValueError(f"max_side must be a whole number of pixels >= 8, got {max_side!r}")
    im = image if image.mode == "RGB" else image.convert("RGB")
    if max(im.size) > max_side:
        im = im.copy()
        im.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    # A fresh image from raw pixels carries no info dict: no EXIF, ICC profile or text chunks.
    clean = Image.frombytes("RGB", im.size, im.tobytes())
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=80, optimize=True)   # optimized Huffman tables: about a quarter smaller
    best_mime, best = "image/jpeg", buf.getvalue()
    # Flat, few-colour images (synthetic data, renders, icons) are smaller and sharper as PNG;
    # photos never are, so PNG is not even tried for them (it costs more than the JPEG does).
    if clean.getcolors(256) is not None:
        buf = io.BytesIO()
        clean.save(buf, "PNG", optimize=True)
        if buf.tell() < len(best):
            best_mime, best = "image/png", buf.getvalue()
    return f"data:{best_mime};base64,{base64.b64encode(best).decode('ascii')}"


@functools.lru_cache(maxsize=8)
def _resolved(rootdir: Path) -> Path:
    """The root resolved once, not once per thumbnail (it is a few system calls each time)."""
    return rootdir.resolve()


def example_file(rootdir: Path, result: CategoryResult, example: ExampleResult) -> Path | None:
    """The example's image file (rootdir / suite folder / path), or None if it would leave rootdir."""
    root = _resolved(Path(rootdir))
    candidate = (root / Path(result.suite_file).parent / example.path).resolve()
    # Results can be read back from a JSON file anyone edited: never follow a path out of the project.
    return candidate if candidate.is_relative_to(root) else None


def file_thumbnailer(rootdir: Path, max_side: int = 96) -> Thumbnailer:
    """The default: read the example's file under rootdir and inline it; None when it cannot be read."""

    def thumbnail(result: CategoryResult, example: ExampleResult) -> str | None:
        path = example_file(rootdir, result, example)
        if path is None:
            return None
        try:
            return data_uri(load_rgb(path), max_side)
        except (ImageError, OSError, ValueError):
            return None

    return thumbnail


def session_thumbnailer(rootdir: Path, transform_of: TransformOf, max_side: int = 96,
                        memo: BlobMemo | None = None) -> Thumbnailer:
    """Like file_thumbnailer, but shows a synthetic category's image as the model saw it (transformed).

    ``transform_of`` gives a result's transform (the run re-reads its suites on the controller under
    xdist, where nothing was collected); the seed comes from inference's own example identity
    (keys.example_seed), so it is the same corruption. A synthetic example that cannot be transformed
    gets no thumbnail rather than the untransformed image, which would mislead. ``memo`` keeps
    thumbnails between runs, keyed by a digest of the bytes read now (keys.thumbnail_key).
    """
    rootdir = Path(rootdir)

    def thumbnail(result: CategoryResult, example: ExampleResult) -> str | None:
        path = example_file(rootdir, result, example)
        if path is None:
            return None
        try:
            data, sha = read_bytes(path)
            transform = None
            if result.level:
                transform = transform_of(result)
                if transform is None:
                    return None
            seed = example_seed(str(path), rootdir, transform)
            key = thumbnail_key(sha, transform, seed, max_side, Image.__version__)
            cached = memo.get_blob(key) if memo is not None else None
            if cached is not None:
                return cached
            image = decode_rgb(data)
            if transform is not None:
                image = apply(image, transform, seed)
            uri = data_uri(image, max_side)
            if memo is not None:
                memo.put_blob(key, uri)
            return uri
        except Exception:  # noqa: BLE001 - a preview is optional; the report must still be written
            return None

    return thumbnail
