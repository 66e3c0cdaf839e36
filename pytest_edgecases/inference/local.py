"""The in-process torch runner: builds the suite's model here and infers in batches (imports torch).

infer.py imports this module only once a model must be built.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from ..records import Prediction
from ..suite import Suite
from . import keys, models
from .device import resolve_device
from .predict import predict
from .preprocess import Preprocessor, resolved
from .runner import Job, ModelIdentity, Progress


class LocalRunner:
    """A Runner: the suite's model on --edgecases-device, in this process."""

    def __init__(self, suite: Suite, *, device: str, batch_size: int, precision: str,
                 model_hook: Callable[[Suite, Any], Any] | None = None):
        self.suite, self.requested, self.batch_size, self.precision = suite, device, batch_size, precision
        self.model_hook = model_hook
        self.device: Any = None
        self.model: Any = None
        self.pre: Preprocessor | None = None

    def identify(self) -> ModelIdentity:
        """Build the model (the conftest hook's, or the suite's model: section) and fingerprint it."""
        self.device = resolve_device(self.requested)
        built = models.build(self.suite, self.device, self.model_hook,
                             preprocess=lambda own: resolved(self.suite.preprocess, own))
        self.model = built.model
        self.pre = Preprocessor(self.suite.preprocess, self.suite, built.own)
        return ModelIdentity(fingerprint=built.fingerprint, device=str(self.device),
                             device_type=self.device.type, custom_source=keys.source_digest(self.pre.custom),
                             preprocess=self.pre.description)

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> Iterator[dict[str, Prediction]]:
        """Predictions batch by batch (identify first)."""
        assert self.pre is not None, "identify() builds the model"
        return predict(jobs, self.model, self.pre, self.device, len(self.suite.labels),
                       batch_size=self.batch_size, precision=self.precision, progress=progress)
