"""The Ray engine: the jobs the cache lacks run as Ray Data ``map_batches`` over an actor pool (imports ray).

The driver (this process) builds the model once on its CPU with the local engine's ``ready`` to learn
what it is, so predictions are keyed as the local engine's are and either engine's cache entries serve
the other. Each actor builds the model with the same function from the suite's model: section and
refuses to infer if its fingerprint differs from the driver's (a worker with other code, weights or
library versions would otherwise cache its answers under this model's key). Actors infer with
predict.py's ``prepare`` and ``forward``, reading each image at the path the driver sees (a shared
file system), and return the SHA-256 of the bytes they read: the driver refuses other bytes, naming
the file. Results stream back block by block and are yielded as they come: infer.py caches each, so
Ctrl-C keeps what finished.

Shipped to the workers through Ray's runtime environment: this package (``py_modules``), so they run
the driver's pytest-edgecases. The suite's own files (model code, weights, a preprocess callable) and the
images are read where the driver reads them; torch and the model's libraries come from the workers' Python.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa
import ray
import ray.data
import torch

from ..errors import EdgecasesError
from ..prediction import Prediction
from ..suite import Suite
from ..transforms import Level
from ..validate import shown_path
from .device import resolve_device
from .local import ready
from .predict import DTYPES, channels_last, forward, prepare, thread_plan
from .runner import Job, ModelIdentity, Progress, RaySettings

#: What an actor returns per job: the key, the bytes' SHA-256 it read, and the prediction or the error; or, for a
#: whole batch, the error that stops the run (``fatal``: a model that cannot be built, or answers in the wrong shape).
RESULT_SCHEMA = pa.schema([("key", pa.string()), ("read", pa.string()), ("error", pa.string()),
                           ("labels", pa.list_(pa.int64())), ("probs", pa.list_(pa.float64())),
                           ("fatal", pa.string())])

#: Times Ray restarts an actor that died (and retries its batch) before the batch's images fail with the reason.
RESTARTS = 2

#: A block is a batch (results stream back, and are cached, a batch at a time), up to this many blocks.
MAX_BLOCKS = 10_000


@dataclasses.dataclass(frozen=True)
class ActorPlan:
    """What every actor is told: how to build and check the model, and how to read a job."""

    fingerprint: str                  # the driver's model: an actor that builds another refuses to infer
    device_type: str                  # cpu, or cuda with GPUs per actor
    precision: str
    transforms: tuple[Level, ...]     # a job names its transform by index (rows stay plain Arrow values)
    paths: tuple[str, ...]            # the driver's import paths inside the project (where the model code is)


class RayRunner:
    """A Runner: the suite's model on a Ray cluster's actors (identified on the driver, as locally)."""

    def __init__(self, suite: Suite, *, settings: RaySettings, batch_size: int, precision: str):
        self.suite, self.settings, self.batch_size, self.precision = suite, settings, batch_size, precision
        self.identity: ModelIdentity | None = None

    def identify(self) -> ModelIdentity:
        """Build the model here, on the CPU, to fingerprint it; say where it will run."""
        built = ready(self.suite, torch.device("cpu"))
        device_type = "cuda" if self.settings.gpus_per_actor > 0 else "cpu"
        self.identity = dataclasses.replace(built.identity, device=f"{device_type} (Ray)", device_type=device_type)
        return self.identity   # the driver's copy of the model is dropped: the actors build their own

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> Iterator[dict[str, Prediction]]:
        """Predictions as the actors' batches come back (identify first)."""
        assert self.identity is not None, "identify() fingerprints the model"
        connect(self.settings)
        transforms = tuple(dict.fromkeys(job.transform for job in jobs if job.transform is not None))
        index = {level: i for i, level in enumerate(transforms)}
        items = [{"key": job.key, "file": os.fspath(job.file), "seed": str(job.seed), "sha256": job.sha256,
                  "t": -1 if job.transform is None else index[job.transform]} for job in jobs]
        plan = ActorPlan(self.identity.fingerprint, self.identity.device_type, self.precision, transforms,
                         _project_paths(self.suite.root))
        blocks = max(1, min(MAX_BLOCKS, math.ceil(len(items) / self.batch_size)))
        actors = min(pool_size(self.settings), blocks)   # an actor with no batch to take would only build the model
        with quiet(not self.settings.progress_bars):
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = ctx.print_on_execution_start = self.settings.progress_bars
            # max_restarts: Ray Data's default restarts a dying actor forever (an image that crashes the model
            # would loop); passed the one way Ray Data takes it, which it has deprecated without a successor.
            dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                Predictor, fn_constructor_args=(_slim(self.suite), plan), batch_size=self.batch_size,
                batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=actors),
                num_gpus=self.settings.gpus_per_actor or None, max_restarts=RESTARTS, max_task_retries=RESTARTS)
        return self._collect(dataset, {job.key: job for job in jobs}, progress)

    def _collect(self, dataset: Any, jobs: dict[str, Job],
                 progress: Progress | None) -> Iterator[dict[str, Prediction]]:
        done: set[str] = set()   # a retried batch's results replace its first ones: each image counts once
        with quiet(not self.settings.progress_bars):
            batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0))
        try:
            while True:
                with quiet(not self.settings.progress_bars):   # not across the yield: infer.py runs there
                    block = next(batches, None)
                if block is None:
                    break
                out = self._received(block, jobs)
                done.update(out)
                if progress:
                    progress(len(done), len(jobs))
                yield out
        except EdgecasesError:
            raise
        except Exception as exc:   # Ray gave up (an actor died past its restarts, the cluster went away)
            text = str(exc).strip().splitlines()
            reason = f"Ray failed: {type(exc).__name__}: {text[-1][:300] if text else ''}"
            rest = {key: Prediction(error=reason) for key in jobs if key not in done}   # errors are never cached
            if rest:
                yield rest
        finally:   # stop the Ray job now (a refused file, Ctrl-C), not when the dataset is collected: on Ctrl-C that
            # is at the interpreter's exit, after Ray's exit handler has shut Ray down (Ray 2.55 then ends the
            # process with status 1 instead of pytest's 2)
            with quiet(not self.settings.progress_bars):
                if ray.is_initialized():
                    close = getattr(batches, "close", None)
                    if close is not None:
                        close()
                    _stop(dataset)

    def _received(self, block: pa.Table, jobs: dict[str, Job]) -> dict[str, Prediction]:
        """One block's predictions; raises on a batch that stopped the run, or on bytes other than the driver's."""
        out: dict[str, Prediction] = {}
        for row in block.to_pylist():
            if row["fatal"]:
                message, path, line, hint = json.loads(row["fatal"])
                raise EdgecasesError(message, path, line, hint=hint)
            job = jobs[row["key"]]
            # Bytes read there and none here (unreadable on the driver) are other bytes too: a prediction
            # from them would be cached under the key of a file this machine cannot read.
            if row["read"] and row["read"] != job.sha256:
                shown = shown_path(Path(job.file), self.suite.root)
                raise EdgecasesError(f"a Ray worker read other bytes than this machine for this image "
                                     f"(sha256 {row['read'][:12]}…, here "
                                     f"{job.sha256[:12] + '…' if job.sha256 else 'unreadable'})", shown,
                                     hint="the workers must see the driver's files at the same paths, unchanged: "
                                          "a shared file system (docs/scaling.md)")
            if row["error"] is not None:
                out[job.key] = Prediction(error=row["error"] if row["read"] else f"on a Ray worker: {row['error']}")
            else:
                out[job.key] = Prediction(top=tuple(zip(row["labels"], row["probs"], strict=True)))
        return out


