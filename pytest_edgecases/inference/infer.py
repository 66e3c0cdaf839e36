"""Infer every selected example once: hash the images, key them, look the keys up, run what the store lacks.

For each suite, under the xdist run's lock (xdist.py): first the predictions files (predfiles.py),
matched by each example's input key; what they cover is not inferred, and where they cover all,
torch is never imported. With a shard (shard.py), only the shard's inputs go on. Then a model
known without building it (from this run's first worker, or from a recipe memo, recipe.py) gives the
prediction keys at once; if the store holds them all, that is the end, and torch was never imported.
Otherwise the suite's runner (runner.py) identifies its model, which gives the keys, and predicts
what the store lacks. A suite with nothing to run its model leaves the uncovered categories not judged.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

from ..errors import EdgecasesError
from ..gcpolicy import paused_gc
from ..prediction import Prediction
from ..records import RunInfo
from ..suite import Category, Suite
from . import keys, predfiles, recipe, xdist
from .device import torch_free_device
from .digests import file_digests
from .inferred import Inferred
from .runner import Job, RunnerFactory
from .shard import Shard
from .store import PredictionCache


@dataclass(frozen=True)
class Settings:
    """How this process infers."""

    rootdir: Path
    device: str
    precision: str
    cache_file: Path | None                      # None: no cache (--edgecases-no-cache, or none possible)
    run_id: str | None                           # the xdist run this worker belongs to
    has_model_hook: Callable[[Suite], bool]
    prediction_files: tuple[Path, ...] = ()      # --edgecases-predictions, globs expanded
    shard: Shard | None = None                   # --edgecases-shard: infer only this shard's inputs
    save: bool = False                           # keep every prediction for --edgecases-save-predictions
    # The suites whose images' properties something reads (slice discovery with properties, a property
    # `where:`): only their images are measured as inference decodes them. Measuring costs the decode
    # threads about a third of a decode, and on two cores that is up to 40% of a cold run.
    measure: frozenset[Path] = frozenset()


class KnownModel(NamedTuple):
    """A model known without building it."""

    key: str            # keys.model_key
    fingerprint: str
    device: str
    preprocess: str = ""   # the preprocessing resolved for it, where not the suite's as declared


class Inputs(NamedTuple):
    """A suite's examples by input key (keys.input_key), and which of them this run leaves alone."""

    of: dict[tuple[str, str], str]   # (test name, example path) -> input key
    skip: set[str]                   # input keys predicted by files, or another shard's
    from_files: int                  # inputs the files predicted
    model: str | None = None         # the model the files say made them, where they name one alone


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
        self.files: predfiles.PredictionFiles | None = None   # --edgecases-predictions, read in infer()
        self._saving: list[tuple[Suite, Sequence[Category], Inputs | None]] = []   # for saved_rows()

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
            try:
                self.files = self._read_files(self.settings.prediction_files, self.settings.rootdir)
            except EdgecasesError as exc:   # no suite is judged on a file that cannot be read
                self.out.failures.update(dict.fromkeys(suites, exc))
                return
            from_files = bool(self.files or any(_own_file(s) for s in suites.values()))
            if not (self.settings.run_id or from_files) and not all(r and store.get_model(r) for r in recipes.values()):
                # A model that must be built (one files do not determine, or one not seen before) needs
                # torch whatever the store holds: import it (seconds of one core) while the images are
                # hashed on the others. Not under xdist: there a worker that finds the run's predictions
                # needs no torch at all; nor does a run whose predictions files may cover everything.
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
        files = sorted({ex.file for cat in categories for ex in cat.examples} - set(self.out.shas))
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

    @staticmethod
    def _read_files(paths: Sequence[Path], root: Path | None = None) -> predfiles.PredictionFiles | None:
        """The predictions files' rows (None without files); raises EdgecasesError naming a bad file."""
        if not paths:
            return None
        shown = [p.relative_to(root).as_posix() if root and p.is_relative_to(root) else str(p) for p in paths]
        return predfiles.load(paths, shown)

    def _infer_suite(self, suite: Suite, categories: Sequence[Category], store: PredictionCache,
                     versions: dict[str, str], recipe_key: str | None) -> None:
        started = time.perf_counter()
        inputs = self._inputs(suite, categories)
        if self.settings.save:
            self._keep(suite, categories, inputs)   # at the end: the rows the model predicts are added too
        if inputs is not None and len(inputs.skip) == len(set(inputs.of.values())):
            self._ran(suite, started, inputs.model, None, versions, 0, 0, inputs.from_files)
            return
        if inputs is not None and not self._runnable(suite):
            self._unjudged(suite, categories, inputs)
            self._ran(suite, started, inputs.model, None, versions, 0, 0, inputs.from_files,
                      len(set(inputs.of.values())))
            return
        # Under xdist the first worker to take the lock infers; the others wait (asleep), then find its
        # predictions and the model key it computed, and need not build the model or import torch.
        with xdist.run_lock(self.settings.run_id):
            known = self._known_model(suite, versions, recipe_key, store)
            looked_up = None
            if known is not None:
                looked_up = self._lookup(suite, categories, known.key, store, inputs)
                if len(looked_up.found) == len(looked_up.jobs):
                    self.out.predictions.update(looked_up.found)
                    self._ran(suite, started, known.fingerprint, known.device, versions, len(looked_up.found), 0,
                              inputs.from_files if inputs else None, preprocess=known.preprocess)
                    return
            self._infer_built(suite, categories, store, versions, recipe_key, started, looked_up, inputs)

    def _inputs(self, suite: Suite, categories: Sequence[Category]) -> Inputs | None:
        """Each example's input key, with what the predictions files predict taken (None: no files, no shard)."""
        own = _own_file(suite)
        if self.files is None and own is None and self.settings.shard is None:
            return None
        files = self.files
        if own is not None:   # model: {predictions: FILE}: read for its suite, after the run's own files
            extra = self._read_files([own], self.settings.rootdir)
            assert extra is not None
            files = predfiles.PredictionFiles([*(self.files.tables if self.files else []), *extra.tables])
        rootdir, described = self.settings.rootdir, suite.preprocess.describe()
        of: dict[tuple[str, str], str] = {}
        wanted: dict[str, predfiles.Wanted] = {}
        with paused_gc():
            for cat in categories:
                for ex in cat.examples:
                    sha = self.out.shas.get(ex.file, "")
                    seed = keys.example_seed(ex.file, rootdir, cat.transform)
                    key = keys.input_key(sha, ex.file, cat.transform, seed, described)
                    of[(cat.test_name, ex.path)] = key
                    if key not in wanted:
                        wanted[key] = predfiles.Wanted(key, ex.path if cat.transform is None else None, sha)
        skip: set[str] = set()
        from_files = 0
        model = None
        if files is not None:
            listed = list(wanted.values())
            matched = files.match(suite.name, suite.labels, listed)
            for index, prediction in matched.predictions.items():
                key = listed[index].key
                self.out.predictions[_file_key(suite, key)] = prediction
                skip.add(key)
            from_files = len(matched.predictions)
            model = next(iter(matched.models)) if len(matched.models) == 1 else None
            for (test_name, path), key in of.items():
                if key in skip:
                    self.out.keys[(suite.path, test_name, path)] = _file_key(suite, key)
            self._stale_notes(matched.stale)
        shard = self.settings.shard
        if shard is not None:
            self.out.shard_total += len(wanted)
            skip.update(key for key in wanted if key not in skip and not shard.holds(key))
        return Inputs(of, skip, from_files, model)

    def _stale_notes(self, stale: Sequence[predfiles.Stale]) -> None:
        """Name the rows not used because their image has changed since (the first few, and a count)."""
        for row in stale[:3]:
            self.notes.append(f"edgecases: {row.where}: {row.path} has changed since it was predicted "
                              "(its sha256 differs): the row is not used")
        if len(stale) > 3:
            self.notes.append(f"edgecases: … and {len(stale) - 3} more stale rows not used")

    def _runnable(self, suite: Suite) -> bool:
        """Whether the suite has a model to infer what the files do not cover."""
        return (suite.model is not None and suite.model.kind != "predictions") or self.settings.has_model_hook(suite)

    def _unjudged(self, suite: Suite, categories: Sequence[Category], inputs: Inputs) -> None:
        """Leave each category with an example the files do not cover not judged, saying which (shards aside:
        there nothing is judged)."""
        if self.settings.shard is not None:
            return
        for cat in categories:
            missing = [ex.path for ex in cat.examples if inputs.of[(cat.test_name, ex.path)] not in inputs.skip]
            if missing:
                shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
                self.out.unjudged[(suite.path, cat.test_name)] = EdgecasesError(
                    f"{len(missing)} of {len(cat.examples)} images have no prediction in the predictions files, "
                    f"and the suite has no model to infer them: {shown}", suite.display, cat.line,
                    hint="predict them (python -m pytest_edgecases jobs lists every input), or give the suite "
                         "a model: section")

    def _keep(self, suite: Suite, categories: Sequence[Category], inputs: Inputs | None) -> None:
        """Remember how to find the suite's predictions for --edgecases-save-predictions (read after the run)."""
        self._saving.append((suite, categories, inputs))

    def saved_rows(self) -> list[predfiles.Row]:
        """The run's predictions (a shard's own only), one row per suite and input, for a predictions file."""
        rows: dict[tuple[str, str], predfiles.Row] = {}
        shard = self.settings.shard
        rootdir = self.settings.rootdir
        for suite, categories, inputs in self._saving:
            described = suite.preprocess.describe()
            run = self.out.run_info.get(suite.path)
            model = (run.model if run else None) or ""
            for cat in categories:
                for ex in cat.examples:
                    if inputs is not None:
                        key = inputs.of[(cat.test_name, ex.path)]
                    else:
                        seed = keys.example_seed(ex.file, rootdir, cat.transform)
                        key = keys.input_key(self.out.shas.get(ex.file, ""), ex.file, cat.transform, seed, described)
                    if (suite.name, key) in rows or (shard is not None and not shard.holds(key)):
                        continue
                    prediction = self.out.prediction(suite, cat, ex)
                    if prediction is not None:
                        rows[(suite.name, key)] = predfiles.Row(suite.name, suite.labels, key, prediction, model)
        return list(rows.values())

    def _lookup(self, suite: Suite, categories: Sequence[Category], model_key: str,
                store: PredictionCache, inputs: Inputs | None = None) -> LookedUp:
        """Every example's job (recording its key for judging), and the predictions the store holds for them;
        an example whose input ``inputs`` skips is left out."""
        rootdir = self.settings.rootdir
        with paused_gc():
            jobs: dict[str, Job] = {}
            for cat in categories:
                for ex in cat.examples:
                    if inputs is not None and inputs.of[(cat.test_name, ex.path)] in inputs.skip:
                        continue
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
                     looked_up: LookedUp | None, inputs: Inputs | None) -> None:
        """Have the runner build the model, then infer what the store does not hold.

        ``looked_up`` (a known model with some images new) is reused when the built model has its key,
        as it does unless something changed.
        """
        runner = self.runner_for(suite)
        building = time.perf_counter()
        model = runner.identify()
        built_in = time.perf_counter() - building
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
            looked_up = self._lookup(suite, categories, model_key, store, inputs)
        try:
            missing = [job for key, job in looked_up.jobs.items() if key not in looked_up.found]
            self.out.predictions.update(looked_up.found)
            if missing:
                from .measured import by_image, unmeasured  # Pillow and numpy: a model run has them loaded

                if suite.path in self.settings.measure:
                    missing = unmeasured(missing, store)   # a new model: the images' properties are stored already
                else:
                    missing = [job._replace(measure=False) for job in missing]
                ticker = _Progress(self.write, len(missing), model.device_type)
                for batch in runner.run(missing, ticker):
                    store.put_many(batch)
                    store.put_properties(by_image(batch, looked_up.jobs))
                    self.out.predictions.update(batch)
        except EdgecasesError as exc:
            if exc.path is None:   # the model's output is at fault: point at the suite's model
                exc.path, exc.line = suite.display, suite.model.line if suite.model else None
            raise
        self._ran(suite, started, model.fingerprint, model.device, versions, len(looked_up.found), len(missing),
                  inputs.from_files if inputs else None, preprocess=model.preprocess,
                  custom_source=model.custom_source)
        hint = None if missing else skip_build_hint(suite, self.settings.has_model_hook)
        if hint:
            self.write(f"edgecases: {suite.name}: model built only to identify it ({built_in:.1f}s): {hint}")

    def _ran(self, suite: Suite, started: float, fingerprint: str | None, device: str | None,
             versions: dict[str, str], found: int, inferred: int, from_files: int | None,
             images: int | None = None, *, preprocess: str = "", custom_source: str = "") -> None:
        """Record what inference did (report, baseline) and say so in one line (``images``: the inputs, where
        some have no prediction; ``preprocess``: a saved model's own, where the suite declares none)."""
        elapsed = time.perf_counter() - started
        images = images if images is not None else found + inferred + (from_files or 0)
        self.out.run_info[suite.path] = RunInfo(
            model=fingerprint[:16] if fingerprint else None, device=device, precision=self.settings.precision,
            versions=versions, preprocess=preprocess or suite.preprocess.describe(),
            preprocess_source=custom_source[:16] or None, images=images,
            inferred=inferred, cached=found, from_files=from_files, seconds=round(elapsed, 3),
            python=platform.python_version(), date=dt.datetime.now().isoformat(timespec="seconds"),
        )
        shard = self.settings.shard
        files = f"{from_files} from predictions files, " if from_files is not None and not shard else ""
        head = f"shard {shard}: {images} images" if shard else f"{images} images"
        where = f"on {device}" if device else "no model run"
        self.write(f"edgecases: {suite.name}: {head}, {files}{inferred} inferred, "
                   f"{found} from cache, {where} in {elapsed:.1f}s")


