"""A Markdown summary for a CI step summary or a pull-request comment."""
from __future__ import annotations

import html
from typing import Sequence

from .baseline import interval_text, verdict_text
from .records import CategoryResult, RunInfo
from .terminal import accuracy_text, failure_rows, severity_counts

MAX_FAILURES_SHOWN = 5


def md(text: object) -> str:
    """Escape text from YAML or file names: GitHub renders inline HTML, and | breaks tables."""
    escaped = html.escape(str(text), quote=False)
    for ch in "\\`*_[]|#":
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped.replace("\n", " ")


def _table(headers: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out


def render_markdown(results: Sequence[CategoryResult]) -> str:
    """Headline, one table of categories, then the failed thresholds and worst failures of each failure."""
    failed = [r for r in results if not r.passed]
    suites = sorted({r.suite for r in results})
    head = (f"**{len(failed)} of {len(results)} edge-case categories failed**" if failed
            else f"**All {len(results)} edge-case categories passed**")
    run = results[0].run if results else RunInfo()
    model, device = (("?" if v is None else v) for v in (run.model, run.device))
    lines = [f"### Edge cases: {md(', '.join(suites))}", "",
             head + (f" · model `{md(model)}` on {md(device)}" if run.known else ""), ""]
    lines += _table(["", "category", "images", "accuracy (95% CI)", "failures", "regressions"],
                    [["❌" if not r.passed else "✅", r.category, r.n_examples, accuracy_text(r), severity_counts(r),
                      r.regressions] for r in results])
    lines += _baseline_section(results)
    for r in failed:
        lines += ["", f"<details><summary><b>{md(r.category)}</b>: "
                      f"{md(', '.join(c.name for c in r.checks if not c.passed))}</summary>", ""]
        lines += _table(["threshold", "measured", "limit"],
                        [[c.name, c.measured, c.limit] for c in r.checks if not c.passed])
        worst = r.failures()
        if worst:
            lines += [""] + _table(["image", "expected", "predicted", "confidence", "severity", "status", "comment"],
                                   failure_rows(worst, MAX_FAILURES_SHOWN))
            if len(worst) > MAX_FAILURES_SHOWN:
                lines.append(f"\n… and {len(worst) - MAX_FAILURES_SHOWN} more in the HTML report.")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _baseline_section(results: Sequence[CategoryResult]) -> list[str]:
    """Categories whose examples flipped against the baseline, with the verdict in plain words."""
    compared = [(r, r.baseline) for r in results if r.baseline is not None]
    if not compared:
        return []
    flipped = [(r, cmp) for r, cmp in compared if cmp.newly_wrong or cmp.newly_right]
    ties = sum(len(cmp.unstable_flips) for _, cmp in compared)
    head = (f"**Against the baseline** ({len(compared)} categories compared, {len(flipped)} with flips; "
            "McNemar's exact test, Holm-corrected)")
    # As in the terminal: flips between near-tied answers are shown, not counted.
    ties_note = f"; {ties} flip(s) between near-tied answers, not counted" if ties else ""
    if not flipped:
        return ["", f"{head}: no example flipped{ties_note}."]
    return ["", f"{head}{ties_note}:", ""] + _table(
        ["category", "change [95% CI]", "newly wrong", "newly right", "verdict"],
        [[r.category, interval_text(cmp), len(cmp.newly_wrong), len(cmp.newly_right), verdict_text(cmp)]
         for r, cmp in flipped])
