"""The road-sign classifier: a small CNN for 64x64 RGB inputs.

The suite YAML loads it with ``factory: signs.model:build`` and then the trained
weights from ``models/signs-v*.safetensors``; ``build`` itself returns the
untrained architecture only.

Expected input: a float tensor of shape (N, 3, 64, 64), pixel values scaled to
[0, 1] and normalised with mean 0.5 and std 0.25 per channel. Output: raw
logits of shape (N, 5), in the order of :data:`signs.LABELS`.
"""

from __future__ import annotations

import torch
from torch import nn

from signs import LABELS

MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
STD: tuple[float, float, float] = (0.25, 0.25, 0.25)
INPUT_SIZE: int = 64


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv, batch norm, ReLU, then halve the resolution."""
    # No conv bias: the batch norm that follows has its own shift.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SignNet(nn.Module):
    """Four conv blocks (64 -> 4 px), global average pooling, one linear layer."""

    def __init__(self, num_classes: int = len(LABELS), width: int = 16, dropout: float = 0.1) -> None:
        """Build the layers; ``width`` is the channel count of the first block."""
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if width < 1:
            raise ValueError(f"width must be a positive channel count, got {width}")
        self.features = nn.Sequential(
            _block(3, width),
            _block(width, width * 2),
            _block(width * 2, width * 3),
            _block(width * 3, width * 4),
        )
        # Global average pooling makes the head blind to *where* things are,
        # which suits signs anywhere in frame -- and also lets a background
        # texture that fills the frame (snow) vote as loudly as the sign does.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of normalised 64x64 images."""
        return self.head(self.pool(self.features(x)))


def build() -> nn.Module:
    """The untrained SignNet with the showcase's five classes (weights load separately)."""
    return SignNet(num_classes=len(LABELS))
