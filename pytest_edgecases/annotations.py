"""Reviewer annotation YAML → expected verdicts per example.

Reviewers commit these files; a run treats them as the expected outcome of each example.
Several reviewers on one example are consolidated here (majority verdict, highest severity,
a tie is ambiguous) so that verdict logic sees one Review per example.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import did_you_mean
from .stats import majority_vote
from .suite import Suite
from .validate import Context
from .vocabulary import SEVERITIES
from .yamlload import LocDict, LocList, load_yaml

VERDICTS = ("correct", "incorrect", "ambiguous")
FILE_KEYS = ("reviewer", "date", "examples")
ENTRY_KEYS = ("image", "category", "label", "accept", "verdict", "predicted", "severity", "comment", "waiver",
              "sha256", "confidence", "reviewer")
WAIVER_KEYS = ("reason", "until")


@dataclass(frozen=True)
class Waiver:
    """A reviewer's permission for a known failure not to count against max_failures until a date."""

    reason: str
    until: dt.date

    def active(self, today: dt.date) -> bool:
        """True while the waiver still holds (through its `until` day)."""
        return today <= self.until


@dataclass(frozen=True)
class Annotation:
    """One reviewer's entry for one example, as written."""

    reviewer: str
    file: str
    line: int
    image: str                 # relative to the suite folder, normalised
    category: str              # test name the entry applies to
    verdict: str | None = None
    label: str | None = None
    accept: tuple[str, ...] = ()
    predicted: str | None = None
    severity: str | None = None
    comment: str = ""
    waiver: Waiver | None = None
    sha256: str | None = None
    date: str = ""

    def blank(self, own_label: str) -> bool:
        """A review-queue stub left unfilled (image, its own label, predicted, sha256): it says nothing, so it is
        no review at all, not even a note."""
        return not (self.verdict or self.label not in (None, own_label) or self.accept or self.severity
                    or self.comment or self.waiver)


@dataclass(frozen=True)
class Review:
    """All reviewers' entries for one example, consolidated."""

    entries: tuple[Annotation, ...]

    @property
    def verdicts(self) -> list[str]:
        """Each reviewer's verdict (entries without one are notes, not votes)."""
        return [a.verdict for a in self.entries if a.verdict]

    @property
    def verdict(self) -> str | None:
        """Majority verdict; a tie between different verdicts is ambiguous."""
        votes = self.verdicts
        if not votes:
            return None
        return majority_vote(votes) or "ambiguous"

    @property
    def conflict(self) -> bool:
        """Reviewers disagree on the verdict or the right label."""
        labels = {a.label for a in self.entries if a.label}
        return len(set(self.verdicts)) > 1 or len(labels) > 1

    @property
    def severity(self) -> str | None:
        """The highest severity any reviewer gave."""
        given = [a.severity for a in self.entries if a.severity]
        return max(given, key=SEVERITIES.index) if given else None

    @property
    def label(self) -> str | None:
        """The corrected label, taken from the reviewers who back the majority verdict."""
        labels = [a.label for a in self.entries if a.label]
        return (majority_vote(labels) or labels[0]) if labels else None

    @property
    def accept(self) -> tuple[str, ...]:
        """Every answer any reviewer accepts, besides the label."""
        out: list[str] = []
        for a in self.entries:
            out.extend(x for x in a.accept if x not in out)
        return tuple(out)

    @property
    def waiver(self) -> Waiver | None:
        """The latest waiver given, if any."""
        waivers = [a.waiver for a in self.entries if a.waiver]
        return max(waivers, key=lambda w: w.until) if waivers else None

    @property
    def reviewers(self) -> list[str]:
        """Who reviewed this example."""
        return [a.reviewer for a in self.entries]

    @property
    def comment(self) -> str:
        """Reviewers' comments, each prefixed by its author when there are several."""
        notes = [(a.reviewer, a.comment) for a in self.entries if a.comment]
        if len(notes) == 1:
            return notes[0][1]
        return " | ".join(f"{who}: {text}" for who, text in notes)

    @property
    def sha256(self) -> str | None:
        """The image digest the newest entry recorded."""
        given = [a.sha256 for a in self.entries if a.sha256]
        return given[-1] if given else None


#: (category test name, image path relative to the suite folder) -> Review
ReviewMap = Mapping[tuple[str, str], Review]


