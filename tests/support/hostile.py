"""Records and a project full of hostile strings, shared by the report's unit, integration and browser tests."""
from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_edgecases.records import CategoryResult, Check, ExampleResult, GroupFigures, RunInfo
from pytest_edgecases.report import ReportContext

#: Strings that would run if any of them reached the page unescaped.
PAYLOADS = [
    '<script>window.__pwned=1</script>',
    '<img src=x onerror="window.__pwned=1">',
    '</textarea><script>document.title="pwned"</script>',
    '" onmouseover="window.__pwned=1',
    "javascript:window.__pwned=1",
    '"><svg onload=window.__pwned=1>',
]


HOSTILE = " ".join(PAYLOADS)


def ex(path: str = "data/a/0.png", *, label: str = "red", predicted: str | None = "blue",
       confidence: float | None = 0.9, status: str | None = None, severity: str = "medium",
       **extra: Any) -> ExampleResult:
    """An ExampleResult with sensible defaults: wrong unless predicted == label."""
    correct = None if predicted is None else predicted == label
    status = status or ("error" if correct is None else "correct" if correct else "failure")
    top = [[predicted, confidence], [label, 1 - confidence]] if predicted and confidence is not None else []
    fields = dict(path=path, category="cat", label=label, predicted=predicted, confidence=confidence,
                  correct=correct, severity=severity, status=status,
                  counted=correct is False and status not in ("ambiguous", "waived"), top=top,
                  margin=None if confidence is None else 2 * confidence - 1)
    fields.update(extra)
    return ExampleResult(**fields)


def cat(name: str = "cat", examples: list[ExampleResult] | None = None, *, level: str = "", base: str = "",
        index: int = 0, min_accuracy: float | None = 0.9, **extra: Any) -> CategoryResult:
    """A CategoryResult whose figures are computed from its examples."""
    examples = examples if examples is not None else [ex(), ex("data/a/1.png", predicted="red")]
    for e in examples:
        e.category = name
    scored = [e for e in examples if e.correct is not None and e.status != "ambiguous"]
    k = sum(1 for e in scored if e.correct)
    by_sev = {"high": 0, "medium": 0, "low": 0}
    for e in examples:
        if e.counted:
            by_sev[e.severity] += 1
    acc = k / len(scored) if scored else None
    fields = dict(suite="colours", suite_file="edgecases.yaml", category=name, base=base or name.split("[")[0],
                  level=level, description="", passed=acc is not None and acc >= (min_accuracy or 0),
                  n_examples=len(examples), n_scored=len(scored), n_correct=k, accuracy=acc,
                  ci_low=None if acc is None else max(0.0, acc - 0.1),
                  ci_high=None if acc is None else min(1.0, acc + 0.1),
                  failures_by_severity=by_sev, regressions=sum(e.status == "regression" for e in examples),
                  fixed=sum(e.status == "fixed" for e in examples),
                  checks=[Check("min_accuracy", f"{acc:.1%}" if acc is not None else "—", ">= 90.0%",
                                acc is not None and acc >= 0.9)],
                  examples=examples, labels=["red", "blue"], index=index,
                  thresholds={"min_accuracy": min_accuracy, "max_failures": {"high": 0}, "gate": "point"},
                  run=RunInfo(model="abc123", device="cpu", precision="fp32", date="2026-11-23T10:00:00"))
    fields.update(extra)
    return CategoryResult(**fields)


def attr_urls(html: str) -> list[str]:
    """Every src/href value in the page."""
    return re.findall(r'\b(?:src|href|xlink:href|action|formaction)\s*=\s*"([^"]*)"', html)


def assert_no_payload(html: str) -> None:
    """No hostile string survives unescaped; our own single <script> is the only one."""
    for payload in PAYLOADS:
        if "<" in payload or '"' in payload:
            assert payload not in html, payload
    assert html.count("<script") == 1
    assert "<svg onload" not in html and "<img src=x" not in html
    for url in attr_urls(html):
        assert url.startswith(("#", "data:image/")), url


