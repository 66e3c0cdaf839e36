"""Baselines: saving, comparing (paired statistics, flips, unstable flips, Holm), gating, and the report CLI.

The tiny model's ``bias`` argument makes two runs two different models: bias 0 gets every image
right; bias 1 turns every dark red image blue (6 flips); bias 0.45 / 0.46 sit on either side of
the dark red images' decision boundary with a top-1/top-2 margin under 0.01 (near-ties).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml  # noqa: F401  (imported before the first pytester run, like torch in conftest.py: see the report)
from conftest import write_images

from pytest_edgecases import __main__ as cli
from pytest_edgecases.baseline import apply_holm, baseline_document, compare, load_baseline, save_baseline
from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.records import BaselineComparison, CategoryResult, ExampleResult, RunInfo
from pytest_edgecases.results import write_results

SUITE = """
suite: {suite}
labels: [red, blue]
model: {{factory: "tinymodel:build", args: {{bias: {bias}}}}}
preprocess: {{resize: [8, 8]}}
defaults: {{{defaults}{extra}}}
categories:
  - name: clean
    images: data/clean/
  - name: dark
    images: data/dark/
    severity: high
"""
RUN = ["--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none"]


@pytest.fixture
def project(tiny_project: Callable[..., Path]) -> Callable[..., Path]:
    """Write (or rewrite) the suite with a given model bias and thresholds; images are made once."""
    made: list[Path] = []

    def make(bias: float, extra: str = "", suite: str = "colours", defaults: str = "min_accuracy: 0.4") -> Path:
        text = SUITE.format(bias=bias, extra=extra, suite=suite, defaults=defaults)
        if not made:
            made.append(tiny_project(text))
        else:
            made[0].write_text(text.lstrip())
        return made[0].parent

    return make


def _example(path: str, correct: bool | None, margin: float = 0.5, sha: str = "", status: str = "") -> ExampleResult:
    return ExampleResult(path=path, category="cat", label="red", predicted="red" if correct else "blue",
                         confidence=0.5 + margin / 2, correct=correct, severity="medium",
                         status=status or ("correct" if correct else "failure"), counted=not correct,
                         margin=margin, sha256=sha or f"sha-{path}")


def _result(examples: list[ExampleResult], category: str = "cat", suite: str = "s") -> CategoryResult:
    scored = [e for e in examples if e.correct is not None]
    right = sum(1 for e in scored if e.correct)
    return CategoryResult(
        suite=suite, suite_file="s.edgecases.yaml", category=category, base=category, level="", description="",
        passed=True, n_examples=len(examples), n_scored=len(scored), n_correct=right,
        accuracy=right / len(scored) if scored else None, ci_low=None, ci_high=None, failures_by_severity={},
        regressions=0, fixed=0, checks=[], examples=examples, labels=["red", "blue"],
        run=RunInfo.from_json({"model": "abc", "device": "cpu", "precision": "fp32", "preprocess": "p",
                               "versions": {"torch": "2"}, "date": "2026-01-01T00:00:00", "seconds": 1.5}))


# -- saving and loading ---------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path: Path) -> None:
    results = [_result([_example("a.png", True, 0.9), _example("b.png", False, 0.01)])]
    path = tmp_path / "sub" / "base.json"
    save_baseline(path, results)
    text = path.read_text()
    assert json.loads(text) == json.loads(json.dumps(baseline_document(results)))   # valid JSON, nothing lost
    assert "date" not in text and "seconds" not in text       # run-to-run noise is left out
    loaded = load_baseline(path, "base.json")
    assert loaded.suites["s"]["labels"] == ["red", "blue"] and loaded.suites["s"]["model"] == "abc"
    examples = loaded.examples[("s", "cat")]
    assert examples["a.png"].correct is True and examples["a.png"].margin == 0.9 and not examples["a.png"].unstable
    assert examples["b.png"].correct is False and examples["b.png"].unstable
    assert examples["b.png"].sha256 == "sha-b.png" and examples["b.png"].predicted == "blue"


def test_save_is_byte_stable_with_one_example_per_line(tmp_path: Path) -> None:
    examples = [_example(f"{i}.png", i % 3 != 0, 0.1 + i / 97) for i in range(7)]
    save_baseline(tmp_path / "one.json", [_result(examples)])
    save_baseline(tmp_path / "two.json", [_result(list(reversed(examples)))])   # order of discovery is irrelevant
    one = (tmp_path / "one.json").read_bytes()
    assert one == (tmp_path / "two.json").read_bytes()
    lines = one.decode().splitlines()
    assert sum('"path": ' in line for line in lines) == 7      # one example per line: git diffs line up
    assert all(len(line) < 400 for line in lines)


def test_two_runs_of_the_same_model_save_identical_baselines(pytester: pytest.Pytester,
                                                             project: Callable[..., Path]) -> None:
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=one.json").assert_outcomes(passed=2)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=two.json").assert_outcomes(passed=2)
    assert (pytester.path / "one.json").read_bytes() == (pytester.path / "two.json").read_bytes()


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"schema": "something/else"}', "not a pytest-edgecases baseline"),
    ('{"schema": "pytest-edgecases/baseline/1", "suites": {}}', "damaged"),
])
def test_unreadable_baselines_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "b.json").write_text(text)
    with pytest.raises(EdgecasesError, match=message) as info:
        load_baseline(tmp_path / "b.json", "b.json")
    assert str(info.value).startswith("b.json: ")


# -- comparing ------------------------------------------------------------------------------------
def _baseline_of(tmp_path: Path, results: list[CategoryResult]) -> Any:
    save_baseline(tmp_path / "b.json", results)
    return load_baseline(tmp_path / "b.json", "b.json")


def test_compare_pairs_only_the_same_images(tmp_path: Path) -> None:
    before = [_example("same-right.png", True), _example("same-flip.png", True), _example("gone.png", True),
              _example("edited.png", True, sha="old-bytes"), _example("ambiguous.png", True)]
    now = [_example("same-right.png", True), _example("same-flip.png", False), _example("new.png", False),
           _example("edited.png", False, sha="new-bytes"), _example("ambiguous.png", False, status="ambiguous")]
    cmp = compare(_result(now), _baseline_of(tmp_path, [_result(before)]))
    assert (cmp.n_paired, cmp.added, cmp.removed, cmp.changed, cmp.unscored) == (2, 1, 1, 1, 1)
    assert cmp.newly_wrong == ["same-flip.png"] and cmp.newly_right == []
    assert (cmp.baseline_accuracy, cmp.accuracy, cmp.delta) == (1.0, 0.5, -0.5)
    assert cmp.lo < cmp.delta < cmp.hi and cmp.p_value == 1.0
    assert any("1 image(s) changed" in n for n in cmp.notes)
    assert any("compared on the 2 examples in both runs (1 added, 1 removed" in n for n in cmp.notes)


def test_unstable_flips_are_not_new_failures(tmp_path: Path) -> None:
    before = [_example("tie.png", True, margin=0.01), _example("firm.png", True, margin=0.5),
              _example("tie-now.png", False, margin=0.4)]
    now = [_example("tie.png", False, margin=0.3), _example("firm.png", False, margin=0.5),
           _example("tie-now.png", True, margin=0.001)]
    cmp = compare(_result(now), _baseline_of(tmp_path, [_result(before)]))
    assert cmp.newly_wrong == ["firm.png"]
    assert cmp.newly_right == []
    assert cmp.unstable_flips == ["tie.png", "tie-now.png"]   # unstable in either run is enough


def test_holm_is_applied_across_categories() -> None:
    results = [_result([], category=name) for name in ("a", "b", "c")]
    for r, p in zip(results, (0.001, 0.03, 0.5), strict=True):
        r.baseline = BaselineComparison(p_value=p)
    results.append(_result([], category="new"))        # not in the baseline: not in the family
    apply_holm(results)
    assert [r.baseline and r.baseline.p_holm for r in results] == pytest.approx([0.003, 0.06, 0.5, None])
    assert [r.baseline and r.baseline.significant for r in results] == [True, False, False, None]


def test_a_baseline_of_another_suite_or_label_set_is_an_error(tmp_path: Path) -> None:
    baseline = _baseline_of(tmp_path, [_result([_example("a.png", True)])])
    with pytest.raises(EdgecasesError, match="saved from 's', not from suite 'other'"):
        compare(_result([_example("a.png", True)], suite="other"), baseline)
    relabelled = _result([_example("a.png", True)])
    relabelled.labels = ["red", "green"]
    with pytest.raises(EdgecasesError, match=r"only in the baseline: \['blue'\]; only in this run: \['green'\]"):
        compare(relabelled, baseline)


# -- end to end -----------------------------------------------------------------------------------
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_changed_model_shows_flips_and_fails_the_gates(pytester: pytest.Pytester, project: Callable[..., Path],
                                                         xdist: list[str]) -> None:
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    project(1.0, extra=", max_new_failures: 0, max_accuracy_drop: 0.1")
    result = pytester.runpytest(*RUN, *xdist, "--edgecases-baseline=base.json", "--edgecases-results=r.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*max_accuracy_drop*50.0%*<= 10.0%*FAILED*100.0% → 50.0% on 12 paired examples*McNemar p=0.0313*",
        "*max_new_failures*6*<= 0*FAILED*right in the baseline, wrong now: data/dark/red/000.png*and 1 more*",
        "*baseline comparison*",
        "*against baseline base.json*Holm-corrected across 2 categories*",
        "category*paired*baseline*now*change*p (Holm)*newly wrong*newly right*verdict*",
        # (fnmatch reads [...] as a character class, hence the ? around the intervals)
        "clean*12*100.0% ?75.8%–100.0%?*100.0% ?75.8%–100.0%?*+0.0 pts*1 (1)*0*0*no change",
        # 6 of 6 flips one way: p = 0.031 alone, but 0.0625 once corrected for two categories.
        "dark*12*100.0% ?75.8%–100.0%?*50.0% ?25.4%–74.6%?*-50.0 pts ?-74.6, -15.4?*0.0313 (0.0625)*6*0*could be noise",
        "dark: newly wrong: data/dark/red/000.png, *",
        "colours: since the baseline: model * → *",
    ])
    dark = next(c for c in json.loads((pytester.path / "r.json").read_text())["categories"] if c["category"] == "dark")
    assert dark["baseline"]["newly_wrong"] == [f"data/dark/red/{i:03d}.png" for i in range(6)]
    assert dark["baseline"]["p_holm"] == pytest.approx(0.0625) and dark["baseline"]["significant"] is False
    assert {"delta", "lo", "hi", "p_value", "p_holm", "significant", "newly_wrong", "newly_right", "unstable_flips",
            "added", "removed", "baseline_accuracy", "accuracy"} <= set(dark["baseline"])


def test_many_flips_are_more_than_noise(pytester: pytest.Pytester, tiny_project: Callable[..., Path]) -> None:
    suite = tiny_project(SUITE.format(suite="colours", bias=0.0, extra="", defaults="min_examples: 1"), dark=10)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    suite.write_text(SUITE.format(suite="colours", bias=1.0, extra="", defaults="min_examples: 1").lstrip())
    result = pytester.runpytest(*RUN, "--edgecases-baseline=base.json")
    result.assert_outcomes(passed=2)    # no baseline thresholds set: the comparison informs, it does not gate
    result.stdout.fnmatch_lines(["dark*20*-50.0 pts*0.00195 (0.00391)*10*0*more than noise (worse)"])


def test_unstable_flips_do_not_count_as_new_failures(pytester: pytest.Pytester,
                                                     project: Callable[..., Path]) -> None:
    project(0.45)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    project(0.46, extra=", max_new_failures: 0")
    result = pytester.runpytest(*RUN, "--edgecases-baseline=base.json", "--edgecases-results=r.json",
                                "--edgecases-markdown=pr.md")
    result.assert_outcomes(passed=2)
    assert ("(2 categories compared, 0 with flips; McNemar's exact test, Holm-corrected): no example flipped; "
            "6 flip(s) between near-tied answers, not counted.") in (pytester.path / "pr.md").read_text()
    result.stdout.fnmatch_lines(["dark*12*-50.0 pts*0 +6 unstable*0*",
                                 "dark: unstable flips: data/dark/red/000.png*",
                                 "dark: 6 flip(s) between near-tied answers*not counted as new failures"])
    dark = json.loads((pytester.path / "r.json").read_text())["categories"][1]["baseline"]
    assert dark["newly_wrong"] == [] and len(dark["unstable_flips"]) == 6


def test_added_removed_and_changed_images(pytester: pytest.Pytester, project: Callable[..., Path]) -> None:
    root = project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    write_images(root, "data/extra", {"red": 1})
    (root / "data/extra/red/000.png").rename(root / "data/dark/red/new.png")
    (root / "data/dark/blue/005.png").unlink()
    (root / "data/dark/blue/000.png").write_bytes((root / "data/clean/blue/000.png").read_bytes())
    result = pytester.runpytest(*RUN, "--edgecases-baseline=base.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "dark*10*100.0%*",
        "dark: compared on the 10 examples in both runs (1 added, 1 removed since the baseline)",
        "dark: 1 image(s) changed since the baseline (different bytes): not paired",
    ])


def test_wrong_suite_label_set_or_missing_baseline_fail_the_items_cleanly(
        pytester: pytest.Pytester, project: Callable[..., Path]) -> None:
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    project(0.0, suite="other")
    result = pytester.runpytest(*RUN, "--edgecases-baseline=base.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["base.json: this baseline was saved from 'colours', not from suite 'other'"])
    assert "Traceback" not in result.stdout.str()

    project(0.0)
    doc = json.loads((pytester.path / "base.json").read_text())
    doc["suites"]["colours"]["labels"] = ["red", "green"]
    (pytester.path / "relabelled.json").write_text(json.dumps(doc))
    result = pytester.runpytest(*RUN, "--edgecases-baseline=relabelled.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["relabelled.json: the label set of suite 'colours' differs from the baseline's*"])

    result = pytester.runpytest(*RUN, "--edgecases-baseline=missing.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["missing.json: baseline file not found", "*hint: create it with*"])
    assert "Traceback" not in result.stdout.str()


def test_lower_bound_gate_says_what_it_did(pytester: pytest.Pytester, project: Callable[..., Path]) -> None:
    project(0.0, defaults="gate: lower_bound, min_accuracy: 0.9")
    result = pytester.runpytest(*RUN)
    result.assert_outcomes(failed=2)   # 12/12 right, but 12 images cannot show 90% with confidence
    result.stdout.fnmatch_lines(["*min_accuracy*75.8% (lower 95% bound)*>= 90.0%*FAILED*short by 14.2%; gate: "
                                 "lower_bound judges the lower end of the 95% interval (accuracy 100.0% meets the "
                                 "limit, but 12 examples are too few to be sure of it)"])


# -- python -m pytest_edgecases report ------------------------------------------------------------
@dataclasses.dataclass
class FakeContext:
    """Stands in for pytest_edgecases.report.ReportContext (written in parallel)."""

    title: str
    generated: str
    rootdir: Path
    thumbnail: Any = None
    review_queue: Any = None
    baseline: Any = None
    agreement: Any = None
    failure_cap: Any = None


@pytest.fixture
def fake_report(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[CategoryResult], FakeContext]]:
    """Replace the report module by one that records what it was asked to write."""
    calls: list[tuple[Path, list[CategoryResult], FakeContext]] = []

    def write_report(path: Path, results: list[CategoryResult], context: FakeContext) -> None:
        calls.append((path, results, context))
        Path(path).write_text("<html>fake</html>")

    module = types.ModuleType("pytest_edgecases.report")
    module.ReportContext = FakeContext  # type: ignore[attr-defined]
    module.write_report = write_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_edgecases.report", module)
    monkeypatch.setattr("pytest_edgecases.report", module, raising=False)
    return calls


def test_cli_regenerates_the_report_against_a_baseline(pytester: pytest.Pytester, project: Callable[..., Path],
                                                       fake_report: list, capsys: pytest.CaptureFixture[str]) -> None:
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    project(1.0, extra=", max_new_failures: 0")
    pytester.runpytest(*RUN, "--edgecases-results=r.json").assert_outcomes(passed=2)   # run had no baseline
    root = pytester.path
    status = cli.main(["report", str(root / "r.json"), "--baseline", str(root / "base.json"),
                       "-o", str(root / "out.html"), "--rootdir", str(root)])
    assert status == 0 and (root / "out.html").read_text() == "<html>fake</html>"
    assert "report written to" in capsys.readouterr().out
    [(path, results, context)] = fake_report
    assert [r.category for r in results] == ["clean", "dark"]
    dark = context.baseline["dark"]
    assert dark.newly_wrong == [f"data/dark/red/{i:03d}.png" for i in range(6)] and dark.p_holm is not None
    assert results[1].passed is False       # judged again against the baseline: max_new_failures now fails
    assert any(c.name == "max_new_failures" and not c.passed for c in results[1].checks)
    assert context.rootdir == root.resolve() and "colours" in context.title


@pytest.mark.parametrize("content, message", [
    (None, "results file not found"),
    ("{not json", "not valid JSON"),
    ('{"schema": "pytest-edgecases/baseline/1"}', "not a pytest-edgecases JSON results file"),
    ('{"schema": "pytest-edgecases/results/1", "categories": [{"suite": 1}]}', "or a damaged one"),
])
def test_cli_bad_results_file_is_a_clean_error(tmp_path: Path, fake_report: list, capsys: pytest.CaptureFixture[str],
                                               content: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["report", str(path), "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and message in err and "Traceback" not in err
    assert not fake_report and not (tmp_path / "x.html").exists()


def test_cli_bad_baseline_is_a_clean_error(tmp_path: Path, fake_report: list,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "r.json", [_result([_example("a.png", True)])])
    assert cli.main(["report", str(tmp_path / "r.json"), "--baseline", str(tmp_path / "none.json"),
                     "-o", str(tmp_path / "x.html")]) == 2
    assert "none.json: baseline file not found" in capsys.readouterr().err


def test_cli_with_the_real_report_module(tmp_path: Path, pytester: pytest.Pytester,
                                         project: Callable[..., Path]) -> None:
    pytest.importorskip("pytest_edgecases.report", reason="the HTML report module is not in this checkout yet")
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-results=r.json").assert_outcomes(passed=2)
    assert cli.main(["report", str(pytester.path / "r.json"), "-o", str(tmp_path / "out.html"),
                     "--rootdir", str(pytester.path)]) == 0
    assert "dark" in (tmp_path / "out.html").read_text(encoding="utf-8")
