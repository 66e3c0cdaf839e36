"""The seam between the run and whatever computes predictions: jobs in, predictions out.

infer.py keys, looks up and stores; a Runner only says which model it runs (so that predictions
are keyed by it) and turns the jobs the cache lacks into predictions. local.py is the in-process
torch runner; ray_engine.py runs on a Ray cluster's actors (--edgecases-engine=ray). Another engine is another
Runner, handed to the session as its ``runner_for``; keys, the cache and judging stay as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, Protocol, Sequence

from ..prediction import Prediction
from ..suite import Suite
from ..transforms import Level

#: progress(done, total), called as predictions come in.
Progress = Callable[[int, int], None]


class Job(NamedTuple):
    """One image (and optional synthetic transform) to infer, under its cache key.

    A tuple: a run makes one per example (tens of thousands), and a tuple is the cheapest record to make.
    """

    key: str
    file: str           # absolute (Example.file)
    transform: Level | None = None
    seed: int = 0
    sha256: str = ""    # the bytes the key was made from; other bytes are refused, never cached
    measure: bool = True   # measure the image's properties as it is decoded (False: the store has them)


@dataclass(frozen=True)
class ModelIdentity:
    """What a runner's model is, for prediction keys (keys.model_key) and the run's record."""

    fingerprint: str      # keys.py: the model's code, structure, parameters and buffers
    device: str           # as shown in the report: cpu, cuda:0
    device_type: str      # as keyed: cpu, cuda, mps
    custom_source: str    # keys.source_digest of a preprocess callable ("" without one)
    preprocess: str = ""  # the preprocessing resolved for the model, in words ("": the suite's as declared)


class Runner(Protocol):
    """Runs one suite's model."""

    def identify(self) -> ModelIdentity:
        """Make the model ready (build or load it) and say what it is; raises EdgecasesError."""

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> Iterator[dict[str, Prediction]]:
        """Predictions by job key, a batch at a time (each is stored as it comes: Ctrl-C keeps them)."""


@dataclass(frozen=True)
class RaySettings:
    """Where and how the Ray engine runs (ray_engine.py; --edgecases-engine=ray and the ray options)."""

    address: str | None = None       # --edgecases-ray-address; None: RAY_ADDRESS, else a local instance
    actors: int | None = None        # --edgecases-ray-actors; None: as many as the cluster has room for
    gpus_per_actor: float = 0.0      # --edgecases-ray-gpus-per-actor; above 0 the actors infer on CUDA
    progress_bars: bool = False      # Ray Data's own progress bars (with -v)


#: Makes the runner for a suite (called only for a suite whose predictions the cache lacks).
RunnerFactory = Callable[[Suite], Runner]