def hostile_results() -> list[CategoryResult]:
    """Hostile strings everywhere a suite, an annotation or a file name can put one."""
    e1 = ex(f"data/{PAYLOADS[1]}.png", label=HOSTILE, predicted="red", severity="high", confidence=0.97,
            status="known_failure", reviewers=[PAYLOADS[1], "bob"], verdict="incorrect", comment=HOSTILE,
            waiver={"reason": HOSTILE, "until": "2999-01-01", "active": "True"}, accept=[PAYLOADS[0]],
            metadata={"camera": PAYLOADS[5]})
    e2 = ex("data/ok.png", label="red", predicted=HOSTILE, metadata={"camera": "plain"}, status="regression",
            comment=PAYLOADS[3])
    e3 = ex("data/bad.png", predicted=None, confidence=None, error=HOSTILE)
    r = cat("dark", [e1, e2, e3], description=HOSTILE, suite=HOSTILE, labels=["red", HOSTILE],
            group_by="camera", groups={PAYLOADS[5]: GroupFigures(n=1, correct=0, accuracy=0.0, ci_low=0.0,
                                                                 ci_high=0.79)},
            checks=[Check("min_accuracy", HOSTILE, HOSTILE, False, HOSTILE)])
    return [r]


QUEUED = {"image": PAYLOADS[1], "category": "dark", "label": HOSTILE, "predicted": "red", "confidence": 0.8,
          "reason": PAYLOADS[3], "comment": PAYLOADS[2], "votes": [[PAYLOADS[0], "correct"]]}


def hostile_context(**extra: Any) -> ReportContext:
    """A context whose caller-given parts (queue, baseline, agreement) are hostile too."""
    fields: dict[str, Any] = dict(
        title=PAYLOADS[0], generated=PAYLOADS[2],
        review_queue=[QUEUED],
        baseline={"dark": {"delta": -0.25, "lo": -0.4, "hi": -0.1, "p_value": 0.004, "significant": True,
                           "newly_wrong": [PAYLOADS[1]], "newly_right": [PAYLOADS[4]], "unstable_flips": []}},
        agreement={"suite": {"kappa": 0.5, "method": PAYLOADS[0], "n": 3},
                   "categories": {"dark": {"kappa": 0.1, "method": "cohen", "n": 3}},
                   "conflicts": [{"image": PAYLOADS[1], "category": "dark", "reviewers": [PAYLOADS[0], "bob"],
                                  "verdicts": [PAYLOADS[5], "correct"]}]})
    fields.update(extra)
    return ReportContext(**fields)


def build_hostile_project(tiny_project: Callable[..., Path], pytester: pytest.Pytester) -> Path:
    """tiny_project with hostile strings in a label, the suite name, a description, manifest values,
    a file name, a reviewer's name, a comment and a waiver reason. Dark red images fail."""
    root = pytester.path
    tiny_project(yaml="suite: placeholder\n")   # images and model; the suite is written below
    bad_name = "<img src=x onerror=window.__pwned=1>.png"
    (root / "data/dark/red/000.png").rename(root / "data/dark/red" / bad_name)
    blue = "blue" + PAYLOADS[0]

    def manifest(name: str, folder: str, camera: bool) -> None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["path", "label", "camera"] if camera else ["path", "label"])
        for p in sorted((root / "data" / folder).rglob("*.png")):
            label = "red" if p.parent.name == "red" else blue
            row = [p.relative_to(root).as_posix(), label]
            writer.writerow(row + ([PAYLOADS[5] if p.name < "003" else "plain"] if camera else []))
        (root / name).write_text(out.getvalue())

    manifest("clean.csv", "clean", False)
    manifest("dark.csv", "dark", True)
    (root / "reviews").mkdir()
    (root / "reviews/alice.yaml").write_text(textwrap.dedent(f"""\
        reviewer: '{PAYLOADS[1]}'
        date: 2026-11-20
        examples:
          - image: 'data/dark/red/{bad_name}'
            verdict: incorrect
            severity: high
            comment: {HOSTILE!r}
            waiver: {{reason: {PAYLOADS[0]!r}, until: 2999-12-31}}
          - image: data/dark/red/001.png
            verdict: correct
            comment: {PAYLOADS[3]!r}
        """))
    suite = root / "edgecases.yaml"
    suite.write_text(textwrap.dedent(f"""\
        suite: {('colours ' + PAYLOADS[1])!r}
        labels: [red, {blue!r}]
        model: {{factory: "tinymodel:build", args: {{bias: 1.0}}}}
        preprocess: {{resize: [8, 8]}}
        defaults: {{min_accuracy: 0.9}}
        annotations: reviews/
        categories:
          - name: clean
            description: {HOSTILE!r}
            manifest: clean.csv
          - name: dark
            description: {PAYLOADS[2]!r}
            manifest: dark.csv
            severity: high
            group_by: camera
        """))
    return suite
