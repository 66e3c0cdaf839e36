"""One run's state and work: load suites, hand their examples to inference, judge categories.

The pytest glue (plugin.py, nodes.py) hands over to an EdgecasesSession kept in ``config.stash``.
Inference (keys, the cache, the model, xdist sharing) lives in the ``inference`` package; the
session gives it the selected categories and a way to make a runner, and judges from what it left.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .annotations import Review, load_annotations
from .baseline import Baseline, baseline_checks, compare, load_baseline
from .errors import EdgecasesError
from .gcpolicy import freeze_long_lived, paused_gc
from .inference import predfiles, xdist
from .inference.infer import Inference, Settings
from .inference.inferred import Inferred
from .inference.runner import RaySettings, Runner, RunnerFactory
from .inference.shard import Shard
from .inference.store import PredictionCache
from .records import CategoryResult
from .slicefinder import Slice, SliceSettings
from .suite import Category, Example, Suite, load_suite
from .verdicts import Scored, judge
from .where import keep_by_properties

#: Inference precisions, checked when pytest is configured (inference/predict.DTYPES maps them to dtypes).
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class Options:
    """The command-line / ini options, resolved."""

    device: str = "auto"
    batch_size: int = 32
    precision: str = "fp32"
    report: str | None = "edgecases-report.html"
    results: str | None = None
    baseline: str | None = None
    save_baseline: str | None = None
    review_queue: str | None = None
    markdown: str | None = None
    cache_dir: Path | None = None
    no_cache: bool = False
    cache_max_age: int = 30   # days; 0 never prunes
    slices: SliceSettings | None = field(default_factory=SliceSettings)   # None: --edgecases-slices=off
    predictions: tuple[Path, ...] = ()      # --edgecases-predictions, globs expanded
    shard: Shard | None = None              # --edgecases-shard: infer this shard, write it, judge nothing
    save_predictions: Path | None = None    # --edgecases-save-predictions
    explain: str | None = None              # --edgecases-explain: None (off), "auto" or a method (explain_spec)
    ray: RaySettings | None = None          # --edgecases-engine=ray and its options (None: the local engine)


@dataclass
class Loaded:
    """A suite and its reviews, parsed once per process."""

    suite: Suite
    reviews: dict[tuple[str, str], Review] = field(default_factory=dict)


class EdgecasesSession:
    """Everything one pytest process knows about the edge-case run."""

    def __init__(self, options: Options, rootdir: Path, *, worker_id: str | None = None,
                 run_id: str | None = None, write: Callable[[str], None] | None = None,
                 model_hook: Callable[[Suite, Any], Any] | None = None,
                 has_model_hook: Callable[[Suite], bool] | None = None, runner_for: RunnerFactory | None = None):
        self.options = options
        self.rootdir = rootdir.resolve()
        self.worker_id = worker_id
        self.run_id = run_id
        self.write = write or (lambda line: None)
        self.model_hook = model_hook
        # Whether a conftest.py implements pytest_edgecases_load_model for a suite; without being
        # told, assume it may whenever there is a hook to call (the model must then be built).
        self.has_model_hook = has_model_hook or (lambda suite: self.model_hook is not None)
        # What runs a suite's model when the cache lacks predictions: by default this process (local.py),
        # or a Ray cluster (ray_engine.py) with --edgecases-engine=ray.
        self.runner_for: RunnerFactory = runner_for or self._runner
        self.loaded: dict[Path, Loaded] = {}
        self.selected: list[tuple[Suite, Category]] = []
        self.inferred = Inferred()
        self.prepared = False
        self.results: list[CategoryResult] = []             # filled from reports (controller side)
        self.local_results: dict[str, CategoryResult] = {}  # nodeid -> result, when not under xdist
        self.notes: list[str] = []                          # lines for the end of the terminal summary
        self.slices: list[Slice] = []                       # found at the end, from all results (controller)
        self.today = dt.date.today()
        self._baseline: Baseline | EdgecasesError | None = None   # read once, or the error reading it raised
        self.shard_note: str | None = None      # why a shard's items are skipped (what it wrote)
        self.save_error: EdgecasesError | None = None   # --edgecases-save-predictions could not be written
        self.measured: Any = None   # measured.Gathered: where this process's image properties came from
        self.explain_errors: list[EdgecasesError] = []   # saliency asked for and not made (the run fails)
        self._judged: dict[tuple[Path, str], CategoryResult | EdgecasesError] = {}   # judge()'s verdicts

    # -- collection ---------------------------------------------------------------------------
    def load(self, path: Path) -> Loaded:
        """Parse a suite file and its annotations (cached per process); raises EdgecasesError."""
        path = path.resolve()
        if path not in self.loaded:
            with paused_gc():   # an Example per image: tens of thousands of objects
                suite = load_suite(path, self.rootdir)
                self.loaded[path] = Loaded(suite, load_annotations(suite))
        return self.loaded[path]

    # -- inference ----------------------------------------------------------------------------
    def prepare(self, selected: Sequence[tuple[Suite, Category]]) -> None:
        """Infer every example of the selected categories exactly once (no-op when done)."""
        if self.prepared:
            return
        self.prepared = True
        self.selected = list(selected)
        settings = Settings(rootdir=self.rootdir, device=self.options.device, precision=self.options.precision,
                            cache_file=self.cache_file, run_id=self.run_id, has_model_hook=self.has_model_hook,
                            prediction_files=self.options.predictions, shard=self.options.shard,
                            save=self.options.save_predictions is not None,
                            measure=frozenset(suite.path for suite, _ in self._wanting_properties()))
        inference = Inference(settings, self.runner_for, self.inferred, self.write, self.notes)
        inference.infer(self.selected)
        self._measure()
        if self.options.save_predictions is not None:
            self._save_predictions(self.options.save_predictions, inference.saved_rows())
        freeze_long_lived()   # the examples, predictions, torch and the model live to the run's end

    def _wanting_properties(self) -> list[tuple[Suite, Category]]:
        """The selected categories whose images' properties something reads: all, when slice discovery
        searches properties; else those whose `where:` names one."""
        slices = self.options.slices
        every = slices is not None and slices.properties
        return [(suite, cat) for suite, cat in self.selected if every or cat.where_properties]

    def _measure(self) -> None:
        """The image properties of what will be judged: slice discovery's columns, and `where:` on properties.

        Only where something reads them: a run whose slice discovery leaves properties out (the default)
        reads only those of the categories whose `where:` names one. Under xdist one worker at a time, so
        the others read what the first stored.
        """
        inferred = self.inferred
        wanted = [(suite, cat) for suite, cat in self._wanting_properties()
                  if suite.path not in inferred.failures and (suite.path, cat.test_name) not in inferred.unjudged]
        if not wanted or self.options.shard is not None:
            return
        from .inference import measured  # Pillow and numpy: only once there is something to measure

        with xdist.run_lock(self.run_id), paused_gc():   # a key and a value per example, in no cycle
            store = xdist.open_store(self.cache_file, self.run_id)
            try:
                self.measured = measured.gather(wanted, inferred, store, self.rootdir)
            finally:
                store.close()

    def _save_predictions(self, path: Path, rows: list[predfiles.Row]) -> None:
        """Write the run's (or the shard's) predictions; under xdist one worker writes (each holds them all)."""
        shard = self.options.shard
        if shard is not None:
            self.shard_note = f"shard {shard}: {len(rows):,} of {self.inferred.shard_total:,} predictions written"
        if self.worker_id not in (None, "gw0"):
            return
        try:
            predfiles.write(path, rows)
        except OSError as exc:
            self.save_error = EdgecasesError(f"cannot write the predictions file: {exc.strerror or exc}", str(path))
            return
        shown = path.relative_to(self.rootdir).as_posix() if path.is_relative_to(self.rootdir) else str(path)
        self.notes.append(f"edgecases: {len(rows)} predictions written to {shown}")

    def skip_reason(self, suite: Suite) -> str | None:
        """Why a category is not judged in a shard run (None: judge it, or fail with the suite's error)."""
        if self.shard_note is None or self.save_error is not None or suite.path in self.inferred.failures:
            return None
        return self.shard_note

    def _runner(self, suite: Suite) -> Runner:
        """The runner for a suite whose model must be built: this process, with torch, or Ray's actors."""
        if self.options.ray is not None:
            if self.has_model_hook(suite):
                raise EdgecasesError("--edgecases-engine=ray cannot run a model from pytest_edgecases_load_model: "
                                     "a conftest.py hook runs in this process, not on Ray's workers", suite.display,
                                     hint="declare the model in the suite's model: section (docs/models.md), "
                                          "or run this suite with --edgecases-engine=local")
            from .inference.ray_engine import RayRunner  # imports ray and torch: only once a model must be built

            return RayRunner(suite, settings=self.options.ray, batch_size=self.options.batch_size,
                             precision=self.options.precision)
        from .inference.local import LocalRunner  # imports torch: only once a model must be built

        return LocalRunner(suite, device=self.options.device, batch_size=self.options.batch_size,
                           precision=self.options.precision, model_hook=self.model_hook)

    @property
    def cache_file(self) -> Path | None:
        """The prediction cache's file (None with --edgecases-no-cache, or where no cache folder could be had)."""
        if self.options.no_cache or self.options.cache_dir is None:
            return None
        return self.options.cache_dir / "predictions.sqlite"

    def memo(self) -> PredictionCache | None:
        """The prediction cache, for the report's thumbnail memo (None with --edgecases-no-cache)."""
        return PredictionCache(self.cache_file) if self.cache_file is not None else None

    def prune_cache(self) -> None:
        """Drop what the cache has not used for ``cache_max_age`` days (once the run's outputs are written)."""
        cache = self.memo() if self.options.cache_max_age > 0 else None
        if cache is None:
            return
        try:
            dropped = cache.prune(self.options.cache_max_age)
        finally:
            cache.close()
        if dropped:
            self.notes.append(f"edgecases: dropped {dropped} cache entries no run had used for over "
                              f"{self.options.cache_max_age} days (--edgecases-cache-max-age)")

    def cleanup_run_files(self) -> None:
        """Remove this run's shared temp files (controller, at the end of an xdist run)."""
        xdist.cleanup(self.run_id)

    def release(self) -> None:
        """Forget the per-example state of a run that is over and reported.

        pytest collects garbage as it exits; tens of thousands of examples' predictions and results left
        alive make each pass walk hundreds of thousands of objects. Clearing, not just dropping the
        session: the last failure's traceback, which pytest keeps for post-mortem debugging, holds it.
        """
        for held in (self.results, self.local_results, self.loaded, self.selected, self._judged):
            held.clear()
        self.inferred.clear()

    # -- judging ------------------------------------------------------------------------------
    def judge(self, suite: Suite, category: Category, index: int = 0) -> CategoryResult:
        """Judge one category from the session's predictions; raises EdgecasesError if it cannot be.

        Its predictions are let go once it is judged, so the verdict is kept instead: an item run again
        (pytest-rerunfailures, a plugin calling runtest twice) gets the same result or error.
        """
        place = (suite.path, category.test_name)
        done = self._judged.get(place)
        if done is None:
            with paused_gc():
                try:
                    done = self._judge(suite, category, index)
                except EdgecasesError as exc:
                    done = exc
            self.inferred.forget(suite, category)   # not after a bug of ours: a second try raises it again
            self._judged[place] = done
        if isinstance(done, EdgecasesError):
            # Without the frames of earlier raises: they would hold the category's examples, and pile up.
            raise done.with_traceback(None)
        return done

    def _judge(self, suite: Suite, category: Category, index: int) -> CategoryResult:
        inferred = self.inferred
        if self.save_error is not None:
            raise self.save_error
        if suite.path in inferred.failures:
            raise inferred.failures[suite.path]
        if (suite.path, category.test_name) in inferred.unjudged:
            raise inferred.unjudged[(suite.path, category.test_name)]
        scored = []
        for ex in self._examples(suite, category):
            pred = inferred.prediction(suite, category, ex)
            if pred is None:
                raise EdgecasesError(f"no prediction for {ex.path}: the category was not prepared",
                                     suite.display, category.line)
            scored.append(Scored(ex, pred, inferred.shas.get(ex.file, ""),
                                 inferred.properties.get((suite.path, category.test_name, ex.path))))
        reviews = self.loaded[suite.path].reviews if suite.path in self.loaded else {}
        run = inferred.run_info.get(suite.path)
        result = judge(suite, category, scored, reviews, today=self.today, run=run)
        if self.options.baseline:
            result = self._against_baseline(suite, category, scored, reviews, result)
        result.index = index
        return result

    def _examples(self, suite: Suite, category: Category) -> tuple[Example, ...]:
        """The category's examples, its `where:` on image properties applied (an error when none is left)."""
        if not category.where_properties:
            return category.examples
        place = (suite.path, category.test_name)
        kept = keep_by_properties(category.where_properties, category.examples,
                                  lambda ex: self.inferred.properties.get((*place, ex.path)))
        if not kept:
            first = category.where_properties[0]
            raise EdgecasesError(f"where: selects none of category '{category.name}''s {len(category.examples)} "
                                 f"examples by their image properties", suite.display, first.line,
                                 hint="the report's slices and the results file (examples' properties) show "
                                      "the values measured (docs/slices.md)")
        return kept

    # -- baseline comparison ------------------------------------------------------------------
    def _against_baseline(self, suite: Suite, category: Category, scored: Sequence[Scored],
                          reviews: dict[tuple[str, str], Review], result: CategoryResult) -> CategoryResult:
        """Compare with the baseline; judge again with its thresholds as extra checks when the category sets any."""
        comparison = compare(result, self._load_baseline())
        th = category.thresholds
        checks = baseline_checks(comparison, th.max_accuracy_drop, th.max_new_failures)
        if checks:   # the pairing needs the judged examples, so the thresholds join on a second, pure judge
            result = judge(suite, category, scored, reviews, today=self.today, extra_checks=checks,
                           run=self.inferred.run_info.get(suite.path))
        result.baseline = comparison
        return result

    def _load_baseline(self) -> Baseline:
        """The --edgecases-baseline file, read once per process; raises the same EdgecasesError for every item."""
        cached = self._baseline
        if cached is None:
            path = Path(self.options.baseline or "")
            shown = path.relative_to(self.rootdir).as_posix() if path.is_relative_to(self.rootdir) else str(path)
            try:
                cached = load_baseline(path, shown)
            except EdgecasesError as exc:
                cached = exc
            self._baseline = cached
        if isinstance(cached, EdgecasesError):
            raise cached
        return cached
