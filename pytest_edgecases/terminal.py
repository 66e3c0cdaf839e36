"""Text for the terminal: a failing category's message and the end-of-run summary table."""
from __future__ import annotations

import re
from typing import Sequence

from tabulate import tabulate

from .agreement import agreement
from .errors import printable
from .records import CategoryResult, Check, ExampleResult, severity_rank
from .vocabulary import Status

MAX_LISTED = 10
HEADERS = ["image", "expected", "predicted", "confidence", "severity", "status", "comment"]


def percent(value: float | None) -> str:
    """0.8333 → '83.3%'; None → '—'."""
    return "—" if value is None else f"{value:.1%}"


def accuracy_text(result: CategoryResult) -> str:
    """Accuracy with its 95% Wilson interval, e.g. '83.3% [66.4–92.7]'."""
    if result.accuracy is None:
        return "—"
    return f"{result.accuracy:.1%} [{result.ci_low:.1%}–{result.ci_high:.1%}]"


def severity_counts(result: CategoryResult) -> str:
    """Counted failures per severity: 'high 1, medium 3'."""
    parts = [f"{sev} {n}" for sev, n in sorted(result.failures_by_severity.items(), key=lambda kv: severity_rank(kv[0]))
             if n]
    return ", ".join(parts) or "0"


def failure_rows(examples: Sequence[ExampleResult], limit: int = MAX_LISTED) -> list[list[str]]:
    """Rows of the worst failures: image, expected, predicted, confidence, severity, status, comment."""
    rows = []
    for e in examples[:limit]:
        status = (e.status.replace("_", " ") + (" (unstable)" if e.unstable else "")
                  + (" (stale review)" if e.stale else ""))
        comment = e.error or e.comment
        rows.append([printable(cell) for cell in (e.path, e.label, e.predicted or "—", percent(e.confidence),
                                                  e.severity, status, (comment[:60] + "…") if len(comment) > 61
                                                  else comment)])
    return rows


#: A limit's comparison and the one a missed limit shows: ">= 90.0%" missed reads "< 90.0%".
_MISSED = {">=": "<", "<=": ">"}
#: Threshold names whose plain reading ("min_examples" → "examples") would say less than this.
_SUBJECTS = {"min_examples": "scored examples", "scoring_errors": "unscored examples"}


def missed_phrase(check: Check) -> str:
    """One missed threshold in words, e.g. 'accuracy 79.6% < 90.0%' or 'high failures 10 > 3'."""
    level = re.fullmatch(r"max_failures\[(\w+)\]", check.name)
    if level:
        subject = "failures" if level[1] == "any" else f"{level[1]} failures"
    else:
        subject = _SUBJECTS.get(check.name) or check.name.removeprefix("min_").removeprefix("max_").replace("_", " ")
    measured = check.measured
    what = re.fullmatch(r"(.*) \((.*)\)", measured)
    if check.name == "min_accuracy" and what:   # "79.6% (accuracy)" or "70.1% (lower 95% bound)"
        measured = what[1]
        subject = "accuracy" if what[2] == "accuracy" else f"accuracy's {what[2]}"
    op, _, bound = check.limit.partition(" ")
    if op in _MISSED and bound:
        return f"{subject} {measured} {_MISSED[op]} {bound}"
    return f"{subject} {measured} (limit {check.limit})"


def reason(result: CategoryResult) -> str:
    """Why a category failed, in one line: pytest's short summary ('FAILED id - …') shows it, and CI annotations."""
    missed = [missed_phrase(c) for c in result.checks if not c.passed]
    return printable("; ".join(missed) or "failed")


def failure_message(result: CategoryResult) -> str:
    """What a failing item shows: why in one line, each threshold against its limit, then the worst failures."""
    lines = [reason(result),
             printable(f"{result.suite_file}::{result.category}: {result.n_correct}/{result.n_scored} correct, "
                       f"accuracy {accuracy_text(result)}")]
    if result.description:
        lines.append(printable(result.description))
    checks = [[printable(v) for v in (c.name, c.measured, c.limit, "ok" if c.passed else "FAILED", c.detail)]
              for c in result.checks]
    lines += ["", tabulate(checks, headers=["threshold", "measured", "limit", "result", "detail"])]
    failures = result.failures()
    if failures:
        lines += ["", f"worst failures ({len(failures)} in all):", tabulate(failure_rows(failures), headers=HEADERS)]
        if len(failures) > MAX_LISTED:
            lines.append(f"… and {len(failures) - MAX_LISTED} more (see --edgecases-results or the HTML report)")
    # Reviewed examples that are not failures still need a reader: a fix means the annotation is out of date.
    noted = [e for e in result.examples if e.status in (Status.FIXED, Status.AMBIGUOUS)]
    if noted:
        lines += ["", f"reviewed, not failures ({len(noted)}; update the annotation of a fixed one):",
                  tabulate(failure_rows(noted), headers=HEADERS)]
    if result.groups:
        rows = [[printable(g), v.n, f"{v.accuracy:.1%} [{v.ci_low:.1%}–{v.ci_high:.1%}]"]
                for g, v in result.groups.items()]
        lines += ["", tabulate(rows, headers=[printable(result.group_by or "group"), "images", "accuracy (95% CI)"])]
    return "\n".join(lines)


def summary_table(results: Sequence[CategoryResult]) -> str:
    """One row per category: images, accuracy (95% CI), failures by severity, regressions, result."""
    several = len({r.suite_file for r in results}) > 1   # name the suite only when it tells rows apart
    rows = []
    for r in results:
        rows.append(([printable(r.suite)] if several else []) + [r.category, r.n_examples, accuracy_text(r),
                                                                 severity_counts(r), r.regressions,
                                                                 "NOT JUDGED" if r.error
                                                                 else ("passed" if r.passed else "FAILED")])
    headers = ["category", "images", "accuracy (95% CI)", "failures", "regressions", "result"]
    return tabulate(rows, headers=(["suite"] if several else []) + headers)


def agreement_lines(results: Sequence[CategoryResult]) -> list[str]:
    """One line per suite on reviewer agreement, when at least two reviewers overlap."""
    lines = []
    for suite in sorted({r.suite for r in results}):
        found = agreement([e for r in results if r.suite == suite for e in r.examples])
        if found:
            kappa = "undefined" if found.kappa is None else f"{found.kappa:.2f} ({found.words})"
            whose = found.method + ("'" if found.method.endswith("s") else "'s")   # Fleiss', Cohen's
            lines.append(f"reviewer agreement in {suite}: {whose} kappa {kappa} on {found.n} "
                         f"example(s) reviewed by {', '.join(found.reviewers)}; {len(found.conflicts)} conflict(s)")
            lines += [f"  conflict: {c.category} {c.image}: "
                      + ", ".join(f"{who} says {verdict}" for who, verdict in c.votes) for c in found.conflicts[:10]]
    return [printable(line) for line in lines]
