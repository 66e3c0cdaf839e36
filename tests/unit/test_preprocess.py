"""inference/preprocess.py: resizing and cropping with Pillow gives torchvision's pixels."""
from __future__ import annotations

import pytest
import torch

from pytest_edgecases.inference import preprocess
from pytest_edgecases.suite import Preprocess


@pytest.mark.parametrize("size", [(40, 40), (37, 23), (23, 37), (8, 8), (5, 9)])
@pytest.mark.parametrize("spec", [
    Preprocess(resize=(16,)), Preprocess(resize=(12, 20)), Preprocess(resize=(37, 23)),
    Preprocess(center_crop=(10, 10)), Preprocess(center_crop=(9, 30)), Preprocess(center_crop=(41, 50)),
    Preprocess(resize=(19,), center_crop=(17, 17)), Preprocess(resize=(8, 8), center_crop=(12, 6)), Preprocess(),
])
def test_preprocessing_without_torchvision_is_torchvisions(size, spec, tmp_path):
    """The engine resizes and crops with Pillow (importing torchvision costs seconds): the same pixels."""
    import numpy as np
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    rng = np.random.default_rng(sum(size))
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    expected = image
    if spec.resize is not None:
        expected = TF.resize(expected, list(spec.resize), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    if spec.center_crop is not None:
        expected = TF.center_crop(expected, list(spec.center_crop))
    suite = type("S", (), {"dir": tmp_path, "display": "s.yaml"})()
    got = preprocess.Preprocessor(spec, suite)(image)   # type: ignore[arg-type]
    assert torch.equal(got, TF.pil_to_tensor(expected))
    assert got.dtype == torch.uint8 and got.shape[0] == 3