def _own_file(suite: Suite) -> Path | None:
    """The suite's own predictions file (``model: {predictions: FILE}``), or None."""
    spec = suite.model
    return (suite.dir / spec.target).resolve() if spec is not None and spec.kind == "predictions" else None


def _file_key(suite: Suite, input_key: str) -> str:
    """The key a prediction read from a file is held under for judging: per suite, since two suites'
    models answer the same input differently (a model's prediction key is a digest, never this)."""
    return f"file:{suite.path}:{input_key}"


def skip_build_hint(suite: Suite, has_model_hook: Callable[[Suite], bool]) -> str | None:
    """What would let a rerun that infers nothing skip building the model, or None when nothing would.

    A factory can read any file, so without `defined_by:` its model is built on every run just to
    learn its fingerprint; on a warm rerun that is most of the run's time, and nothing said so.
    """
    spec = suite.model
    if spec is None or spec.kind != "factory" or spec.defined_by or has_model_hook(suite):
        return None
    if suite.preprocess.callable:
        return None   # a preprocess callable can read any file too: defined_by: would not be enough
    top = spec.target.split(":", 1)[0].split(".", 1)[0]
    if (suite.dir / top).is_dir():
        named = f"{top}/"
    elif (suite.dir / f"{top}.py").is_file():
        named = f"{top}.py"
    else:
        named = "the files that define the model"
    return f"add defined_by: [{named}] to the suite's model: section to skip this (docs/performance.md)"


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
