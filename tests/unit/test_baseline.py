"""baseline.py: saving and loading a baseline, comparing (paired statistics, flips, unstable flips, Holm),
from hand-built records; the report CLI's clean errors. Gating in whole runs: tests/integration/test_baseline_runs.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.fakes import fake_report_module

from pytest_edgecases import __main__ as cli
from pytest_edgecases.baseline import apply_holm, baseline_document, compare, load_baseline, save_baseline
from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.records import BaselineComparison, CategoryResult, ExampleResult, RunInfo
from pytest_edgecases.results import write_results


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


# -- python -m pytest_edgecases report ------------------------------------------------------------
@pytest.fixture
def fake_report(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[CategoryResult], Any]]:
    """The report module replaced by one that records what it was asked to write."""
    return fake_report_module(monkeypatch)


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


