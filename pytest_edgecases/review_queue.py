"""The review queue: annotation stubs for what humans should look at next, most urgent first.

The file is in the annotation format itself, so a reviewer fills `reviewer`, `verdict` and
`severity`, moves it into the suite's annotations folder, commits, and the next run uses it.
"""
from __future__ import annotations

import collections
import datetime as dt
import hashlib
import heapq
import json
import re
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

from .files import atomic_write, is_special
from .records import CategoryResult, ExampleResult, severity_rank
from .vocabulary import Severity, Status

MARKER = "# pytest-edgecases review queue"
#: Most queue entries the HTML report uses (review mode's; its list shows fewer): queue_head's limit there.
REPORT_ENTRIES = 500
#: What JSON leaves raw but YAML refuses (control and surrogate characters) or reads as a line break.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029\ufeff]")


class QueueHead(NamedTuple):
    """The most urgent entries of a review queue, and how many it holds in all."""

    entries: list[dict[str, Any]]
    total: int


def queue_entries(results: Sequence[CategoryResult]) -> list[dict[str, Any]]:
    """Everything that needs a human, most urgent first, as dicts (for the queue file)."""
    # No YAML stub here: the report shows the first 200 of what may be tens of thousands (stub_yaml).
    return [_entry(*picked) for picked in sorted(_picked(results), key=_urgency)]


def queue_head(results: Sequence[CategoryResult], limit: int) -> QueueHead:
    """The ``limit`` most urgent entries (in queue_entries' order) and the queue's size, for the HTML report.

    With random weights nearly every example of a large suite is queued: a dict for each cost a warm
    rerun of 20,000 images 9 MB at its peak, for a report that shows the first 500.
    """
    total = 0

    def counted() -> Iterator[_Picked]:
        nonlocal total
        for picked in _picked(results):
            total += 1
            yield picked

    stream = counted()
    head = heapq.nsmallest(limit, stream, key=_urgency)   # stable: sorted(...)[:limit]
    collections.deque(stream, maxlen=0)   # the rest counted (a limit of 0 reads none)
    return QueueHead([_entry(*picked) for picked in head], total)


#: An example that needs review: its urgency key, result, category and reason in words.
_Picked = tuple[tuple, ExampleResult, CategoryResult, str]


def _urgency(picked: _Picked) -> tuple:
    return picked[0]


def _picked(results: Sequence[CategoryResult]) -> Iterator[_Picked]:
    for r in results:
        threshold = r.thresholds.get("review_confidence_below")
        changed = frozenset(r.baseline.answer_changed) if r.baseline is not None else frozenset()
        for e in r.examples:
            why = _reason(e, threshold, e.path in changed)
            if why is not None:
                group, reason = why
                yield (group, severity_rank(e.severity), -(e.confidence or 0.0), r.suite_file, e.path), e, r, reason


def _entry(_key: tuple, e: ExampleResult, r: CategoryResult, reason: str) -> dict[str, Any]:
    return {"suite": r.suite, "suite_file": r.suite_file, "image": e.path, "category": r.category, "label": e.label,
            "predicted": e.predicted, "confidence": e.confidence, "severity": e.severity, "sha256": e.sha256,
            "reason": reason, "status": e.status, "votes": e.votes, "comment": e.comment, "top": e.top,
            "accept": e.accept, "level": e.level}


#: The queue's reason for model disagreement (--edgecases-baseline): a new top-1 answer on an unreviewed example.
CHANGED_ANSWER = "the model changed its answer since the baseline"


def _reason(e: ExampleResult, confidence_below: float | None, answer_changed: bool = False) -> tuple[int, str] | None:
    """(urgency group, reason in words), or None when the example needs no review.

    Failures of every kind come first; then model disagreement (right or wrong, a new answer on an
    example nobody has judged is worth a look before the merely unsure ones); then stale reviews,
    conflicts, and correct answers given with low confidence.
    """
    if e.status == Status.ERROR:
        return None
    if e.status == Status.FAILURE:
        if e.severity == Severity.HIGH:
            return 0, "unreviewed failure, high severity"
        return 1, "unreviewed failure"
    if e.status == Status.REGRESSION:
        return 2, "regression: reviewed correct, now wrong"
    if e.status == Status.FIXED:
        return 2, "fixed: reviewed incorrect, now right — update the verdict"
    if e.status == Status.WAIVER_EXPIRED:
        return 2, "waiver expired"
    if answer_changed and not e.reviewed and not e.stale:
        return 3, CHANGED_ANSWER
    if e.stale:
        return 4, "stale: the image changed since it was reviewed"
    if e.conflict:
        return 5, "reviewers disagree"
    if (confidence_below is not None and e.correct and not e.reviewed and e.confidence is not None
            and e.confidence < confidence_below):
        return 6, f"correct, but confidence {_below(e.confidence, confidence_below)} < {confidence_below:g}"
    return None