class Predictor:
    """A Ray Data actor: the suite's model, built once, and one batch of jobs per call."""

    def __init__(self, suite: Suite, plan: ActorPlan):
        self.suite, self.plan, self.fatal = suite, plan, None
        sys.path[:0] = [p for p in plan.paths if p not in sys.path]
        try:
            self.device = resolve_device(plan.device_type)
            self.model, self.pre, identity = ready(suite, self.device)
        except EdgecasesError as exc:
            self.fatal = _fatal(exc)
            return
        if identity.fingerprint != plan.fingerprint:
            self.fatal = _fatal(EdgecasesError(
                "a Ray worker built another model than this machine (its fingerprint differs)", suite.display,
                suite.model.line if suite.model else None,
                hint="the workers must read the same model code and weights (a shared file system) and have "
                     "the same library versions as this machine (docs/scaling.md)"))
            return
        if self.device.type == "cpu":
            self.model = channels_last(self.model)
        cores = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)) or 1
        decode, threads = thread_plan(self.device, cores)
        if threads is not None:
            torch.set_num_threads(threads)
        self.pool = cf.ThreadPoolExecutor(max_workers=decode, thread_name_prefix="edgecases-decode")

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        jobs = [Job(r["key"], r["file"], self.plan.transforms[r["t"]] if r["t"] >= 0 else None, int(r["seed"]),
                    r["sha256"], measure=False) for r in rows]   # properties: measured.py, on the driver, if asked
        if self.fatal is not None:
            return _table([{"key": job.key, "read": "", "fatal": self.fatal} for job in jobs])
        prepared = list(self.pool.map(lambda job: prepare(job, self.pre), jobs))
        read = {job.key: p.sha256 for job, p in zip(jobs, prepared, strict=True)}
        out = {job.key: Prediction(error=p.value) for job, p in zip(jobs, prepared, strict=True)
               if isinstance(p.value, str)}
        ok = [(job, p.value) for job, p in zip(jobs, prepared, strict=True) if not isinstance(p.value, str)]
        if ok:
            dtype = DTYPES[self.plan.precision]
            try:
                with torch.inference_mode():
                    out.update(forward([job for job, _ in ok], [t for _, t in ok], self.model, self.pre,
                                       self.device, len(self.suite.labels), dtype, dtype != torch.float32))
            except EdgecasesError as exc:
                return _table([{"key": job.key, "read": read[job.key], "fatal": _fatal(exc)} for job in jobs])
        return _table([{"key": key, "read": read[key], "error": p.error,
                        "labels": [i for i, _ in p.top] if p.error is None else None,
                        "probs": [v for _, v in p.top] if p.error is None else None} for key, p in out.items()])