def load_annotations(suite: Suite) -> dict[tuple[str, str], Review]:
    """Read every annotation file of a suite; raise EdgecasesError naming file and line on bad input."""
    by_image: dict[str, list[str]] = {}
    synthetic = frozenset(c.test_name for c in suite.categories if c.transform is not None)
    own_label: dict[tuple[str, str], str] = {}
    for cat in suite.categories:
        for ex in cat.examples:
            by_image.setdefault(ex.path, []).append(cat.test_name)
            own_label[(cat.test_name, ex.path)] = ex.label
    collected: dict[tuple[str, str], list[Annotation]] = {}
    for file in suite.annotation_files:
        for ann in _read_file(suite, file, by_image, synthetic):
            if not ann.blank(own_label[(ann.category, ann.image)]):
                collected.setdefault((ann.category, ann.image), []).append(ann)
    return {key: Review(_latest_per_reviewer(entries)) for key, entries in collected.items()}


def _latest_per_reviewer(entries: list[Annotation]) -> tuple[Annotation, ...]:
    """One vote per reviewer: a later review round (by date, then file order) replaces an earlier one."""
    latest: dict[str, Annotation] = {}
    for ann in sorted(entries, key=lambda a: str(a.date)):   # stable: equal dates keep file order
        latest[ann.reviewer] = ann
    return tuple(latest.values())


def _read_file(suite: Suite, file: Path, by_image: Mapping[str, list[str]],
               synthetic: frozenset[str] = frozenset()) -> Iterable[Annotation]:
    ctx = Context(file, suite.root)
    doc = load_yaml(file, ctx.shown)
    if doc is None:
        return []
    if not isinstance(doc, LocDict):
        raise ctx.error("an annotation file must be a mapping with reviewer:, date: and examples:", 1)
    ctx.check_keys(doc, FILE_KEYS)
    reviewer = doc.get("reviewer")
    if reviewer is not None and (not isinstance(reviewer, str) or not reviewer.strip()):
        raise ctx.error("reviewer must be a name", doc.line_of("reviewer"))
    date = doc.get("date")
    if date is not None and not isinstance(date, (dt.date, str)):
        raise ctx.error("date must be a date like 2026-11-20", doc.line_of("date"))
    if isinstance(date, str):
        date = _parse_date(ctx, date, doc.line_of("date"))
    # One spelling, so that rounds sort by date (a string " 2027-01-05" would sort before "2026-…").
    date_text = date.isoformat() if isinstance(date, dt.date) else ""
    examples = doc.get("examples") or LocList()
    if not isinstance(examples, LocList):
        raise ctx.error("examples must be a list of entries", doc.line_of("examples"))
    seen: dict[tuple[str, str], int] = {}
    out: list[Annotation] = []
    for index, entry in enumerate(examples):
        line = examples.line_of(index)
        if not isinstance(entry, LocDict):
            raise ctx.error("each entry must be a mapping starting with image:", line)
        ann = _entry(ctx, suite, entry, line, str(reviewer or "").strip(), date_text, by_image, synthetic)
        key = (ann.category, ann.image)
        if key in seen:
            raise ctx.error(f"'{ann.image}' ({ann.category}) is annotated twice in this file (first on line "
                            f"{seen[key]})", line, hint="merge the two entries")
        seen[key] = line
        out.append(ann)
    return out