def _below(value: float, limit: float) -> str:
    """value with as few decimals as show it below limit: 0.5961 < 0.6 reads "0.596", never "0.60 < 0.6"."""
    for digits in range(2, 7):
        text = f"{value:.{digits}f}"
        if float(text) < limit:
            return text
    return repr(value)


def _q(value: Any) -> str:
    """A one-line YAML scalar: JSON's double-quoted strings are YAML, once YAML's extra breaks are escaped too."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(str(value), ensure_ascii=False))


def stub_yaml(entry: dict[str, Any]) -> str:
    """One annotation entry, ready to fill in."""
    lines = [f"  # {entry['reason']}"]
    # What earlier reviewers said, for the one deciding again (a comment: filling the stub never repeats it).
    if entry.get("votes"):
        lines.append("  # earlier verdicts: " + _q(", ".join(f"{who}: {verdict}" for who, verdict in entry["votes"])))
    if entry.get("comment"):
        lines.append("  # reviewers said: " + _q(entry["comment"]))
    lines += [f"  - image: {_q(entry['image'])}",
              f"    category: {_q(entry['category'])}",
              f"    label: {_q(entry['label'])}"]
    if entry.get("predicted") is not None:
        lines.append(f"    predicted: {_q(entry['predicted'])}")
    if entry.get("confidence") is not None:
        lines.append(f"    confidence: {_q(entry['confidence'])}")
    if entry.get("sha256"):
        lines.append(f"    sha256: {_q(entry['sha256'])}")
    lines += ["    verdict:     # correct | incorrect | ambiguous",
              "    severity:    # low | medium | high",
              '    comment: ""']
    return "\n".join(lines)


def render_queue(suite: str, entries: Sequence[dict[str, Any]], today: dt.date) -> str:
    """The whole queue file for one suite; its first line carries a digest of the rest, to tell it untouched."""
    head = ["# Fill reviewer, then verdict and severity for each entry (leave an entry blank to skip it),",
            "# move the file into the suite's annotations folder, and commit it. Paths are relative to the suite file.",
            'reviewer: ""   # your name',
            f"date: {today.isoformat()}"]
    if not entries:
        body = "\n".join(head + ["examples: []   # nothing needs review", ""])
    else:
        body = "\n".join(head + ["examples:"] + [stub_yaml(e) for e in entries] + [""])
    return f"{MARKER} for suite {_q(suite)}, written {today.isoformat()} [{_digest(body)}]\n" + body


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def write_queue(path: Path, entries: Sequence[dict[str, Any]], today: dt.date,
                suites: Sequence[str] = ()) -> list[Path]:
    """Write one queue file per suite (PATH itself for one suite); never overwrite a reviewer's work.

    An existing file is replaced only if it is an untouched queue of ours (marker, no reviewer);
    otherwise the queue goes to the next free name (queue.1.yaml, …). Returns the files written.
    """
    suites = sorted(set(suites) | {e["suite"] for e in entries}) or [""]
    written = []
    for suite in suites:
        target = path if len(suites) == 1 else path.with_name(f"{path.stem}.{_safe(suite)}{path.suffix}")
        target = _free(target)
        atomic_write(target, render_queue(suite, [e for e in entries if e["suite"] == suite], today))
        written.append(target)
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "suite"


def _free(target: Path) -> Path:
    candidate, n = target, 0
    while candidate.exists() and not is_special(candidate) and not _ours_untouched(candidate):
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def _ours_untouched(path: Path) -> bool:
    """A queue we wrote and nobody edited since: any change at all (a name, a verdict typed in an
    editor's own spacing, a note) makes it a reviewer's file, which is never overwritten."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    first, _, body = text.partition("\n")
    return first.startswith(MARKER) and first.endswith(f"[{_digest(body)}]")
