"""Each selected example's image properties: from inference's own decode, from the store, or decoded here.

Properties do not depend on the model: they are stored under keys.properties_key (the image's bytes
and its transform), so a new model measures nothing again. Each category's are also stored together,
in one row under keys.properties_bundle_key (its images' keys, in order): a warm rerun reads one row
per category, not one per image (a row per image, read and checked, cost 10 µs: 22% of a 20,000-image
warm rerun; docs/slices.md has the figures).
An image inference has just decoded brings its properties with its prediction (predict.prepare);
one whose prediction was cached, or came from a predictions file, is decoded here (once, then stored).
An image that cannot be read has none.

Inference stores the properties of each batch as it stores its predictions (``by_image``), so an
interrupted run keeps them, and the other workers of a pytest-xdist run find them in the store.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

from ..prediction import ImageProperties, Prediction
from ..suite import Category, Example, Suite
from . import keys
from .properties import Source, measure_files
from .runner import Job
from .store import PredictionCache

if TYPE_CHECKING:
    from .inferred import Inferred


class Gathered(NamedTuple):
    """How many distinct images' properties came from where (what tests and benchmarks count)."""

    stored: int      # read from the store
    inferred: int    # measured by this run's inference, as it decoded
    decoded: int     # decoded here to be measured


def by_image(batch: Mapping[str, Prediction], jobs: Mapping[str, Job]) -> dict[str, ImageProperties]:
    """The properties a batch of predictions brought, under their images' keys (to store beside them)."""
    out = {}
    for key, prediction in batch.items():
        job = jobs.get(key)
        if prediction.properties is not None and job is not None and job.sha256:
            out[keys.properties_key(job.sha256, job.transform, job.seed)] = prediction.properties
    return out


def unmeasured(jobs: Sequence[Job], store: PredictionCache) -> list[Job]:
    """The jobs, those whose image's properties the store holds marked not to be measured again (a model
    change infers every image anew, but its images are the same)."""
    of = {job.key: keys.properties_key(job.sha256, job.transform, job.seed) for job in jobs if job.sha256}
    stored = store.get_properties(set(of.values()))
    return [job._replace(measure=False) if of.get(job.key) in stored else job for job in jobs]


def gather(selected: Sequence[tuple[Suite, Category]], inferred: Inferred, store: PredictionCache, rootdir: Path,
           threads: int | None = None) -> Gathered:
    """Fill ``inferred.properties`` for every readable example of the selected categories.

    A category whose images' properties the store holds as one bundle (its examples' keys, in order:
    keys.properties_bundle_key) is read in one row; the others image by image (the store's rows, the
    run's inference, or a decode here), and then stored as a bundle for the next run.
    """
    bundled: set[str] = set()   # keys read from a bundle
    pending: list[tuple[Suite, Category, list[Example], list[str], str]] = []
    wanted: dict[str, tuple[Suite, Category, Example, int]] = {}   # a key's first example, and its seed
    for suite, cat in selected:
        examples, cat_keys = _keyed(cat, inferred.shas, rootdir)
        bundle = keys.properties_bundle_key(cat_keys)
        found_bundle = store.get_properties_bundle(bundle, len(cat_keys))
        if found_bundle is not None:
            suite_path, name = suite.path, cat.test_name   # once, not per example (test_name is computed)
            places = [(suite_path, name, ex.path) for ex in examples]
            inferred.properties.update(zip(places, found_bundle, strict=True))
            bundled.update(cat_keys)
            continue
        pending.append((suite, cat, examples, cat_keys, bundle))
        for ex, key in zip(examples, cat_keys, strict=True):
            if key not in wanted:
                wanted[key] = (suite, cat, ex, keys.example_seed(ex.file, rootdir, cat.transform))
    found = store.get_properties(wanted)
    new: dict[str, ImageProperties] = {}
    missing: list[str] = []
    for key, (suite, cat, ex, _) in wanted.items():
        if key in found:
            continue
        prediction = inferred.prediction(suite, cat, ex)   # just inferred: measured as it was decoded
        if prediction is not None and prediction.properties is not None:
            new[key] = prediction.properties
        else:
            missing.append(key)
    sources = [Source(ex.file, inferred.shas[ex.file], cat.transform, seed)
               for _, cat, ex, seed in (wanted[k] for k in missing)]
    decoded = 0
    for key, props in zip(missing, measure_files(sources, threads), strict=True):
        if props is not None:
            new[key] = props
            decoded += 1
    store.put_properties(new)
    known = {**found, **new}
    for suite, cat, examples, cat_keys, bundle in pending:
        props = [known.get(key) for key in cat_keys]
        for ex, value in zip(examples, props, strict=True):
            if value is not None:
                inferred.properties[(suite.path, cat.test_name, ex.path)] = value
        if None not in props:   # an image not measured (its transform failed): no bundle, tried again next run
            store.put_properties_bundle(bundle, props)
    return Gathered(stored=len(bundled | found.keys()), inferred=len(new) - decoded, decoded=decoded)


def _keyed(cat: Category, shas: Mapping[str, str], rootdir: Path) -> tuple[list[Example], list[str]]:
    """The category's readable examples (an unreadable one has no properties: inference reports it), each
    with the key its properties are stored under."""
    transform = cat.transform
    found = list(map(shas.get, [ex.file for ex in cat.examples]))
    examples = [ex for ex, sha in zip(cat.examples, found, strict=True) if sha]
    seeds = None if transform is None else [keys.example_seed(ex.file, rootdir, transform) for ex in examples]
    return examples, keys.properties_keys([sha for sha in found if sha], transform, seeds)