def _entry(ctx: Context, suite: Suite, entry: LocDict, line: int, file_reviewer: str, date: str,
           by_image: Mapping[str, list[str]], synthetic: frozenset[str]) -> Annotation:
    ctx.check_keys(entry, ENTRY_KEYS)
    image = entry.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ctx.error("each entry needs image: (a path relative to the suite file)", line)
    norm = os.path.normpath(image.strip()).replace(os.sep, "/")
    if norm not in by_image:
        raise ctx.error(f"image '{image}' is not in the suite{did_you_mean(norm, by_image)}", entry.line_of("image"),
                        hint="paths are relative to the suite file, as in the results file's path column")
    category = _category(ctx, entry, image, by_image[norm], synthetic)
    verdict = _choice(ctx, entry, "verdict", VERDICTS, "verdict")
    severity = _choice(ctx, entry, "severity", SEVERITIES, "severity")
    label = _choice(ctx, entry, "label", suite.labels, "label")
    predicted = _choice(ctx, entry, "predicted", suite.labels, "predicted label")
    accept_raw = entry.get("accept") or []
    if isinstance(accept_raw, str):
        accept_raw = [accept_raw]
    if not isinstance(accept_raw, list):
        raise ctx.error("accept must be a list of labels", entry.line_of("accept"))
    accept_raw = [_as_label(value) for value in accept_raw]
    for value in accept_raw:
        if value not in suite.labels:
            raise ctx.error(f"accept label '{value}' is not one of the suite's labels"
                            f"{did_you_mean(str(value), suite.labels)}", entry.line_of("accept"))
    comment = entry.get("comment") or ""
    if not isinstance(comment, str):
        comment = str(comment)
    sha = entry.get("sha256")
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64
                            or not all(c in "0123456789abcdef" for c in sha.lower())):
        raise ctx.error("sha256 must be 64 hex digits (the image's SHA-256)", entry.line_of("sha256"))
    reviewer = entry.get("reviewer")
    if reviewer is not None and (not isinstance(reviewer, str) or not reviewer.strip()):
        raise ctx.error("reviewer must be a name", entry.line_of("reviewer"))
    reviewer = (reviewer or "").strip() or file_reviewer
    if not reviewer:
        raise ctx.error("who reviewed this? add reviewer: at the top of the file", line)
    return Annotation(reviewer=reviewer, file=ctx.shown, line=line, image=norm, category=category,
                      verdict=verdict, label=label, accept=tuple(accept_raw), predicted=predicted,
                      severity=severity, comment=comment.strip(),
                      waiver=_waiver(ctx, entry) if entry.get("waiver") is not None else None,
                      sha256=sha.lower() if sha else None, date=date)


def _category(ctx: Context, entry: LocDict, image: str, homes: list[str], synthetic: frozenset[str]) -> str:
    """The category (test name) an entry is about: as written, or the one real category holding the image."""
    category = entry.get("category")
    if category is None:
        # A review describes the pixels the reviewer saw: the original image, so its real category.
        # Synthetic levels (name[level]) show transformed pixels and must be named explicitly.
        real = sorted({h for h in homes if h not in synthetic}) or sorted(set(homes))
        if len(real) > 1:
            raise ctx.error(f"image '{image}' is in several categories ({', '.join(real)}); "
                            "add category: to say which", entry.line_of("image"))
        return real[0]
    if not isinstance(category, str) or category not in homes:
        raise ctx.error(f"image '{image}' is not in category '{category}'{did_you_mean(str(category), homes)}",
                        entry.line_of("category"), hint="it is in: " + ", ".join(sorted(set(homes))))
    return category


def _choice(ctx: Context, entry: LocDict, key: str, allowed: tuple[str, ...], what: str) -> str | None:
    """One of ``allowed`` (a blank value is no value), else an error naming the closest."""
    value = _as_label(entry.get(key))
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ctx.error(f"{what} '{value}' is not one of {', '.join(allowed)}{did_you_mean(str(value), allowed)}",
                        entry.line_of(key))
    return value


def _as_label(value: Any) -> Any:
    """A bare number names the same label as its text: the suite's `labels: [0, 1]` are "0" and "1"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _waiver(ctx: Context, entry: LocDict) -> Waiver:
    raw = entry["waiver"]
    where = entry.line_of("waiver")
    if not isinstance(raw, LocDict):
        raise ctx.error("waiver must be a mapping: {reason: ..., until: YYYY-MM-DD}", where)
    ctx.check_keys(raw, WAIVER_KEYS, noun="waiver key", list_valid=False)
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ctx.error("a waiver needs a reason", where)
    until = raw.get("until")
    if until is None:
        raise ctx.error("a waiver needs until: YYYY-MM-DD (waivers expire)", where)
    if isinstance(until, dt.datetime):
        until = until.date()
    if isinstance(until, str):
        until = _parse_date(ctx, until, raw.line_of("until"))
    if not isinstance(until, dt.date):
        raise ctx.error("waiver until: must be a date like 2026-12-31", raw.line_of("until"))
    return Waiver(reason=reason.strip(), until=until)


def _parse_date(ctx: Context, text: str, line: int) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ctx.error(f"'{text}' is not a date; write YYYY-MM-DD, e.g. 2026-12-31", line) from None
