"""Baselines: save a run's per-example predictions, load them back, compare a run with them.

Pure: no torch, no pytest. A baseline is a small JSON file meant to be committed: keys are
sorted, floats rounded, and each example sits on its own line, so a ``git diff`` of two
baselines reads as "these examples changed". Comparing is paired: only examples present in
both runs with the same image bytes and scored in both are compared, with McNemar's exact
test for "is this change more than noise" and Newcombe's interval for the accuracy change.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from tabulate import tabulate

from .errors import EdgecasesError
from .files import atomic_write
from .records import UNSTABLE_MARGIN, BaselineComparison, CategoryResult, Check, ExampleResult
from .stats import holm, mcnemar_exact, paired_difference_interval, wilson_interval
from .vocabulary import Status

SCHEMA = "pytest-edgecases/baseline/1"
#: Adjusted p-values below this are "more than noise".
ALPHA = 0.05
#: Floats are rounded so a baseline saved again from the same predictions is byte-identical
#: and a diff is not cluttered by the last digits of a probability.
DIGITS = 6
#: Paths listed per category in the terminal and in check details before "… and N more".
MAX_PATHS = 5
#: Run facts that identify what produced the numbers (timings and cache counts are left out:
#: they change every run and would make two saves of the same predictions differ).
RUN_KEYS = ("model", "device", "precision", "preprocess", "versions")
#: The names of the checks baseline_checks makes.
BASELINE_CHECKS = ("max_accuracy_drop", "max_new_failures")


# -- saving ---------------------------------------------------------------------------------------
def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def _scored(example: ExampleResult) -> bool:
    """Counted in accuracy: read, predicted and not ruled ambiguous by reviewers."""
    return example.correct is not None and example.status != Status.AMBIGUOUS


def baseline_document(results: Sequence[CategoryResult]) -> dict[str, Any]:
    """The baseline of a run as plain JSON values: suites, per-category figures, per-example predictions."""
    suites: dict[str, dict[str, Any]] = {}
    categories: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    for r in results:
        info = {"suite_file": r.suite_file, "labels": list(r.labels)}
        run = r.run.to_json()
        info.update({k: run[k] for k in RUN_KEYS if k in run})
        if suites.setdefault(r.suite, info) != info:
            raise EdgecasesError(f"two suites named '{r.suite}' ({suites[r.suite]['suite_file']} and {r.suite_file}) "
                                 "cannot share one baseline", r.suite_file,
                                 hint="give each suite file its own `suite:` name")
        categories.append({
            "suite": r.suite, "category": r.category, "n_examples": r.n_examples, "n_scored": r.n_scored,
            "n_correct": r.n_correct, "accuracy": _round(r.accuracy), "ci_low": _round(r.ci_low),
            "ci_high": _round(r.ci_high), "passed": r.passed})
        for e in r.examples:
            examples.append({
                "suite": r.suite, "category": r.category, "path": e.path, "sha256": e.sha256, "label": e.label,
                "predicted": e.predicted, "correct": e.correct, "scored": _scored(e),
                "confidence": _round(e.confidence), "margin": _round(e.margin)})
    categories.sort(key=lambda c: (c["suite"], c["category"]))
    examples.sort(key=lambda e: (e["suite"], e["category"], e["path"]))
    return {"schema": SCHEMA, "suites": suites, "categories": categories, "examples": examples}


def dumps_baseline(doc: Mapping[str, Any]) -> str:
    """Valid JSON with sorted keys and one category / example / suite per line (diffs line up per example)."""
    def line(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)

    parts = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, list) and value:
            body = ",\n".join(line(item) for item in value)
            parts.append(f"{line(key)}: [\n{body}\n]")
        elif isinstance(value, dict) and value:
            body = ",\n".join(f"{line(k)}: {line(value[k])}" for k in sorted(value))
            parts.append(f"{line(key)}: {{\n{body}\n}}")
        else:
            parts.append(f"{line(key)}: {line(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def save_baseline(path: Path, results: Sequence[CategoryResult]) -> None:
    """Write the run's baseline to ``path`` atomically (a failed write never leaves half a file)."""
    atomic_write(path, dumps_baseline(baseline_document(results)))


# -- loading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineExample:
    """One example as the baseline saw it."""

    path: str
    sha256: str
    label: str
    predicted: str | None
    correct: bool | None
    scored: bool
    confidence: float | None
    margin: float | None

    @property
    def unstable(self) -> bool:
        """Same rule as ExampleResult.unstable."""
        return self.margin is not None and self.margin < UNSTABLE_MARGIN


