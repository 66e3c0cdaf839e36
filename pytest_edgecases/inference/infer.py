"""Infer every selected example once: hash the images, key them, look the keys up, run what the store lacks.

For each suite, under the xdist run's lock (xdist.py): a model known without building it (from
this run's first worker, or from a recipe memo, recipe.py) gives the prediction keys at once; if
the store holds them all, that is the end, and torch was never imported. Otherwise the suite's
runner (runner.py) identifies its model, which gives the keys, and predicts what the store lacks.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

from ..errors import EdgecasesError
from ..gcpolicy import paused_gc
from ..records import Prediction, RunInfo
from ..suite import Category, Example, Suite
from . import keys, recipe, xdist
from .device import torch_free_device
from .digests import file_digests
from .runner import Job, RunnerFactory
from .store import PredictionCache


@dataclass
class Inferred:
    """What inference left for judging: each example's key and prediction, the file digests, and per suite
    either what the run did (``run_info``, for the report and baseline) or why it could not infer."""

    predictions: dict[str, Prediction] = field(default_factory=dict)
    keys: dict[tuple[Path, str, str], str] = field(default_factory=dict)   # (suite, test name, example path)
    shas: dict[Path, str] = field(default_factory=dict)
    failures: dict[Path, EdgecasesError] = field(default_factory=dict)
    run_info: dict[Path, RunInfo] = field(default_factory=dict)

    def prediction(self, suite: Suite, category: Category, example: Example) -> Prediction | None:
        """The example's prediction in this category (None if it was not inferred)."""
        key = self.keys.get((suite.path, category.test_name, example.path))
        return self.predictions.get(key) if key else None

    def clear(self) -> None:
        """Forget every example (the run is over and reported); the suites' run info stays."""
        for held in (self.predictions, self.keys, self.shas):
            held.clear()


@dataclass(frozen=True)
class Settings:
    """How this process infers."""

    rootdir: Path
    device: str
    precision: str
    cache_file: Path | None                      # None: no cache (--edgecases-no-cache, or none possible)
    run_id: str | None                           # the xdist run this worker belongs to
    has_model_hook: Callable[[Suite], bool]


class KnownModel(NamedTuple):
    """A model known without building it."""

    key: str            # keys.model_key
    fingerprint: str
    device: str
    preprocess: str = ""   # the preprocessing resolved for it, where not the suite's as declared


class LookedUp(NamedTuple):
    """Every example's job under one model key, and what the store held for them."""

    model_key: str
    jobs: dict[str, Job]
    found: dict[str, Prediction]


