"""Declared preprocessing, as torchvision does it for PIL images, with Pillow itself (imports torch).

Resizing and cropping follow torchvision's rules with Pillow, which saves importing torchvision
(as long again as importing torch) for every model that is not a torchvision architecture.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from ..images import ImageError
from ..suite import Preprocess, Suite
from .models import import_callable
from .sources import OwnPreprocess


class Preprocessor:
    """Declared preprocessing (resize → crop → uint8 tensor; normalisation batched on the device), or the
    model's own (``own``: timm's or Hugging Face's), which applies unless the suite declares preprocess:."""

    def __init__(self, spec: Preprocess, suite: Suite, own: OwnPreprocess | None = None):
        self.spec = spec
        self.custom = import_callable(spec.callable, suite.dir, "preprocess", suite.display, None) \
            if spec.callable else None
        self.own = own if own is not None and not spec.declared else None
        self.description = resolved(spec, own)

    def __call__(self, image: Any) -> torch.Tensor:
        func = self.custom or (self.own.transform if self.own is not None else None)
        if func is not None:
            out = func(image)
            if not isinstance(out, torch.Tensor) or out.ndim != 3:
                name = self.spec.callable or "of the model"
                raise ImageError(f"preprocess {name} must return a CxHxW tensor, got "
                                 f"{type(out).__name__}{tuple(getattr(out, 'shape', ()))}")
            return out
        if self.spec.resize is not None:
            image = resize(image, self.spec.resize)
        if self.spec.center_crop is not None:
            image = center_crop(image, self.spec.center_crop)
        return pil_to_tensor(image)

    def finish(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        """uint8 batch → float in [0, 1] → normalised, on the device (cheaper than per image)."""
        if device.type == "cuda":
            # From page-locked memory the copy is asynchronous: the CPU goes on to the next batch.
            batch = batch.pin_memory()
        batch = batch.to(device, non_blocking=True)
        if self.custom is not None or self.own is not None:
            return batch.float() if not batch.is_floating_point() else batch
        batch = batch.float().div_(255.0)
        if self.spec.mean is not None:
            mean = torch.tensor(self.spec.mean, device=device).view(1, -1, 1, 1)
            std = torch.tensor(self.spec.std, device=device).view(1, -1, 1, 1)
            batch = batch.sub_(mean).div_(std)
        return batch


def resolved(spec: Preprocess, own: OwnPreprocess | None) -> str:
    """The preprocessing a run applies, in words (run info, report, a saved model's fingerprint)."""
    if own is None:
        return spec.describe()
    if spec.declared:
        return f"the suite's preprocess: {spec.describe()} (overrides the model's own: {own.description})"
    return f"the model's own: {own.description}"


def resize(image: Image.Image, size: Sequence[int]) -> Image.Image:
    """torchvision.transforms.v2.functional.resize of a PIL image, bilinear (Pillow always antialiases).

    ``(n,)`` scales the shorter side to n, the longer in proportion (rounded down); ``(h, w)`` is exact.
    """
    w, h = image.size
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_h, new_w = size
    if (new_w, new_h) == (w, h):
        return image
    return image.resize((new_w, new_h), resample=Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: Sequence[int]) -> Image.Image:
    """torchvision's center_crop of a PIL image: pads with black where the crop is larger than the image."""
    crop_h, crop_w = size
    w, h = image.size
    if crop_h > h or crop_w > w:
        border = ((crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                  (crop_w - w + 1) // 2 if crop_w > w else 0, (crop_h - h + 1) // 2 if crop_h > h else 0)
        image = ImageOps.expand(image, border=border, fill=0)
        w, h = image.size
        if (crop_w, crop_h) == (w, h):
            return image
    top, left = int(round((h - crop_h) / 2.0)), int(round((w - crop_w) / 2.0))
    return image.crop((left, top, left + crop_w, top + crop_h))


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """CxHxW uint8 tensor of a PIL image (torchvision's pil_to_tensor)."""
    array = np.array(image)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1)