@dataclass
class Baseline:
    """A loaded baseline: suite facts, and examples by (suite, category test name) then path."""

    display: str                                       # the file as shown in messages
    suites: dict[str, dict[str, Any]]
    examples: dict[tuple[str, str], dict[str, BaselineExample]] = field(default_factory=dict)

    def check_suite(self, suite: str, labels: Sequence[str]) -> None:
        """Raise EdgecasesError when this baseline cannot be compared with the suite at all."""
        if suite not in self.suites:
            saved = ", ".join(f"'{s}'" for s in sorted(self.suites)) or "no suite"
            raise EdgecasesError(f"this baseline was saved from {saved}, not from suite '{suite}'", self.display,
                                 hint="compare with a baseline of the same suite, or save one with "
                                      "--edgecases-save-baseline=PATH")
        saved_labels = list(self.suites[suite].get("labels", []))
        if set(saved_labels) != set(labels):
            gone = sorted(set(saved_labels) - set(labels))
            new = sorted(set(labels) - set(saved_labels))
            raise EdgecasesError(
                f"the label set of suite '{suite}' differs from the baseline's "
                f"(only in the baseline: {gone or 'none'}; only in this run: {new or 'none'})", self.display,
                hint="a baseline compares runs over the same labels; save a new one after changing them")


def load_baseline(path: Path, display: str | None = None) -> Baseline:
    """Read a baseline written by save_baseline; raise EdgecasesError naming the file when it is not one."""
    shown = display or str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgecasesError("baseline file not found", shown,
                             hint="create it with --edgecases-save-baseline=PATH on the run to compare with") from None
    except OSError as exc:
        raise EdgecasesError(f"cannot read the baseline file: {exc.strerror or exc}", shown) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise EdgecasesError(f"the baseline file is not valid JSON{where}", shown,
                             hint="a merge conflict? save it again with --edgecases-save-baseline") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise EdgecasesError(f"not a pytest-edgecases baseline (expected schema '{SCHEMA}')", shown,
                             hint="write baselines with --edgecases-save-baseline=PATH")
    try:
        suites = {str(k): dict(v) for k, v in doc["suites"].items()}
        out = Baseline(display=shown, suites=suites)
        for e in doc["examples"]:
            example = BaselineExample(
                path=str(e["path"]), sha256=str(e["sha256"]), label=str(e["label"]), predicted=e["predicted"],
                correct=e["correct"], scored=bool(e["scored"]), confidence=e["confidence"], margin=e["margin"])
            out.examples.setdefault((str(e["suite"]), str(e["category"])), {})[example.path] = example
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EdgecasesError(f"the baseline file is damaged ({type(exc).__name__}: {exc})", shown,
                             hint="save it again with --edgecases-save-baseline") from None
    return out


# -- comparing ------------------------------------------------------------------------------------
def compare(result: CategoryResult, baseline: Baseline) -> BaselineComparison:
    """Pair the category's examples with the baseline's and say what changed (see docs/baselines.md).

    Returns what goes into CategoryResult.baseline. ``p_holm`` and ``significant`` stay None
    here: Holm's correction needs every category's p-value (apply_holm, controller).
    """
    baseline.check_suite(result.suite, result.labels)
    old = baseline.examples.get((result.suite, result.category), {})
    a = b = c = d = 0          # right in both / right only before / right only now / wrong in both
    newly_wrong: list[str] = []
    newly_right: list[str] = []
    unstable_flips: list[str] = []
    answer_changed: list[str] = []   # the review queue's "model disagreement": any new top-1, scored or not
    added = changed = unscored = relabelled = 0
    for e in result.examples:
        before = old.get(e.path)
        if before is None:
            added += 1
            continue
        if before.sha256 != e.sha256:
            changed += 1       # different bytes: a different example, however similar its name
            continue
        if before.predicted is not None and e.predicted is not None and before.predicted != e.predicted:
            answer_changed.append(e.path)
        if not (before.scored and _scored(e)):
            unscored += 1
        else:
            relabelled += before.label != e.label
            if before.correct and e.correct:
                a += 1
            elif before.correct:
                b += 1
            elif e.correct:
                c += 1
            else:
                d += 1
            if before.correct != e.correct:
                if before.unstable or e.unstable:
                    unstable_flips.append(e.path)
                else:
                    (newly_wrong if before.correct else newly_right).append(e.path)
    removed = len(set(old) - {e.path for e in result.examples})
    n = a + b + c + d
    out = BaselineComparison(
        baseline_file=baseline.display, n_paired=n, added=added, removed=removed, changed=changed,
        unscored=unscored, newly_wrong=newly_wrong, newly_right=newly_right, unstable_flips=unstable_flips,
        answer_changed=answer_changed, right_to_wrong=b, wrong_to_right=c,
        run_changes=run_changes(baseline.suites.get(result.suite, {}), result.run.to_json()))
    if n:
        out.delta, out.lo, out.hi = paired_difference_interval(both=a, only_new=c, only_old=b, neither=d)
        out.p_value = mcnemar_exact(b, c)
        out.baseline_accuracy, out.baseline_ci = (a + b) / n, list(wilson_interval(a + b, n))
        out.accuracy, out.ci = (a + c) / n, list(wilson_interval(a + c, n))
    out.notes = _notes(out, relabelled, bool(old))
    return out


