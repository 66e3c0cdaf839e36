"""Saliency for the examples the report shows, computed once on the controller at the end of the run.

Why the controller: only it knows which examples the report shows (failures, at most FAILURE_CAP per
category, and the review queue's first IMAGE_CAP), and under pytest-xdist it is the one process that
sees every result; one process explaining in a fixed order gives the same maps with ``-n 2`` as without.
The model is built again here (inference's runner is gone, or lives in a worker), unless the cache
holds every map: maps are keyed by the fingerprint of the model the run judged (keys.saliency_key),
so a warm rerun builds nothing. Each map lands on its ExampleResult, for the results file and report.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .errors import EdgecasesError
from .explain_spec import AUTO, EXTRA, Request, captum_missing, request
from .inference import keys
from .inference.runner import Job
from .records import CategoryResult, ExampleResult, Saliency
from .report.model import FAILURE_CAP
from .report.review import IMAGE_CAP
from .suite import Suite

if TYPE_CHECKING:
    from .session import EdgecasesSession

@dataclass(frozen=True)
class Target:
    """One map to have: an example, which of its two maps, and the label index it is for."""

    result: CategoryResult
    example: ExampleResult
    expected: bool                # the map for the expected label (else for the predicted one)
    index: int


def prefetch() -> None:
    """Import Captum (and torch) in a background thread while the run infers and judges.

    Captum's import pulls in matplotlib for its plots: most of a second that the maps, made at the end,
    would otherwise add to the run. Imports are mostly Python bytecode and inference mostly torch
    kernels that release the GIL, so the two overlap; under xdist the controller is idle anyway.
    """
    def load() -> None:
        try:
            import captum.attr  # noqa: F401
        except Exception:  # noqa: BLE001 - explaining imports it again, and reports what is wrong then
            pass

    threading.Thread(target=load, name="edgecases-import-captum", daemon=True).start()


def shown(results: Sequence[CategoryResult], queue: Sequence[dict]) -> list[tuple[CategoryResult, ExampleResult]]:
    """The examples the report shows an image of: each category's first failures (the gallery's order and
    cap), then the review queue's first IMAGE_CAP entries; each once."""
    out: dict[tuple[str, str, str], tuple[CategoryResult, ExampleResult]] = {}
    for r in results:
        for e in r.failures()[:FAILURE_CAP]:
            out.setdefault((r.suite_file, r.category, e.path), (r, e))
    by_key = {(r.suite_file, r.category): r for r in results}
    for entry in queue[:IMAGE_CAP]:
        r = by_key.get((str(entry.get("suite_file")), str(entry.get("category"))))
        e = next((x for x in r.examples if x.path == entry.get("image")), None) if r is not None else None
        if r is not None and e is not None:
            out.setdefault((r.suite_file, r.category, e.path), (r, e))
    return list(out.values())


def targets(pairs: Sequence[tuple[CategoryResult, ExampleResult]]) -> list[Target]:
    """The maps to make: each scored example's predicted label and, where it differs, its expected one."""
    out = []
    for r, e in pairs:
        if e.error or e.predicted not in r.labels:
            continue
        out.append(Target(r, e, False, r.labels.index(e.predicted)))
        if e.label in r.labels and e.label != e.predicted:
            out.append(Target(r, e, True, r.labels.index(e.label)))
    return out


def explain_results(edge: EdgecasesSession, queue: Sequence[dict]) -> None:
    """Attach saliency to the shown examples of every suite that asks for it; errors go to ``edge.notes``
    and ``edge.explain_errors`` (the run then fails: a map asked for and not made is not silently dropped)."""
    by_suite: dict[str, list[tuple[CategoryResult, ExampleResult]]] = {}
    for r, e in shown(edge.results, queue):
        by_suite.setdefault(r.suite_file, []).append((r, e))
    for file, pairs in sorted(by_suite.items()):
        try:
            suite = edge.load(edge.rootdir / file).suite
            asked = request(edge.options.explain, suite.explain)
            if asked is not None:
                _explain_suite(edge, suite, asked, targets(pairs))
        except EdgecasesError as exc:
            edge.explain_errors.append(exc)
            edge.notes.append(f"edgecases: no saliency maps: {exc}")
        except Exception as exc:  # noqa: BLE001 - Captum or the model failing must not lose the run's outputs
            error = EdgecasesError(f"making the saliency maps failed: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0][:300] if str(exc) else ''}", file)
            edge.explain_errors.append(error)
            edge.notes.append(f"edgecases: no saliency maps: {error}")


