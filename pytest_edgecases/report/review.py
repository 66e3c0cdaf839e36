"""The data behind the report's review mode: the queue's examples, large images, suites' labels.

Review mode (report/review.js) is driven entirely by this one JSON document, embedded as the
text of an inert ``<template>`` (the page keeps exactly one script, the hashed one): Jinja
escapes it as any text, the script reads it back with JSON.parse and writes what it shows as
text, never as markup. Markup characters are also JSON-escaped, so the document holds no ``<``
at all, whatever a file name, label or comment contains.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

from ..images import cpu_count
from ..records import CategoryResult, ExampleResult
from ..review_queue import REPORT_ENTRIES
from .heatmap import heat_uri
from .model import ReportContext
from .thumbs import Thumbnailer, file_thumbnailer
from .view import thumb

#: Most queue entries review mode offers; the queue file (--edgecases-review-queue) holds them all.
REVIEW_CAP = REPORT_ENTRIES
#: Most large images inlined (the first of the queue: the most urgent); a large image is ~10-30 kB
#: for a photo, so this bounds what review mode adds to the report's size.
IMAGE_CAP = 100
#: The large image's longest side; smaller images are scaled up in the page (pixelated), not here.
IMAGE_SIDE = 320
#: What HTML could read as the end of the script element or a comment, as JSON escapes.
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass
class ReviewSuite:
    """A suite as review mode needs it: its labels for the picker and where annotation files go."""

    name: str
    file: str
    labels: list[str]
    annotations: list[str]              # the suite's `annotations:` places, shown from the root; [] when none


@dataclass
class ReviewItem:
    """One queue entry as review mode shows and annotates it."""

    suite: int                          # index into ReviewData.suites
    image: str                          # relative to the suite file, as annotations address it
    category: str                       # the test name (a synthetic level is named like its test)
    description: str
    label: str | None
    predicted: str | None
    confidence: float | None
    top: list[list[Any]]
    reason: str
    severity: str
    sha256: str
    accept: list[str] = field(default_factory=list)
    votes: list[list[str]] = field(default_factory=list)   # earlier reviewers' [name, verdict]
    comment: str = ""                   # earlier reviewers' comments
    img: str | None = None              # a data URI, or None (over IMAGE_CAP, or unreadable)
    heat: str | None = None             # saliency heat maps (heatmap.heat_uri), where img is shown
    heat_expected: str | None = None
    method: str = ""                    # the attribution method that made them


@dataclass
class ReviewData:
    """Everything review mode reads."""

    run: str                            # localStorage key part: one run's work never mixes with another's
    generated: str
    suites: list[ReviewSuite]
    items: list[ReviewItem]
    total: int                          # queue length before REVIEW_CAP
    image_cap: int = IMAGE_CAP

    def to_json(self) -> str:
        """The document for the page: JSON with no markup characters in it."""
        doc = {**_shallow(self), "suites": [_shallow(s) for s in self.suites],
               "items": [_shallow(i) for i in self.items]}
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        for char, escape in _ESCAPES.items():
            text = text.replace(char, escape)
        return text


def _shallow(record: ReviewData | ReviewSuite | ReviewItem) -> dict[str, Any]:
    """A record's fields as a dict, as dataclasses.asdict gives them but without its deep copy of every
    value (the items' fields are plain JSON values already): asdict took 40 ms of a warm rerun."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def review_data(results: Sequence[CategoryResult], context: ReportContext, generated: str) -> ReviewData | None:
    """Review mode's data, or None when the queue is empty (the page then has no Review button)."""
    queue = [e for e in context.review_queue if isinstance(e, Mapping)]
    if not queue:
        return None
    by_key = {(r.suite_file, r.category): r for r in results}
    wanted = {(str(q.get("suite_file", "")), str(q.get("category", "")), str(q.get("image", ""))) for q in queue}
    # Only the queued examples: a dict of every example of a large suite would be a peak of its own.
    examples = {place: e for r in results for e in r.examples
                if (place := (r.suite_file, r.category, e.path)) in wanted}
    suites: list[ReviewSuite] = []
    suite_index: dict[str, int] = {}
    for r in results:
        if r.suite_file not in suite_index:
            suite_index[r.suite_file] = len(suites)
            suites.append(ReviewSuite(name=r.suite, file=r.suite_file, labels=[str(x) for x in r.labels],
                                      annotations=list(context.annotations.get(r.suite_file, ()))))
    items: list[ReviewItem] = []
    sources: list[tuple[CategoryResult, ExampleResult] | None] = []
    for q in queue:
        if len(items) == REVIEW_CAP:
            break
        file, category, image = str(q.get("suite_file", "")), str(q.get("category", "")), str(q.get("image", ""))
        result, example = by_key.get((file, category)), examples.get((file, category, image))
        if result is None or example is None:   # a caller's entry naming nothing in the results
            continue
        items.append(ReviewItem(
            suite=suite_index[file], image=image, category=category, description=result.description,
            label=example.label, predicted=example.predicted, confidence=example.confidence,
            top=[[str(t[0]), t[1]] for t in example.top[:3]], reason=str(q.get("reason") or ""),
            severity=str(example.severity), sha256=example.sha256, accept=list(example.accept),
            votes=[[str(a), str(b)] for a, b in example.votes], comment=example.comment))
        sources.append((result, example) if len(sources) < IMAGE_CAP else None)
    _large_images(items, sources, context)
    run = hashlib.sha256(json.dumps([generated, [(s.file, s.name) for s in suites],
                                     [(i.suite, i.category, i.image) for i in items]]).encode()).hexdigest()[:16]
    return ReviewData(run=run, generated=generated, suites=suites, items=items,
                      total=context.queue_total(len(queue)))


def _large_images(items: list[ReviewItem], sources: list[tuple[CategoryResult, ExampleResult] | None],
                  context: ReportContext) -> None:
    """Inline the first IMAGE_CAP items' images at IMAGE_SIDE (threads: Pillow releases the GIL)."""
    make: Thumbnailer | None = context.review_image
    if make is None and context.rootdir is not None:
        make = file_thumbnailer(context.rootdir, IMAGE_SIDE)
    if make is None:
        return
    def one(source: tuple[CategoryResult, ExampleResult] | None) -> str | None:
        return thumb(make, *source) if source is not None else None

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, cpu_count())) as pool:
        for item, source, uri in zip(items, sources, pool.map(one, sources), strict=True):
            item.img = uri
            if uri is not None and source is not None and source[1].saliency is not None:
                item.heat, item.heat_expected = heat_uri(source[1].saliency), heat_uri(source[1].saliency_expected)
                item.method = source[1].saliency.method
