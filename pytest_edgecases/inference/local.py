"""The in-process torch runner: builds the suite's model here and infers in batches (imports torch).

infer.py imports this module only once a model must be built. ``ready`` (build, preprocessing,
identity) is shared with the Ray engine's driver and actors (ray_engine.py), so both engines key
and compute predictions alike.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

import torch

from ..prediction import Prediction
from ..suite import Suite
from . import keys, models
from .device import resolve_device
from .predict import predict
from .preprocess import Preprocessor, resolved
from .runner import Job, ModelIdentity, Progress


class Ready(NamedTuple):
    """A suite's model built on a device, its preprocessing, and what it is."""

    model: torch.nn.Module
    pre: Preprocessor
    identity: ModelIdentity


def ready(suite: Suite, device: torch.device, model_hook: Callable[[Suite, Any], Any] | None = None) -> Ready:
    """Build the model (the conftest hook's, or the suite's model: section) and fingerprint it."""
    built = models.build(suite, device, model_hook, preprocess=lambda own: resolved(suite.preprocess, own))
    pre = Preprocessor(suite.preprocess, suite, built.own)
    identity = ModelIdentity(fingerprint=built.fingerprint, device=str(device), device_type=device.type,
                             custom_source=keys.source_digest(pre.custom), preprocess=pre.description)
    return Ready(built.model, pre, identity)


class LocalRunner:
    """A Runner: the suite's model on --edgecases-device, in this process."""

    def __init__(self, suite: Suite, *, device: str, batch_size: int, precision: str,
                 model_hook: Callable[[Suite, Any], Any] | None = None):
        self.suite, self.requested, self.batch_size, self.precision = suite, device, batch_size, precision
        self.model_hook = model_hook
        self.device: Any = None
        self.built: Ready | None = None

    def identify(self) -> ModelIdentity:
        """Build the model and say what it is."""
        self.device = resolve_device(self.requested)
        self.built = ready(self.suite, self.device, self.model_hook)
        return self.built.identity

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> Iterator[dict[str, Prediction]]:
        """Predictions batch by batch (identify first)."""
        assert self.built is not None, "identify() builds the model"
        return predict(jobs, self.built.model, self.built.pre, self.device, len(self.suite.labels),
                       batch_size=self.batch_size, precision=self.precision, progress=progress)
