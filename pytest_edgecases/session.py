"""One run's state and work: parse suites, infer every selected image once, judge categories.

The pytest glue (plugin.py, nodes.py) hands over to an EdgecasesSession kept in
``config.stash``. Under pytest-xdist each worker has its own session; inference is still
done once per run because the first worker to take the run's lock infers every selected
image into a shared, content-addressed store and the others read it from there.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from . import __version__
from .annotations import Review, load_annotations
from .cache import PredictionCache
from .errors import EdgecasesError
from .images import ImageError, read_bytes
from .records import CategoryResult, Prediction
from .suite import Category, Suite, load_suite
from .verdicts import Scored, judge


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


@dataclass
class Loaded:
    """A suite and its reviews, parsed once per process."""

    suite: Suite
    reviews: dict[tuple[str, str], Review] = field(default_factory=dict)


#: Inference precisions, checked when pytest is configured (engine.PRECISIONS maps them to dtypes).
PRECISIONS = ("fp32", "bf16", "fp16")
#: Part of every cache key: bump it when the plugin's own inference code changes numbers
#: (memory format, resize, normalisation order), so a cache written before is not reused.
NUMERICS = "2"   # 2: channels_last model and input on CPU
#: A file changed this recently may change again within its timestamp's resolution: not memoised.
_RACY_NS = 2_000_000_000


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Automatic garbage collection off for a bulk step of the plugin's own code (no user code runs).

    Hashing, cache lookups, judging and the report build a few objects per example, none in cycles;
    with 20,000 examples, the collector scanning them again and again as they pile up costs 15 % of a
    warm rerun. Garbage without cycles is freed as always; the collector runs again after the step.
    """
    if not gc.isenabled():   # nested, or the user turned it off
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that change the numbers: part of every cache key and baseline."""
    out = {"pytest-edgecases": __version__}
    for dist in ("torch", "torchvision", "pillow", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


class EdgecasesSession:
    """Everything one pytest process knows about the edge-case run."""

    def __init__(self, options: Options, rootdir: Path, *, worker_id: str | None = None,
                 run_id: str | None = None, write: Callable[[str], None] | None = None,
                 model_hook: Callable[[Suite, Any], Any] | None = None,
                 has_model_hook: Callable[[Suite], bool] | None = None):
        self.options = options
        self.rootdir = rootdir.resolve()
        self.worker_id = worker_id
        self.run_id = run_id
        self.write = write or (lambda line: None)
        self.model_hook = model_hook
        # Whether a conftest.py implements pytest_edgecases_load_model for a suite; without being
        # told, assume it may whenever there is a hook to call (the model must then be built).
        self.has_model_hook = has_model_hook or (lambda suite: self.model_hook is not None)
        self.loaded: dict[Path, Loaded] = {}
        self.selected: list[tuple[Suite, Category]] = []
        self.predictions: dict[str, Prediction] = {}
        self.shas: dict[Path, str] = {}
        self.keys: dict[tuple[Path, str, str], str] = {}   # (suite, category test name, example path) -> key
        self.failures: dict[Path, EdgecasesError] = {}      # suite -> why it could not be inferred
        self.run_info: dict[Path, dict[str, Any]] = {}
        self.prepared = False
        self.results: list[CategoryResult] = []             # filled from reports (controller side)
        self.local_results: dict[str, CategoryResult] = {}  # nodeid -> result, when not under xdist
        self.notes: list[str] = []                          # lines for the end of the terminal summary
        self.today = dt.date.today()
        self._baseline: Any = None                          # Baseline, or the EdgecasesError loading it raised

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
        by_suite: dict[Path, list[Category]] = {}
        suites: dict[Path, Suite] = {}
        for suite, cat in self.selected:
            by_suite.setdefault(suite.path, []).append(cat)
            suites[suite.path] = suite
        cache = self._open_cache()
        try:
            categories = [cat for cats in by_suite.values() for cat in cats]
            versions = library_versions()
            recipes = {path: self._model_recipe(suite, versions, cache) for path, suite in suites.items()}
            if not self.run_id and not all(r and cache.get_model(r) for r in recipes.values()):
                # A model that must be built (one files do not determine, or one not seen before) needs
                # torch whatever the cache holds: import it (seconds of one core) while the images are
                # hashed on the others. Not under xdist: there a worker that finds the run's predictions
                # needs no torch at all.
                with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgecases-hash") as pool:
                    hashing = pool.submit(self._hash_files, categories, cache)
                    try:
                        from . import engine  # noqa: F401
                    finally:
                        hashing.result()
            else:
                with paused_gc():
                    self._hash_files(categories, cache)
            for path, cats in by_suite.items():
                try:
                    self._infer_suite(suites[path], cats, cache, versions, recipes[path])
                except EdgecasesError as exc:
                    self.failures[path] = exc
        finally:
            cache.close()
            note = f"edgecases: {cache.disabled_reason}; ran without it"
            if cache.disabled_reason and note not in self.notes:   # a read-only or full disk: go on, and say so
                self.notes.append(note)

    def _hash_files(self, categories: Iterable[Category], cache: PredictionCache) -> None:
        """SHA-256 of every image ("" for one that cannot be read: its decoder reports it)."""
        # Sorted by name: comparing 20,000 Path objects costs a quarter of a second.
        files = sorted({ex.file for cat in categories for ex in cat.examples} - set(self.shas), key=os.fspath)
        self.shas.update(self._digests(files, cache))

    def _digests(self, files: Sequence[Path], cache: PredictionCache) -> dict[Path, str]:
        """SHA-256 of each file: from the cache's stat memo where its stat is unchanged, else read ("" if unreadable)."""
        stats = {str(f): st for f in files if (st := _stat(f)) is not None}
        known = cache.get_digests(stats)
        now = time.time_ns()

        def sha(file: Path) -> tuple[Path, str, Any]:
            try:
                digest = read_bytes(file)[1]
            except ImageError:
                return file, "", None
            before = stats.get(str(file))
            # Memoised only when the file did not change while it was read, and not so recently that
            # a later change could leave its stat as it is (timestamps have a coarse resolution).
            unsettled = before is None or before != _stat(file) or now - max(before[1], before[2]) < _RACY_NS
            return file, digest, None if unsettled else before

        by_name = {str(f): f for f in files}   # not Path(name): parsing 20,000 paths again costs 0.2 s
        digests = {by_name[p]: digest for p, digest in known.items()}
        memo = {}
        with cf.ThreadPoolExecutor(max_workers=4) as pool:
            for file, digest, stat in pool.map(sha, [f for f in files if str(f) not in known]):
                digests[file] = digest
                if stat is not None:
                    memo[str(file)] = (stat, digest)
        cache.put_digests(memo)
        return digests

    def _env_key(self, fingerprint: str, suite: Suite, custom_source: str, versions: dict[str, str],
                 device_type: str) -> str:
        """Everything but the image that changes a prediction: model, preprocessing, versions, device, precision."""
        # The label count is part of the key: inference checks the model has one output per label,
        # and a prediction made for another label set must not skip that check.
        return _digest(fingerprint, suite.preprocess.describe(), custom_source, json.dumps(versions, sort_keys=True),
                       device_type, self.options.precision, str(len(suite.labels)), NUMERICS, platform.machine())

    def _jobs(self, suite: Suite, categories: Sequence[Category], env_key: str) -> dict[str, tuple]:
        """key -> (file, transform, seed, sha256) for every example; fills self.keys."""
        jobs: dict[str, tuple] = {}
        for cat in categories:
            transform_key = cat.transform.key if cat.transform is not None else ""
            for ex in cat.examples:
                seed = 0
                if cat.transform is not None:
                    from .transforms import seed_for

                    # Identity = path inside the project, so every machine derives the same corruption.
                    seed = seed_for(ex.file.relative_to(self.rootdir).as_posix(), cat.transform)
                sha = self.shas.get(ex.file, "")
                key = _digest(env_key, sha or f"unreadable:{ex.file}", transform_key, str(seed))
                self.keys[(suite.path, cat.test_name, ex.path)] = key
                jobs.setdefault(key, (ex.file, cat.transform, seed, sha))
        return jobs

    def _file_determined(self, suite: Suite) -> bool:
        """Whether files alone determine the suite's model, on a device known without torch.

        A torchvision architecture with a weights file (its code is torchvision's, whose version is
        in the cache key), a TorchScript archive (code and weights in one file), or a factory whose
        suite names the files that define it (`defined_by:`, the user's declaration); on cpu, or auto
        on a machine with no GPU device nodes; with no conftest hook and no preprocess callable.
        Anything else (a factory can read any file or variable) must be built to be known.
        """
        spec = suite.model
        if spec is None or suite.preprocess.callable or self.has_model_hook(suite):
            return False
        declared = bool(spec.defined_by) if spec.kind == "factory" else spec.weights is not None
        return declared and self._device_without_torch is not None

    @functools.cached_property
    def _device_without_torch(self) -> str | None:
        """The device type inference will use, where that is certain without importing torch (else None)."""
        return _torch_free_device(self.options.device)

    def _model_recipe(self, suite: Suite, versions: dict[str, str], cache: PredictionCache) -> str | None:
        """A digest of everything that determines a file-determined model's fingerprint, computed without torch.

        None (build the model) where a file cannot be read or a folder of `defined_by:` links out of the
        project: a change there could not be seen.
        """
        spec = suite.model
        if spec is None or not self._file_determined(suite):
            return None
        files = [spec.weights] if spec.weights is not None else []
        for entry in spec.defined_by:
            found = _source_files(entry)
            if found is None or not all(f.resolve().is_relative_to(self.rootdir) for f in found):
                return None   # gone, or a link out of the project: build the model to know it
            files.extend(found)
        digests = self._digests(files, cache)
        if not all(digests.get(f) for f in files):
            return None   # unreadable: the full path reports it (or the factory does)
        # Names too: moving a source file (or weights) from one place to another can change what is built.
        parts = [f"{f.relative_to(self.rootdir).as_posix()}={digests[f]}" for f in files]
        return _digest("model-recipe-2", spec.kind, spec.target, repr(spec.args), *parts,
                       json.dumps(versions, sort_keys=True), sys.version)

    def _infer_suite(self, suite: Suite, categories: Sequence[Category], cache: PredictionCache,
                     versions: dict[str, str], recipe: str | None) -> None:
        started = time.perf_counter()
        # Under xdist the first worker to take the lock infers; the others wait (asleep), then find its
        # predictions and the model key it computed, and need not build the model or import torch.
        with self._run_lock():
            known = self._known_model(suite, versions, recipe, cache)
            looked_up = None
            if known is not None:
                env_key, fingerprint, device_name = known
                jobs, found = self._lookup(suite, categories, env_key, cache)
                if len(found) == len(jobs):
                    self.predictions.update(found)
                    self._ran(suite, started, fingerprint, device_name, versions, jobs, [], found)
                    return
                looked_up = (env_key, jobs, found)
            self._infer_built(suite, categories, cache, versions, recipe, started, looked_up)

    def _lookup(self, suite: Suite, categories: Sequence[Category], env_key: str,
                cache: PredictionCache) -> tuple[dict[str, tuple], dict[str, Prediction]]:
        """Every example's job, and the predictions the cache holds for them."""
        with paused_gc():
            jobs = self._jobs(suite, categories, env_key)
            return jobs, cache.get_many(jobs)

    def _known_model(self, suite: Suite, versions: dict[str, str], recipe: str | None,
                     cache: PredictionCache) -> tuple[str, str, str] | None:
        """(model key, fingerprint, device) known without building the model: from this xdist run's first
        worker, or for a file-determined model from an earlier run's recipe memo."""
        if self.run_id:
            run = cache.get_run(self.run_id, str(suite.path))
            if run is not None:
                return run["env"], run["model"], run["device"]
        fingerprint = cache.get_model(recipe) if recipe else None
        if fingerprint is None:
            return None
        device = self._device_without_torch or "cpu"
        return self._env_key(fingerprint, suite, "", versions, device), fingerprint, device

    def _infer_built(self, suite: Suite, categories: Sequence[Category], cache: PredictionCache,
                     versions: dict[str, str], recipe: str | None, started: float,
                     looked_up: tuple[str, dict[str, tuple], dict[str, Prediction]] | None = None) -> None:
        """Build the model, then infer what the cache does not hold.

        ``looked_up`` is (model key, jobs, found) from a lookup before building (a known model with
        some images new): reused when the built model has that key, as it does unless something changed.
        """
        from . import engine  # torch is imported here, once --edgecases has been asked for

        device = engine.resolve_device(self.options.device)
        model = engine.load_model(suite, device, self.model_hook)
        pre = engine.Preprocessor(suite.preprocess, suite)
        fingerprint = engine.model_fingerprint(model)
        env_key = self._env_key(fingerprint, suite, _source_digest(pre.custom), versions, device.type)
        if recipe:
            cache.put_model(recipe, fingerprint)
        if self.run_id:
            cache.put_run(self.run_id, str(suite.path), {"env": env_key, "model": fingerprint, "device": str(device)})
        if looked_up is not None and looked_up[0] == env_key:
            _, jobs, found = looked_up
        else:
            jobs, found = self._lookup(suite, categories, env_key, cache)
        try:
            missing = [engine.Job(key=key, file=file, transform=transform, seed=seed, sha256=sha)
                       for key, (file, transform, seed, sha) in jobs.items() if key not in found]
            self.predictions.update(found)
            if missing:
                ticker = _Progress(self.write, len(missing), device.type)
                for batch in engine.predict(missing, model, pre, device, len(suite.labels),
                                            batch_size=self.options.batch_size,
                                            precision=self.options.precision, progress=ticker):
                    cache.put_many(batch)
                    self.predictions.update(batch)
        except EdgecasesError as exc:
            if exc.path is None:   # the model's output is at fault: point at the suite's model
                exc.path, exc.line = suite.display, suite.model.line if suite.model else None
            raise
        self._ran(suite, started, fingerprint, str(device), versions, jobs, missing, found)

    def _ran(self, suite: Suite, started: float, fingerprint: str, device: str, versions: dict[str, str],
             jobs: dict[str, tuple], missing: Sequence[Any], found: dict[str, Prediction]) -> None:
        """Record what inference did (report, baseline) and say so in one line."""
        elapsed = time.perf_counter() - started
        self.run_info[suite.path] = {
            "model": fingerprint[:16], "device": device, "precision": self.options.precision,
            "versions": versions, "preprocess": suite.preprocess.describe(), "images": len(jobs),
            "inferred": len(missing), "cached": len(found), "seconds": round(elapsed, 3),
            "python": platform.python_version(), "date": dt.datetime.now().isoformat(timespec="seconds"),
        }
        self.write(f"edgecases: {suite.name}: {len(jobs)} images, {len(missing)} inferred, "
                   f"{len(found)} from cache, on {device} in {elapsed:.1f}s")

    def _open_cache(self) -> PredictionCache:
        cache = self.memo()
        if cache is not None:
            return cache
        if self.run_id:   # xdist without a cache: share this run's predictions through a temp file
            return PredictionCache(Path(tempfile.gettempdir()) / f"pytest-edgecases-{self.run_id}.sqlite")
        return PredictionCache(None)

    def memo(self) -> PredictionCache | None:
        """The prediction cache, for inference and the report's thumbnail memo (None with --edgecases-no-cache)."""
        if self.options.no_cache or self.options.cache_dir is None:
            return None
        return PredictionCache(self.options.cache_dir / "predictions.sqlite")

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

    def _run_lock(self) -> Any:
        if not self.run_id:
            return contextlib.nullcontext()
        from filelock import FileLock

        return FileLock(str(Path(tempfile.gettempdir()) / f"pytest-edgecases-{self.run_id}.lock"))

    def cleanup_run_files(self) -> None:
        """Remove this run's shared temp files (controller, at the end of an xdist run)."""
        if not self.run_id:
            return
        base = Path(tempfile.gettempdir())
        for suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm", ".lock"):
            try:
                (base / f"pytest-edgecases-{self.run_id}{suffix}").unlink()
            except OSError:
                pass

    def release(self) -> None:
        """Forget the per-example state of a run that is over and reported.

        pytest collects garbage as it exits; 20,000 examples' predictions and results left alive
        make each pass walk some 300,000 objects. Clearing, not just dropping the session: the
        last failure's traceback, which pytest keeps for post-mortem debugging, holds it.
        """
        for held in (self.results, self.local_results, self.predictions, self.keys, self.shas,
                     self.loaded, self.selected):
            held.clear()

    # -- judging ------------------------------------------------------------------------------
    def judge(self, suite: Suite, category: Category, index: int = 0) -> CategoryResult:
        """Judge one category from the session's predictions; raises EdgecasesError if it cannot be."""
        with paused_gc():
            return self._judge(suite, category, index)

    def _judge(self, suite: Suite, category: Category, index: int) -> CategoryResult:
        if suite.path in self.failures:
            raise self.failures[suite.path]
        scored = []
        for ex in category.examples:
            key = self.keys.get((suite.path, category.test_name, ex.path))
            pred = self.predictions.get(key) if key else None
            if pred is None:
                raise EdgecasesError(f"no prediction for {ex.path}: the category was not prepared",
                                     suite.display, category.line)
            scored.append(Scored(ex, pred, self.shas.get(ex.file, "")))
        reviews = self.loaded[suite.path].reviews if suite.path in self.loaded else {}
        result = judge(suite, category, scored, reviews, today=self.today, run=self.run_info.get(suite.path, {}))
        if self.options.baseline:
            result = self._against_baseline(suite, category, scored, reviews, result)
        result.index = index
        return result

    # -- baseline comparison ------------------------------------------------------------------
    def _against_baseline(self, suite: Suite, category: Category, scored: Sequence[Scored],
                          reviews: dict[tuple[str, str], Review], result: CategoryResult) -> CategoryResult:
        """Compare with the baseline; judge again with its thresholds as extra checks when the category sets any."""
        from .baseline import baseline_checks, compare

        comparison = compare(result, self._load_baseline())
        th = category.thresholds
        checks = baseline_checks(comparison, th.max_accuracy_drop, th.max_new_failures)
        if checks:   # the pairing needs the judged examples, so the thresholds join on a second, pure judge
            result = judge(suite, category, scored, reviews, today=self.today, extra_checks=checks,
                           run=self.run_info.get(suite.path, {}))
        result.baseline = comparison
        return result

    def _load_baseline(self) -> Any:
        """The --edgecases-baseline file, read once per process; raises the same EdgecasesError for every item."""
        cached = self._baseline
        if cached is None:
            from .baseline import load_baseline

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


