"""Pure threshold logic: predictions + reviews → each example's status → a category's verdict.

No torch, no pytest: everything here is a function of plain values, so it is unit-tested
directly and gives identical answers on a worker and on the controller.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .agreement import agreement
from .annotations import Review
from .prediction import ImageProperties, Prediction
from .records import NO_VALUES, SEVERITY_OF, CategoryResult, Check, ExampleResult, GroupFigures, RunInfo
from .stats import wilson_interval
from .suite import Category, Example, Suite
from .vocabulary import SEVERITIES, Severity, Status


# slots: one per image until its category is judged (no per-instance __dict__).
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Scored:
    """What inference produced for one example of a category."""

    example: Example
    prediction: Prediction
    sha256: str
    properties: ImageProperties | None = None   # measured.gather's; None when not measured


def example_result(category: Category, item: Scored, labels: Sequence[str], review: Review | None,
                   today: dt.date) -> ExampleResult:
    """Judge one example: correctness against the (reviewed) label, then its review status."""
    ex, pred = item.example, item.prediction
    if review is None:   # most examples: what follows for them, in fewer steps (a warm rerun makes 100,000)
        index = pred.index
        predicted = labels[index] if index is not None and 0 <= index < len(labels) else None
        correct = None if predicted is None else predicted == ex.label
        return ExampleResult(
            path=ex.path, category=category.test_name, label=ex.label, predicted=predicted,
            confidence=pred.confidence, correct=correct, severity=_severity(ex.severity or category.severity),
            status=Status.ERROR if correct is None else Status.CORRECT if correct else Status.FAILURE,
            counted=correct is False, top=_top(pred, labels), margin=pred.margin, sha256=item.sha256,
            level=category.level_id, metadata=_metadata(ex), error=pred.error, properties=_properties(item))
    stale = bool(review and review.sha256 and item.sha256 and review.sha256 != item.sha256)
    active = review if review is not None and not stale else None   # a stale review no longer applies
    label = (active.label if active and active.label else None) or ex.label
    accept = (label, *(a for a in active.accept if a != label)) if active and active.accept else (label,)
    severity = _severity((active.severity if active and active.severity else None) or ex.severity or category.severity)
    predicted = labels[pred.index] if pred.index is not None and 0 <= pred.index < len(labels) else None
    correct = None if predicted is None else predicted in accept
    verdict = active.verdict if active else None
    waiver = active.waiver if active else None

    if correct is None:
        status = Status.ERROR
    elif verdict == "ambiguous":
        status = Status.AMBIGUOUS
    elif verdict == "correct":
        status = Status.CORRECT if correct else Status.REGRESSION
    elif verdict == "incorrect":
        status = Status.FIXED if correct else Status.KNOWN_FAILURE
    else:
        status = Status.CORRECT if correct else Status.FAILURE
    if correct is False and status != Status.AMBIGUOUS and waiver is not None:
        if waiver.active(today):
            status = Status.WAIVED if status != Status.REGRESSION else status
        elif status != Status.REGRESSION:
            status = Status.WAIVER_EXPIRED
    counted = correct is False and status not in (Status.AMBIGUOUS, Status.WAIVED)
    return ExampleResult(
        path=ex.path, category=category.test_name, label=label, predicted=predicted,
        confidence=pred.confidence, correct=correct, severity=severity, status=status, counted=counted,
        top=_top(pred, labels),
        margin=pred.margin, sha256=item.sha256, level=category.level_id,
        metadata=_metadata(ex),
        reviewed=active is not None, verdict=verdict, reviewers=tuple(review.reviewers) if review else (),
        comment=review.comment if review else "",
        waiver={"reason": waiver.reason, "until": waiver.until.isoformat(), "active": str(waiver.active(today))}
        if waiver else None,
        stale=stale, conflict=bool(active and active.conflict), error=pred.error, accept=accept[1:],
        votes=tuple((a.reviewer, a.verdict) for a in review.entries if a.verdict) if review else (),
        properties=_properties(item))


def _top(pred: Prediction, labels: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """The three best (label, probability) pairs; an index outside the labels shows as its number."""
    n = len(labels)
    return tuple([(labels[i] if 0 <= i < n else str(i), p) for i, p in pred.top[:3]])


def _severity(word: str) -> Severity:
    """Severity(word), without the enum's slower lookup for the words it has."""
    return SEVERITY_OF.get(word) or Severity(word)


def _metadata(ex: Example) -> Mapping[str, str]:
    return dict(ex.metadata) if ex.metadata else NO_VALUES


def _properties(item: Scored) -> Mapping[str, float]:
    return item.properties.to_json() if item.properties is not None else NO_VALUES