class Inference:
    """One run's inference into ``out``; ``runner_for`` makes a suite's runner when its model must be built."""

    def __init__(self, settings: Settings, runner_for: RunnerFactory, out: Inferred,
                 write: Callable[[str], None], notes: list[str]):
        self.settings, self.runner_for, self.out, self.write, self.notes = settings, runner_for, out, write, notes

    def infer(self, selected: Sequence[tuple[Suite, Category]]) -> None:
        """Infer every example of the selected categories; a suite that cannot be inferred goes to out.failures."""
        by_suite: dict[Path, list[Category]] = {}
        suites: dict[Path, Suite] = {}
        for suite, cat in selected:
            by_suite.setdefault(suite.path, []).append(cat)
            suites[suite.path] = suite
        store = xdist.open_store(self.settings.cache_file, self.settings.run_id)
        try:
            categories = [cat for cats in by_suite.values() for cat in cats]
            versions = keys.library_versions()
            recipes = {path: self._recipe(suite, versions, store) for path, suite in suites.items()}
            if not self.settings.run_id and not all(r and store.get_model(r) for r in recipes.values()):
                # A model that must be built (one files do not determine, or one not seen before) needs
                # torch whatever the store holds: import it (seconds of one core) while the images are
                # hashed on the others. Not under xdist: there a worker that finds the run's predictions
                # needs no torch at all.
                with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgecases-hash") as pool:
                    hashing = pool.submit(self._hash_files, categories, store)
                    try:
                        from . import local  # noqa: F401  (torch and the model code, imported ahead)
                    finally:
                        hashing.result()
            else:
                with paused_gc():
                    self._hash_files(categories, store)
            for path, cats in by_suite.items():
                try:
                    self._infer_suite(suites[path], cats, store, versions, recipes[path])
                except EdgecasesError as exc:
                    self.out.failures[path] = exc
        finally:
            store.close()
            note = f"edgecases: {store.disabled_reason}; ran without it"
            if store.disabled_reason and note not in self.notes:   # a read-only or full disk: go on, and say so
                self.notes.append(note)

    def _hash_files(self, categories: Iterable[Category], store: PredictionCache) -> None:
        """SHA-256 of every image ("" for one that cannot be read: its decoder reports it)."""
        # Sorted by name: comparing tens of thousands of Path objects costs more.
        files = sorted({ex.file for cat in categories for ex in cat.examples} - set(self.out.shas), key=os.fspath)
        self.out.shas.update(file_digests(files, store))

    @functools.cached_property
    def _device_without_torch(self) -> str | None:
        """The device type inference will use, where that is certain without importing torch (else None)."""
        return torch_free_device(self.settings.device)

    def _recipe(self, suite: Suite, versions: dict[str, str], store: PredictionCache) -> str | None:
        """The recipe key of a model that files alone determine, on a device known without torch; else None."""
        if not (recipe.file_determined(suite, self.settings.has_model_hook) and self._device_without_torch):
            return None
        return recipe.model_recipe(suite, self.settings.rootdir, versions, lambda files: file_digests(files, store))

    def _infer_suite(self, suite: Suite, categories: Sequence[Category], store: PredictionCache,
                     versions: dict[str, str], recipe_key: str | None) -> None:
        started = time.perf_counter()
        # Under xdist the first worker to take the lock infers; the others wait (asleep), then find its
        # predictions and the model key it computed, and need not build the model or import torch.
        with xdist.run_lock(self.settings.run_id):
            known = self._known_model(suite, versions, recipe_key, store)
            looked_up = None
            if known is not None:
                looked_up = self._lookup(suite, categories, known.key, store)
                if len(looked_up.found) == len(looked_up.jobs):
                    self.out.predictions.update(looked_up.found)
                    self._ran(suite, started, known.fingerprint, known.device, versions, looked_up, [],
                              known.preprocess)
                    return
            self._infer_built(suite, categories, store, versions, recipe_key, started, looked_up)

    def _lookup(self, suite: Suite, categories: Sequence[Category], model_key: str,
                store: PredictionCache) -> LookedUp:
        """Every example's job (recording its key for judging), and the predictions the store holds for them."""
        rootdir = self.settings.rootdir
        with paused_gc():
            jobs: dict[str, Job] = {}
            for cat in categories:
                for ex in cat.examples:
                    seed = keys.example_seed(ex.file, rootdir, cat.transform)
                    sha = self.out.shas.get(ex.file, "")
                    key = keys.example_key(model_key, sha, ex.file, cat.transform, seed)
                    self.out.keys[(suite.path, cat.test_name, ex.path)] = key
                    if key not in jobs:
                        jobs[key] = Job(key, ex.file, cat.transform, seed, sha)
            return LookedUp(model_key, jobs, store.get_many(jobs))

    def _known_model(self, suite: Suite, versions: dict[str, str], recipe_key: str | None,
                     store: PredictionCache) -> KnownModel | None:
        """The model known without building it: from this xdist run's first worker, or for a file-determined
        model from an earlier run's recipe memo."""
        if self.settings.run_id:
            run = store.get_run(self.settings.run_id, str(suite.path))
            if run is not None:
                return KnownModel(run["env"], run["model"], run["device"], run.get("preprocess", ""))
        fingerprint = store.get_model(recipe_key) if recipe_key else None
        if fingerprint is None:
            return None
        device = self._device_without_torch or "cpu"
        return KnownModel(keys.model_key(fingerprint, suite, "", versions, device, self.settings.precision),
                          fingerprint, device, store.get_blob(_PREPROCESS_MEMO + recipe_key) or "")

    def _infer_built(self, suite: Suite, categories: Sequence[Category], store: PredictionCache,
                     versions: dict[str, str], recipe_key: str | None, started: float,
                     looked_up: LookedUp | None) -> None:
        """Have the runner build the model, then infer what the store does not hold.

        ``looked_up`` (a known model with some images new) is reused when the built model has its key,
        as it does unless something changed.
        """
        runner = self.runner_for(suite)
        model = runner.identify()
        model_key = keys.model_key(model.fingerprint, suite, model.custom_source, versions, model.device_type,
                                   self.settings.precision)
        if recipe_key:
            store.put_model(recipe_key, model.fingerprint)
            if model.preprocess:   # a saved model's own preprocessing, for the run info of a rerun without it
                store.put_blob(_PREPROCESS_MEMO + recipe_key, model.preprocess)
        if self.settings.run_id:
            store.put_run(self.settings.run_id, str(suite.path),
                          {"env": model_key, "model": model.fingerprint, "device": model.device,
                           "preprocess": model.preprocess})
        if looked_up is None or looked_up.model_key != model_key:
            looked_up = self._lookup(suite, categories, model_key, store)
        try:
            missing = [job for key, job in looked_up.jobs.items() if key not in looked_up.found]
            self.out.predictions.update(looked_up.found)
            if missing:
                ticker = _Progress(self.write, len(missing), model.device_type)
                for batch in runner.run(missing, ticker):
                    store.put_many(batch)
                    self.out.predictions.update(batch)
        except EdgecasesError as exc:
            if exc.path is None:   # the model's output is at fault: point at the suite's model
                exc.path, exc.line = suite.display, suite.model.line if suite.model else None
            raise
        self._ran(suite, started, model.fingerprint, model.device, versions, looked_up, missing, model.preprocess)

    def _ran(self, suite: Suite, started: float, fingerprint: str, device: str, versions: dict[str, str],
             looked_up: LookedUp, missing: Sequence[Job], preprocess: str = "") -> None:
        """Record what inference did (report, baseline) and say so in one line."""
        elapsed = time.perf_counter() - started
        images, found = len(looked_up.jobs), len(looked_up.found)
        self.out.run_info[suite.path] = RunInfo(
            model=fingerprint[:16], device=device, precision=self.settings.precision,
            versions=versions, preprocess=preprocess or suite.preprocess.describe(), images=images,
            inferred=len(missing), cached=found, seconds=round(elapsed, 3),
            python=platform.python_version(), date=dt.datetime.now().isoformat(timespec="seconds"),
        )
        self.write(f"edgecases: {suite.name}: {images} images, {len(missing)} inferred, "
                   f"{found} from cache, on {device} in {elapsed:.1f}s")


#: Prefix of the store's memo of the preprocessing resolved for a recipe's model (shown in the run info).
_PREPROCESS_MEMO = "preprocess:"


class _Progress:
    """A progress line for inference that takes more than a moment (at most two updates a second)."""

    def __init__(self, write: Callable[[str], None], total: int, device: str):
        self.write, self.total, self.device = write, total, device
        self.start = self.last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.start > 2.0 and (now - self.last > 0.5 or done == total) and done < total:
            self.last = now
            rate = done / (now - self.start)
            self.write(f"edgecases: inferring on {self.device}: {done}/{total} images ({rate:.0f}/s)")