def _notes(cmp: BaselineComparison, relabelled: int, known: bool) -> list[str]:
    """Plain sentences about what was not compared and what else changed."""
    notes = []
    if not known:
        notes.append("category not in the baseline: nothing to compare")
    else:
        if cmp.added or cmp.removed:
            notes.append(f"compared on the {cmp.n_paired} examples in both runs "
                         f"({cmp.added} added, {cmp.removed} removed since the baseline)")
        if cmp.changed:
            notes.append(f"{cmp.changed} image(s) changed since the baseline (different bytes): not paired")
        if cmp.unscored:
            notes.append(f"{cmp.unscored} example(s) unscored (ambiguous or unreadable) in one run: not paired")
    if relabelled:
        notes.append(f"{relabelled} paired example(s) have a different expected label than in the baseline")
    if cmp.unstable_flips:
        notes.append(f"{len(cmp.unstable_flips)} flip(s) between near-tied answers (top-1/top-2 margin under "
                     f"{UNSTABLE_MARGIN}): shown as unstable, not counted as new failures")
    return notes


def run_changes(saved: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """What differs between the baseline's run and this one: model, device, precision, preprocessing, versions."""
    changes = []
    for key in RUN_KEYS:
        if key in saved and key in run and saved[key] != run[key]:
            before, now = saved[key], run[key]
            if key == "versions" and isinstance(before, dict) and isinstance(now, dict):
                changes += [f"{k} {before.get(k, '—')} → {now.get(k, '—')}"
                            for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
            else:
                changes.append(f"{key} {before} → {now}")
    return changes


def baseline_checks(cmp: BaselineComparison, max_accuracy_drop: float | None,
                    max_new_failures: int | None) -> list[Check]:
    """The baseline thresholds as Checks for verdicts.judge(extra_checks=...)."""
    checks = []
    n = cmp.n_paired
    if max_accuracy_drop is not None:
        if not n:
            checks.append(Check("max_accuracy_drop", "—", f"<= {max_accuracy_drop:.1%}", True,
                                "no paired examples to compare"))
        else:
            drop = -cmp.delta
            ok = drop <= max_accuracy_drop + 1e-12
            detail = (f"{cmp.baseline_accuracy:.1%} → {cmp.accuracy:.1%} on {n} paired examples, "
                      f"change {interval_text(cmp)}, McNemar p={cmp.p_value:.3g}")
            if cmp.unstable_flips:
                detail += f"; {len(cmp.unstable_flips)} of the flips unstable"
            checks.append(Check("max_accuracy_drop", f"{drop:.1%}" if drop >= 0 else f"none (gain {-drop:.1%})",
                                f"<= {max_accuracy_drop:.1%}", ok, detail))
    if max_new_failures is not None:
        wrong = cmp.newly_wrong
        ok = len(wrong) <= max_new_failures
        detail = "right in the baseline, wrong now" + (": " + paths_text(wrong) if wrong else "")
        if cmp.unstable_flips:
            detail += f" ({len(cmp.unstable_flips)} unstable flip(s) not counted)"
        checks.append(Check("max_new_failures", str(len(wrong)), f"<= {max_new_failures}", ok,
                            detail if wrong or cmp.unstable_flips or not ok else ""))
    return checks


def compare_all(results: Sequence[CategoryResult], baseline: Baseline) -> None:
    """Compare saved results with a baseline after the fact: comparison, baseline checks and verdict replaced."""
    for r in results:
        r.baseline = compare(r, baseline)
        checks = baseline_checks(r.baseline, r.thresholds.get("max_accuracy_drop"),
                                 r.thresholds.get("max_new_failures"))
        r.checks = [c for c in r.checks if c.name not in BASELINE_CHECKS] + checks
        r.passed = all(c.passed for c in r.checks)
    apply_holm(results)


def apply_holm(results: Iterable[CategoryResult]) -> None:
    """Holm-correct the McNemar p-values across every compared category (controller, all results in hand)."""
    compared = [r.baseline for r in results if r.baseline is not None and r.baseline.p_value is not None]
    adjusted = holm([cmp.p_value for cmp in compared])
    for cmp, p in zip(compared, adjusted, strict=True):
        cmp.p_holm = p
        cmp.significant = p < ALPHA


# -- text -----------------------------------------------------------------------------------------
def paths_text(paths: Sequence[str], limit: int = MAX_PATHS) -> str:
    """'a.png, b.png … and 3 more'."""
    shown = ", ".join(paths[:limit])
    return shown + (f" … and {len(paths) - limit} more" if len(paths) > limit else "")


def interval_text(cmp: BaselineComparison) -> str:
    """'-10.0 pts [-21.3, -2.1]': the paired accuracy change with its 95% interval, in percentage points."""
    return f"{cmp.delta * 100:+.1f} pts [{cmp.lo * 100:+.1f}, {cmp.hi * 100:+.1f}]"


def verdict_text(cmp: BaselineComparison) -> str:
    """Plain words: 'no change', 'could be noise', 'more than noise (worse)'…"""
    if not cmp.n_paired:
        return "nothing to compare"
    if not cmp.right_to_wrong and not cmp.wrong_to_right:
        return "no change"
    significant = cmp.significant
    if significant is None:   # not Holm-corrected (a single category judged on its own)
        significant = cmp.p_value < ALPHA
    if not significant:
        return "could be noise"
    return "more than noise (" + ("worse" if cmp.delta < 0 else "better") + ")"


def _acc(value: float | None, ci: Sequence[float] | None) -> str:
    return "—" if value is None or ci is None else f"{value:.1%} [{ci[0]:.1%}–{ci[1]:.1%}]"


def comparison_table(results: Sequence[CategoryResult]) -> list[str]:
    """The terminal's baseline section: one row per compared category, then the flipped examples."""
    compared = [(r, r.baseline) for r in results if r.baseline is not None]
    if not compared:
        return []
    rows = []
    for r, cmp in compared:
        p = "—" if cmp.p_value is None else f"{cmp.p_value:.3g}" + (
            f" ({cmp.p_holm:.3g})" if cmp.p_holm is not None else "")
        wrong = str(len(cmp.newly_wrong)) + (f" +{len(cmp.unstable_flips)} unstable" if cmp.unstable_flips else "")
        rows.append([r.category, cmp.n_paired, _acc(cmp.baseline_accuracy, cmp.baseline_ci),
                     _acc(cmp.accuracy, cmp.ci), interval_text(cmp) if cmp.n_paired else "—", p,
                     wrong, len(cmp.newly_right), verdict_text(cmp)])
    lines = [f"against baseline {compared[0][1].baseline_file} (paired examples; 95% intervals; "
             f"McNemar exact p, Holm-corrected across {sum(1 for _, cmp in compared if cmp.p_value is not None)}"
             " categories):"]
    lines += tabulate(rows, headers=["category", "paired", "baseline", "now", "change [95% CI]", "p (Holm)",
                                     "newly wrong", "newly right", "verdict"]).splitlines()
    for r, cmp in compared:
        for what, paths in (("newly wrong", cmp.newly_wrong), ("newly right", cmp.newly_right),
                            ("unstable flips", cmp.unstable_flips)):
            if paths:
                lines.append(f"{r.category}: {what}: {paths_text(paths)}")
        lines += [f"{r.category}: {note}" for note in cmp.notes]
    for suite in dict.fromkeys(r.suite for r, _ in compared):   # once per suite, not once per category
        changes = next(cmp.run_changes for r, cmp in compared if r.suite == suite)
        if changes:
            lines.append(f"{suite}: since the baseline: " + "; ".join(changes))
    return lines
