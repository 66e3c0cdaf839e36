"""Thumbnails for the report: small, re-encoded, metadata-free images inlined as data URIs.

A thumbnail is rebuilt from the decoded pixels and nothing else, so EXIF (GPS, camera
serials), ICC profiles and text chunks in a contributor's file never reach the report.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PIL import Image

if TYPE_CHECKING:
    from ..records import CategoryResult, ExampleResult

Thumbnailer = Callable[["CategoryResult", "ExampleResult"], "str | None"]


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


def example_file(rootdir: Path, result: "CategoryResult", example: "ExampleResult") -> Path | None:
    """The example's image file (rootdir / suite folder / path), or None if it would leave rootdir."""
    root = Path(rootdir).resolve()
    candidate = (root / Path(result.suite_file).parent / example.path).resolve()
    # Results can be read back from a JSON file anyone edited: never follow a path out of the project.
    return candidate if candidate.is_relative_to(root) else None


def file_thumbnailer(rootdir: Path, max_side: int = 96) -> Thumbnailer:
    """The default: read the example's file under rootdir and inline it; None when it cannot be read."""
    from ..images import ImageError, load_rgb

    def thumbnail(result: "CategoryResult", example: "ExampleResult") -> str | None:
        path = example_file(rootdir, result, example)
        if path is None:
            return None
        try:
            return data_uri(load_rgb(path), max_side)
        except (ImageError, OSError, ValueError):
            return None

    return thumbnail


#: Part of a memoised thumbnail's key: bump it when data_uri's output changes.
THUMBNAIL_VERSION = "1"


def session_thumbnailer(edge: Any, max_side: int = 96, memo: Any = None) -> Thumbnailer:
    """Like file_thumbnailer, but shows a synthetic category's image as the model saw it (transformed).

    ``edge`` is the run's EdgecasesSession; suites are re-read on the controller under xdist,
    where nothing was collected. A synthetic example that cannot be transformed gets no thumbnail
    rather than the untransformed image, which would mislead. ``memo`` (get_blob/put_blob, the
    prediction cache) keeps thumbnails between runs, keyed by a digest of the bytes read now.
    """
    from ..images import decode_rgb, read_bytes

    rootdir = Path(edge.rootdir)

    def thumbnail(result: "CategoryResult", example: "ExampleResult") -> str | None:
        path = example_file(rootdir, result, example)
        if path is None:
            return None
        try:
            data, sha = read_bytes(path)
            transform, seed = None, 0
            if result.level:
                from ..transforms import seed_for

                category = edge.load(rootdir / result.suite_file).suite.category(result.category)
                if category.transform is None:
                    return None
                # Same identity as session.py uses for inference, so it is the same corruption.
                transform = category.transform
                seed = seed_for(path.relative_to(rootdir).as_posix(), transform)
            key = (f"thumbnail:{THUMBNAIL_VERSION}:{Image.__version__}:{max_side}:{sha}:"
                   f"{transform.key if transform is not None else ''}:{seed}")
            cached = memo.get_blob(key) if memo is not None else None
            if cached is not None:
                return cached
            image = decode_rgb(data)
            if transform is not None:
                from ..transforms import apply

                image = apply(image, transform, seed)
            uri = data_uri(image, max_side)
            if memo is not None:
                memo.put_blob(key, uri)
            return uri
        except Exception:  # noqa: BLE001 - a preview is optional; the report must still be written
            return None

    return thumbnail