def _stat(path: Path) -> tuple[int, int, int, int, int] | None:
    """What the stat memo compares: size, mtime, ctime, inode, device (None if it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def _source_files(entry: Path) -> list[Path] | None:
    """The files `defined_by:` names: the file itself, or every file below a folder (sorted; caches and
    dot-files aside). None when it has gone since the suite was read."""
    if entry.is_file():
        return [entry]
    if not entry.is_dir():
        return None
    return sorted(p for p in entry.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and not any(part.startswith(".") for part in p.relative_to(entry).parts))


def _torch_free_device(requested: str) -> str | None:
    """The device type `requested` resolves to when that is certain without importing torch, else None.

    `auto` is cpu for sure only where no GPU can be used: a torch build for neither CUDA nor ROCm
    (not on macOS, where MPS may be there), or a Linux machine without any GPU device node.
    """
    requested = (requested or "auto").strip().lower()
    if requested == "cpu":
        return "cpu"
    if requested != "auto" or sys.platform == "darwin":
        return None
    gpu_build = _torch_gpu_build()
    if gpu_build is None:
        return None
    if not gpu_build:
        return "cpu"
    return "cpu" if sys.platform.startswith("linux") and not _gpu_device_nodes() else None


def _torch_gpu_build() -> bool | None:
    """Whether the installed torch is built for CUDA or ROCm, read from torch/version.py (None: cannot tell)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("torch")
        folder = next(iter(spec.submodule_search_locations or [])) if spec else None
        text = (Path(folder) / "version.py").read_text() if folder else ""
    except (ImportError, OSError, StopIteration, ValueError):
        return None
    found = {}
    for name in ("cuda", "hip"):
        match = re.search(rf"^{name}\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
        if match is None:
            return None
        found[name] = match[1].strip() != "None"
    return any(found.values())


def _gpu_device_nodes(dev: Path = Path("/dev"), driver: Path = Path("/proc/driver/nvidia")) -> bool:
    """True when a node an NVIDIA, AMD (kfd) or WSL (dxg) GPU needs exists, or /dev cannot be read."""
    try:
        names = os.listdir(dev)
    except OSError:
        return True
    return driver.exists() or any(n.startswith("nvidia") or n in ("kfd", "dxg") for n in names)


def _source_digest(func: Any) -> str:
    """Digest of a custom preprocess callable's source, so editing it invalidates the cache."""
    if func is None:
        return ""
    import inspect

    try:
        return _digest(inspect.getsource(inspect.getmodule(func) or func))
    except (OSError, TypeError):
        return _digest(repr(func))


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