def _explain_suite(edge: EdgecasesSession, suite: Suite, asked: Request, wanted: list[Target]) -> None:
    if not wanted:
        return
    if captum_missing():
        raise EdgecasesError("saliency maps need Captum, which is not installed", suite.display, asked.line or None,
                             hint=EXTRA)
    started = time.perf_counter()
    run = wanted[0].result.run
    versions = dict(run.versions) if run.versions else keys.library_versions()
    files = {(cat.test_name, ex.path): ex.file for cat in suite.categories for ex in cat.examples}
    wanted = [t for t in wanted if (t.result.category, t.example.path) in files]   # the suite may have changed
    jobs = {id(t): _job(edge.rootdir, suite, t, files[(t.result.category, t.example.path)]) for t in wanted}
    store = edge.memo()
    runner = None
    try:
        # The model and a custom preprocess callable's source: a map is of the model's input as much as of the model.
        model = f"{run.model}:{run.preprocess_source or ''}"
        if run.model is None:   # judged from predictions files: only the model built here says what it is
            runner = _runner(edge, suite)
            identity = runner.identify()
            model = f"{identity.fingerprint[:16]}:{identity.custom_source[:16]}"
        # Maps are made here, by a model built here, on the requested device, whatever ran inference. `auto`
        # is keyed as such: resolving it would import torch on a rerun that finds every map cached.
        device_type = edge.options.device.split(":")[0]
        method = str(asked.method or AUTO)
        key_of = {id(t): keys.saliency_key(model, jobs[id(t)].key, method, asked.layer or "", t.index,
                                           versions, device_type) for t in wanted}
        found = {k: store.get_blob(k) for k in key_of.values()} if store is not None else {}
        missing = [t for t in wanted if found.get(key_of[id(t)]) is None]
        made = _compute(edge, suite, asked, missing, jobs, runner) if missing else {}
        for t in wanted:
            key = key_of[id(t)]
            value = made.get((jobs[id(t)].key, t.index))
            if value is not None and store is not None:
                store.put_blob(key, _encode(value))
            saliency = value or _decode(found.get(key))
            if saliency is not None:
                setattr(t.example, "saliency_expected" if t.expected else "saliency",
                        Saliency(saliency.method, t.result.labels[t.index], saliency.grid))
    finally:
        if store is not None:
            store.close()
    edge.write(f"edgecases: {suite.name}: saliency for {len({id(t.example) for t in wanted})} examples, "
               f"{len(missing)} maps made, {len(wanted) - len(missing)} from cache, "
               f"in {time.perf_counter() - started:.1f}s")


def _compute(edge: EdgecasesSession, suite: Suite, asked: Request, missing: list[Target], jobs: dict[int, Job],
             runner: Any) -> dict[tuple[str, int], Saliency]:
    """Build the model (where not yet) and make the missing maps, batched; {(input key, target): map}."""
    from .inference.explain import Wanted, attributions  # torch and Captum: only when a map is made

    runner = runner or _runner(edge, suite)
    if runner.built is None:
        runner.identify()
    per_job: dict[str, list[int]] = {}
    job_of: dict[str, Job] = {}
    for t in missing:   # one image, both its targets: they share a batch
        job = jobs[id(t)]
        job_of[job.key] = job
        if t.index not in per_job.setdefault(job.key, []):
            per_job[job.key].append(t.index)
    wanted = [Wanted(job_of[k], tuple(v)) for k, v in per_job.items()]
    out: dict[tuple[str, int], Saliency] = {}
    for chosen, grids in attributions(runner.built.model, runner.built.pre, runner.device, wanted, asked, suite.display,
                                      batch_size=edge.options.batch_size):
        for key, grid in grids.items():
            out[key] = Saliency(str(chosen.method), "", grid)
    return out


def _runner(edge: EdgecasesSession, suite: Suite) -> Any:
    """The in-process runner, whatever ran inference: a map needs the model's own gradients, here."""
    from .inference.local import LocalRunner  # torch: only when a model must be built

    return LocalRunner(suite, device=edge.options.device, batch_size=edge.options.batch_size,
                       precision=edge.options.precision, model_hook=edge.model_hook)


def _job(rootdir: Path, suite: Suite, t: Target, file: str) -> Job:
    """The example as inference saw it (its transform and seed); keyed by its model input's key."""
    category = suite.category(t.result.category)
    seed = keys.example_seed(file, rootdir, category.transform)
    key = keys.input_key(t.example.sha256, file, category.transform, seed, suite.preprocess.describe())
    return Job(key, file, category.transform, seed, t.example.sha256)


def _encode(value: Saliency) -> str:
    return json.dumps({"method": value.method, "grid": value.grid}, separators=(",", ":"))


def _decode(text: str | None) -> Saliency | None:
    """A memoised map, or None for anything malformed (it is made again)."""
    try:
        data = json.loads(text) if text else None
        return Saliency.from_json({"method": data["method"], "target": "", "grid": data["grid"]}) if data else None
    except (ValueError, KeyError, TypeError):
        return None
