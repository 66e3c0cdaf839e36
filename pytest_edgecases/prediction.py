"""What a model says about one image (its best labels) and what was measured of the image itself.

Inference, the prediction cache and predictions files make and read these; judging (verdicts.py)
turns them into records.ExampleResult. Kept apart from records.py, whose values are judged results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: How many of a prediction's best labels are kept (inference and predictions files alike).
TOP_K = 5

#: Cheap properties of an image as the model saw it (decoded, transformed, not yet preprocessed), in the
#: order docs/slices.md lists them; slice discovery searches them and `where:` filters on them.
PROPERTIES = ("brightness", "contrast", "sharpness", "width", "height", "aspect")


class ImageProperties(NamedTuple):
    """An image's cheap properties (inference/properties.py measures them; docs/slices.md defines them).

    A named tuple, not a dataclass: a warm rerun of a large suite makes one per image from the store,
    and a frozen dataclass costs several times as much to make (20,000 images: 40 ms against 8).
    """

    brightness: float   # mean luminance, 0 (black) to 1 (white)
    contrast: float     # standard deviation of luminance, 0 to 0.5
    sharpness: float    # variance of the Laplacian of luminance (0..1 scale): blur lowers it
    width: int
    height: int
    aspect: float       # width / height

    def to_json(self) -> dict[str, float]:
        """Column name → value (the results file's and slice discovery's form)."""
        return dict(zip(PROPERTIES, self, strict=True))


# slots: one of these per image stays alive for the whole run (no per-instance __dict__).
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Prediction:
    """The model's answer for one (image, transform): top-k (label index, probability), best first.

    ``properties`` travel beside the answer from the decode that made it to the run (infer.py keeps
    them in the store under the image's own key): they are not part of a cached prediction, which
    is keyed by the model, nor of its equality.
    """

    top: tuple[tuple[int, float], ...] = ()
    error: str | None = None
    properties: ImageProperties | None = field(default=None, compare=False)

    @property
    def index(self) -> int | None:
        """Predicted label index, or None when the example could not be scored."""
        return self.top[0][0] if self.top and self.error is None else None

    @property
    def confidence(self) -> float | None:
        """Softmax probability of the predicted label."""
        return self.top[0][1] if self.top and self.error is None else None

    @property
    def margin(self) -> float | None:
        """Top-1 minus top-2 probability; tiny margins mean a flip could be numeric noise."""
        if self.error is not None or not self.top:
            return None
        return self.top[0][1] - (self.top[1][1] if len(self.top) > 1 else 0.0)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (for the cache)."""
        return {"top": [[i, p] for i, p in self.top], "error": self.error}

    @classmethod
    def from_json(cls, data: Any) -> "Prediction":
        """Inverse of to_json; raises ValueError on anything malformed (callers recompute then)."""
        if not isinstance(data, dict) or not isinstance(data.get("top"), list):
            raise ValueError("malformed prediction")
        top = []
        for pair in data["top"]:
            index, prob = pair
            if not isinstance(index, int) or not isinstance(prob, float) or not math.isfinite(prob):
                raise ValueError("malformed prediction entry")
            top.append((index, prob))
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            raise ValueError("malformed prediction error")
        if not top and error is None:
            raise ValueError("empty prediction")
        return cls(top=tuple(top), error=error)
