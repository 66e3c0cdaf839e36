"""Cheap image properties, measured on the image as the model saw it: decoded, transformed, not preprocessed.

Inference measures them on the image it has just decoded (predict.prepare), so they cost no extra
decode; ``measure_files`` decodes for the images inference did not (their predictions were cached
or came from a predictions file). Slice discovery searches them and `where:` filters on them
(docs/slices.md defines each). Imports numpy and Pillow (a model run has them; torch is not needed).

Everything is measured on the luminance (ITU-R 601 luma, Pillow's "L"), and on a copy reduced to at
most ``MAX_SIDE`` pixels a side when the image is larger: a box reduction by a whole factor, so the
cost stays a small fraction of the decode whatever the image's size, and two images of one scene at
different resolutions measure alike. Width, height and aspect are the image's own.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
from typing import TYPE_CHECKING, NamedTuple, Sequence

from ..images import ImageError, cpu_count, decode_rgb, read_bytes
from ..prediction import ImageProperties
from ..transforms import Level, apply

if TYPE_CHECKING:
    from PIL import Image

#: The longest side properties are measured at; a larger image is box-reduced by a whole factor first.
MAX_SIDE = 256


def measure(image: "Image.Image") -> ImageProperties:
    """The properties of an RGB image (brightness and contrast on 0..1, sharpness on 0..1 luminance)."""
    import numpy as np

    width, height = image.size
    gray = image.convert("L")
    factor = math.ceil(max(width, height) / MAX_SIDE)
    if factor > 1:
        gray = gray.reduce(factor)
    # Mean and standard deviation from the histogram (made in C), with exactly ImageStat.Stat's
    # arithmetic (integer sums, then its float formula: the same values to the bit), but the sums
    # as two integer dot products instead of ImageStat's Python loops over 256 bins, which cost
    # half of measuring a small image.
    hist = np.asarray(gray.histogram(), dtype=np.int64)
    count = int(hist.sum())
    brightness = contrast = 0.0
    if count:
        levels = np.arange(256, dtype=np.int64)
        total, total2 = int(hist @ levels), int(hist @ (levels * levels))
        brightness = total / count / 255
        contrast = math.sqrt((total2 - total ** 2 / count) / count) / 255
    sharpness = 0.0
    if gray.width >= 3 and gray.height >= 3:
        # The 4-neighbour Laplacian on the interior: edges and fine texture give it large values,
        # blur removes them, so its variance is the usual focus (sharpness) measure. Integers until
        # the sums (exact), on the 0..255 scale, then scaled to luminance on 0..1.
        lum = np.asarray(gray, dtype=np.int16)
        lap = (lum[1:-1, :-2] + lum[1:-1, 2:] + lum[:-2, 1:-1] + lum[2:, 1:-1] - 4 * lum[1:-1, 1:-1]).ravel()
        lap = lap.astype(np.float64)
        mean = float(lap.mean())
        sharpness = max(0.0, float(np.dot(lap, lap)) / lap.size - mean * mean) / (255 * 255)
    # Rounded as a reader would write them, so that a value shown in a slice, pasted into a `where:`,
    # selects exactly the images that were measured.
    return ImageProperties(brightness=round(brightness, 4), contrast=round(contrast, 4),
                           sharpness=float(f"{sharpness:.4g}"), width=width, height=height,
                           aspect=round(width / height, 4) if height else 0.0)


class Source(NamedTuple):
    """An image to measure: its file, the bytes' SHA-256 its key was made from, and its synthetic transform."""

    file: str
    sha256: str
    transform: Level | None
    seed: int


def measure_file(source: Source) -> ImageProperties | None:
    """Decode (and transform) one image and measure it; None when it cannot be read or has changed."""
    try:
        data, digest = read_bytes(source.file)
        if source.sha256 and digest != source.sha256:
            return None   # the bytes its key names are gone: measuring these would store a stale value
        image = decode_rgb(data)
        if source.transform is not None:
            image = apply(image, source.transform, source.seed)
        return measure(image)
    except ImageError:
        return None
    except Exception:  # a transform failing on one image: inference reports it; the image has no properties
        return None


def measure_files(sources: Sequence[Source], threads: int | None = None) -> list[ImageProperties | None]:
    """``measure_file`` of each source, in order, decoded in ``threads`` threads (Pillow releases the GIL;
    by default as many as inference decodes in, up to four)."""
    threads = threads or min(4, cpu_count())
    if threads <= 1 or len(sources) < 2:
        return [measure_file(s) for s in sources]
    with cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="edgecases-measure") as pool:
        return list(pool.map(measure_file, sources, chunksize=16))

