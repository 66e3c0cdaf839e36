"""Everything a run writes at its end (controller only): results file, report, and so on.

Each writer is independent: one failing (a full disk, a read-only folder) is reported in the
terminal summary and does not stop the others or change the test outcome.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .baseline import save_baseline
from .files import atomic_write
from .markdown import render_markdown
from .records import CategoryResult
from .results import write_results
from .review_queue import REPORT_ENTRIES, QueueHead, queue_entries, queue_head, write_queue
from .session import EdgecasesSession
from .transforms import Level

if TYPE_CHECKING:
    from .report.thumbs import BlobMemo, Thumbnailer


def write_outputs(edge: EdgecasesSession) -> None:
    """Write each requested output; note in the summary where it went, or why it failed."""
    opts = edge.options
    writers: list[tuple[str, str | None, Callable[[Path], None]]] = [
        ("results", opts.results, lambda p: _results(edge, p)),
        ("review queue", opts.review_queue, lambda p: _review_queue(edge, p)),
        ("Markdown summary", opts.markdown, lambda p: _markdown(edge, p)),
        ("baseline", opts.save_baseline, lambda p: _save_baseline(edge, p)),
        ("report", opts.report, lambda p: _report(edge, p)),
    ]
    for what, target, writer in writers:
        if not target:
            continue
        path = Path(target)
        try:
            writer(path)
        except Exception as exc:  # noqa: BLE001 - an output failing must not turn the run into an INTERNALERROR
            edge.notes.append(f"edgecases: could not write the {what} file {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}")
        else:
            edge.notes.append(f"edgecases: {what} written to {path}")


def _results(edge: EdgecasesSession, path: Path) -> None:
    write_results(path, edge.results, edge.slices)


def review_head(edge: EdgecasesSession) -> QueueHead:
    """The review queue's most urgent entries, as many as the HTML report and saliency use, and its size."""
    return queue_head(edge.results, REPORT_ENTRIES)


def _review_queue(edge: EdgecasesSession, path: Path) -> None:
    entries = queue_entries(edge.results)
    for written in write_queue(path, entries, edge.today, suites=[r.suite for r in edge.results]):
        if written != path:
            edge.notes.append(f"edgecases: {path} holds a reviewer's work; the queue went to {written} instead")
    edge.notes.append(f"edgecases: {len(entries)} example(s) queued for review")


def _markdown(edge: EdgecasesSession, path: Path) -> None:
    atomic_write(path, render_markdown(edge.results))


def _save_baseline(edge: EdgecasesSession, path: Path) -> None:
    save_baseline(path, edge.results)


def thumbnailer(edge: EdgecasesSession, memo: BlobMemo | None = None, max_side: int = 96) -> Thumbnailer:
    """Thumbnails as the model saw each example (a synthetic category's transform applied)."""
    # The report's image code: only when thumbnails are made.
    from .report.thumbs import session_thumbnailer

    def transform_of(result: CategoryResult) -> Level | None:
        # Suites are read again on the controller under xdist, where nothing was collected.
        return edge.load(edge.rootdir / result.suite_file).suite.category(result.category).transform

    return session_thumbnailer(edge.rootdir, transform_of, max_side=max_side, memo=memo)


def _report(edge: EdgecasesSession, path: Path) -> None:
    # The report's template and image code: only when a report is written.
    from .report import ReportContext, write_report
    from .report.review import IMAGE_SIDE

    memo = edge.memo()   # thumbnails from earlier runs: a rerun's report costs little more than its HTML
    queue = review_head(edge)
    try:
        context = ReportContext(generated=dt.datetime.now().isoformat(timespec="seconds"), rootdir=edge.rootdir,
                                thumbnail=thumbnailer(edge, memo), review_queue=queue.entries,
                                review_total=queue.total,
                                review_image=thumbnailer(edge, memo, max_side=IMAGE_SIDE),
                                annotations=_annotation_places(edge), slices=edge.slices)
        write_report(path, edge.results, context)
    finally:
        if memo is not None:
            memo.close()


def _annotation_places(edge: EdgecasesSession) -> dict[str, tuple[str, ...]]:
    """Suite file -> its `annotations:` places, for the report to say where a downloaded review goes."""
    places: dict[str, tuple[str, ...]] = {}
    for file in {r.suite_file for r in edge.results}:
        try:
            places[file] = edge.load(edge.rootdir / file).suite.annotation_dirs
        except Exception:  # noqa: BLE001 - a suite that cannot be read again costs the hint, not the report
            continue
    return places