@contextlib.contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """Without -v, Ray's log lines and its deprecation warnings (meant for this plugin's developers) are not shown."""
    if not on:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)   # Ray 2.55's "Tip: in future versions of Ray…"
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def connect(settings: RaySettings) -> None:
    """Join this process's Ray connection, the cluster named (option, else RAY_ADDRESS), or start a local
    instance. Ray's own log lines and the workers' output only with -v."""
    if ray.is_initialized():   # a conftest.py may have called ray.init (its own runtime_env, namespace…)
        return
    address = settings.address or os.environ.get("RAY_ADDRESS") or None
    terse = {} if settings.progress_bars else {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        with quiet(not settings.progress_bars):
            if address is None:
                ray.init(include_dashboard=False, runtime_env=runtime_env(), **terse)
            else:
                ray.init(address=address, runtime_env=runtime_env(), **terse)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise EdgecasesError(f"cannot start or reach Ray{f' at {address}' if address else ''}: "
                             f"{text[0][:300] if text else type(exc).__name__}",
                             hint="check --edgecases-ray-address (or RAY_ADDRESS), or run with "
                                  "--edgecases-engine=local") from None


def runtime_env() -> dict[str, Any]:
    """What this run ships to Ray's workers: this package, so they run the driver's pytest-edgecases (Ray
    uploads a folder only for a whole job, at ray.init: a conftest.py that calls ray.init itself passes this)."""
    return {"py_modules": [str(Path(__file__).resolve().parents[1])]}


def pool_size(settings: RaySettings) -> int:
    """--edgecases-ray-actors, else as many actors as the cluster has GPUs (or CPUs) for; raises when it
    has too few GPUs for one actor (Ray would wait for them forever)."""
    resources = ray.cluster_resources()
    if settings.gpus_per_actor > 0:
        room = int(resources.get("GPU", 0) // settings.gpus_per_actor)
        if room < 1:
            raise EdgecasesError(f"--edgecases-ray-gpus-per-actor={settings.gpus_per_actor:g}, but the Ray cluster "
                                 f"has {resources.get('GPU', 0):g} GPUs", hint="use 0 to infer on the workers' CPUs")
    else:
        room = int(resources.get("CPU", 1))
    return settings.actors or max(1, room)


def _project_paths(root: Path) -> tuple[str, ...]:
    """The driver's import paths inside the project (the rootdir, a src/ folder, the suite's folder that
    import_callable adds): the workers' Python looks there too, so the model's code imports alike."""
    paths = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if path.is_relative_to(root) and str(path) not in paths:
            paths.append(str(path))
    return tuple(paths)


def _stop(dataset: Any) -> None:
    """Shut a dataset's streaming execution down (its actors, its threads). Ray Data has no public call for an
    iteration left early; Dataset keeps its executor here (Ray 2.55 to 2.60) and stops it so in its own __del__."""
    executor = getattr(dataset, "_current_executor", None)
    if executor is not None:
        executor.shutdown(force=True)
        dataset._current_executor = None


def _slim(suite: Suite) -> Suite:
    """The suite without its examples, for the actors (the jobs carry what they need of them)."""
    return dataclasses.replace(suite, categories=(), line_of={}, annotation_files=())


def _fatal(exc: EdgecasesError) -> str:
    return json.dumps([exc.message, exc.path, exc.line, exc.hint])


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