def judge(suite: Suite, category: Category, scored: Sequence[Scored], reviews: Mapping[tuple[str, str], Review],
          today: dt.date | None = None, extra_checks: Sequence[Check] = (),
          run: RunInfo | None = None) -> CategoryResult:
    """Judge a category against its thresholds; returns figures, checks and every example's result."""
    today = today or dt.date.today()
    results = [example_result(category, s, suite.labels, reviews.get((category.test_name, s.example.path)), today)
               for s in scored]
    th = category.thresholds
    scored_ex = [r for r in results if r.correct is not None and r.status != Status.AMBIGUOUS]
    n_correct = sum(1 for r in scored_ex if r.correct)
    n = len(scored_ex)
    accuracy = n_correct / n if n else None
    low, high = wilson_interval(n_correct, n) if n else (None, None)
    by_sev = {s: 0 for s in SEVERITIES}
    for r in results:
        if r.counted:
            by_sev[r.severity] = by_sev.get(r.severity, 0) + 1
    regressions = sum(1 for r in results if r.status == Status.REGRESSION)
    fixed = sum(1 for r in results if r.status == Status.FIXED)
    checks: list[Check] = []

    errors = [r for r in results if r.status == Status.ERROR]
    if errors:
        shown = ", ".join(f"{r.path} ({r.error})" for r in errors[:3]) + (" …" if len(errors) > 3 else "")
        checks.append(Check("scoring_errors", f"{len(errors)} example(s)", "0", False, shown))
    if n < th.min_examples:
        checks.append(Check("min_examples", str(n), f">= {th.min_examples}", False,
                            f"too few to judge: the category needs {th.min_examples} scored examples to pass "
                            "(ambiguous and unreadable examples are not scored)"))
    if th.min_accuracy is not None and accuracy is not None:
        if th.gate == "lower_bound":
            value, what = low, "lower 95% bound"
        else:
            value, what = accuracy, "accuracy"
        ok = value >= th.min_accuracy - 1e-12
        detail = "" if ok else f"short by {th.min_accuracy - value:.1%}"
        if th.gate == "lower_bound" and not ok:
            detail += f"; gate: lower_bound judges the lower end of the 95% interval (accuracy {accuracy:.1%}"
            detail += (f" meets the limit, but {n} examples are too few to be sure of it)"
                       if accuracy >= th.min_accuracy - 1e-12 else ")")
        checks.append(Check("min_accuracy", f"{value:.1%} ({what})", f">= {th.min_accuracy:.1%}", ok, detail))
    for level, limit in th.max_failures:
        count = sum(by_sev.values()) if level == "any" else by_sev.get(level, 0)
        checks.append(Check(f"max_failures[{level}]", str(count), f"<= {limit}", count <= limit,
                            "" if count <= limit else f"{count - limit} over"))
    max_reg = th.max_regressions if th.max_regressions is not None else (0 if suite.annotation_files else None)
    if max_reg is not None:
        checks.append(Check("max_regressions", str(regressions), f"<= {max_reg}", regressions <= max_reg,
                            "reviewed correct, now wrong" if regressions > max_reg else ""))
    groups = group_accuracy(results, category.group_by) if category.group_by else {}
    if category.group_by and th.max_group_gap is not None:
        judged = {g: v.accuracy for g, v in groups.items() if v.accuracy is not None}
        if len(judged) >= 2:
            best = max(judged, key=judged.__getitem__)
            worst = min(judged, key=judged.__getitem__)
            gap = judged[best] - judged[worst]
            ok = gap <= th.max_group_gap + 1e-12
            checks.append(Check("max_group_gap", f"{gap:.1%}", f"<= {th.max_group_gap:.1%}", ok,
                                f"{category.group_by}={worst} trails {category.group_by}={best}"))
    checks.extend(extra_checks)
    return CategoryResult(
        **_identity(suite, category), passed=all(c.passed for c in checks),
        n_examples=len(results), n_scored=n, n_correct=n_correct, accuracy=accuracy, ci_low=low, ci_high=high,
        failures_by_severity=by_sev, regressions=regressions, fixed=fixed, checks=checks, examples=results,
        groups=groups, run=run or RunInfo(), agreement=agreement(results))


def unjudged(suite: Suite, category: Category, index: int, message: str) -> CategoryResult:
    """A category that could not be judged at all (no model, a bad baseline): failed, with the reason."""
    return CategoryResult(
        **_identity(suite, category), passed=False,
        n_examples=len(category.examples), n_scored=0, n_correct=0, accuracy=None, ci_low=None, ci_high=None,
        failures_by_severity={s: 0 for s in SEVERITIES}, regressions=0, fixed=0,
        checks=[Check("judged", "no", "yes", False, message)], examples=[], error=message, index=index)


def _identity(suite: Suite, category: Category) -> dict[str, Any]:
    """What a category's result says about the category itself, judged or not (one shape for both)."""
    return dict(suite=suite.name, suite_file=suite.display, category=category.test_name, base=category.name,
                level=category.level_id, description=category.description, group_by=category.group_by,
                labels=list(suite.labels),
                thresholds={**thresholds_dict(category), "review_confidence_below": suite.review_confidence_below})


def group_accuracy(results: Sequence[ExampleResult], column: str) -> dict[str, GroupFigures]:
    """Accuracy per value of a manifest column, with Wilson intervals."""
    groups: dict[str, list[ExampleResult]] = {}
    for r in results:
        if r.correct is None or r.status == Status.AMBIGUOUS:
            continue
        groups.setdefault(r.metadata.get(column, "") or "(blank)", []).append(r)
    out = {}
    for name in sorted(groups):
        members = groups[name]
        k = sum(1 for r in members if r.correct)
        lo, hi = wilson_interval(k, len(members))
        out[name] = GroupFigures(n=len(members), correct=k, accuracy=k / len(members), ci_low=lo, ci_high=hi)
    return out


def thresholds_dict(category: Category) -> dict[str, Any]:
    """The category's thresholds as plain values (for reports and the results file)."""
    th = category.thresholds
    return {"min_accuracy": th.min_accuracy, "max_failures": dict(th.max_failures), "min_examples": th.min_examples,
            "gate": th.gate, "max_group_gap": th.max_group_gap, "max_regressions": th.max_regressions,
            "max_accuracy_drop": th.max_accuracy_drop, "max_new_failures": th.max_new_failures}
