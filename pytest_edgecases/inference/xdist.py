"""What the workers of one pytest-xdist run share: a lock, and a store where there is no cache.

Each worker has its own session, yet each image goes through the model once per run: the first
worker to take the run's lock infers every selected image into the store, and the others wait
(asleep), then read its predictions and the model key it recorded. Without a cache directory the
store is a temporary file of the run's own, which the controller removes at the end.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import ContextManager

from filelock import FileLock

from .store import PredictionCache


def _run_file(run_id: str, suffix: str) -> Path:
    return Path(tempfile.gettempdir()) / f"pytest-edgecases-{run_id}{suffix}"


def run_lock(run_id: str | None) -> ContextManager[object]:
    """The lock the run's workers infer under, one at a time (no lock outside xdist)."""
    if not run_id:
        return contextlib.nullcontext()
    return FileLock(str(_run_file(run_id, ".lock")))


def open_store(cache_file: Path | None, run_id: str | None) -> PredictionCache:
    """The cache file; else, under xdist, the run's shared temporary store; else one that keeps nothing."""
    if cache_file is not None:
        return PredictionCache(cache_file)
    if run_id:
        return PredictionCache(_run_file(run_id, ".sqlite"))
    return PredictionCache(None)


def cleanup(run_id: str | None) -> None:
    """Remove the run's shared temporary files (controller, at the end of an xdist run)."""
    if not run_id:
        return
    for suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm", ".lock"):
        try:
            _run_file(run_id, suffix).unlink()
        except OSError:
            pass
