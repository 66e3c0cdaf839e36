"""Baselines in whole runs: saved, compared, gating, and the report CLI regenerating a report against one.

The tiny model's ``bias`` argument makes two runs two different models: bias 0 gets every image
right; bias 1 turns every dark red image blue (6 flips); bias 0.45 / 0.46 sit on either side of
the dark red images' decision boundary with a top-1/top-2 margin under 0.01 (near-ties).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from support.fakes import fake_report_module
from support.project import suite_yaml, write_images

from pytest_edgecases import __main__ as cli
from pytest_edgecases.records import CategoryResult


def colour_suite(bias: float, extra: str = "", name: str = "colours", defaults: str = "min_accuracy: 0.4") -> str:
    """The colour suite, its model the tiny model with ``bias``; ``extra`` goes on at the end of defaults."""
    return suite_yaml(suite=name, model=f'{{factory: "tinymodel:build", args: {{bias: {bias}}}}}',
                      defaults=f"{{{defaults}{extra}}}")


RUN = ["--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none"]


@pytest.fixture
def project(tiny_project: Callable[..., Path]) -> Callable[..., Path]:
    """Write (or rewrite) the suite with a given model bias and thresholds; images are made once."""
    made: list[Path] = []

    def make(bias: float, extra: str = "", suite: str = "colours", defaults: str = "min_accuracy: 0.4") -> Path:
        text = colour_suite(bias, extra, suite, defaults)
        if not made:
            made.append(tiny_project(text))
        else:
            made[0].write_text(text.lstrip())
        return made[0].parent

    return make


def test_two_runs_of_the_same_model_save_identical_baselines(pytester: pytest.Pytester,
                                                             project: Callable[..., Path]) -> None:
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=one.json").assert_outcomes(passed=2)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=two.json").assert_outcomes(passed=2)
    assert (pytester.path / "one.json").read_bytes() == (pytester.path / "two.json").read_bytes()


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
    suite = tiny_project(colour_suite(0.0, defaults="min_examples: 1"), dark=10)
    pytester.runpytest(*RUN, "--edgecases-save-baseline=base.json").assert_outcomes(passed=2)
    suite.write_text(colour_suite(1.0, defaults="min_examples: 1"))
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


@pytest.fixture
def fake_report(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[CategoryResult], Any]]:
    """The report module replaced by one that records what it was asked to write."""
    return fake_report_module(monkeypatch)


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


def test_cli_with_the_real_report_module(tmp_path: Path, pytester: pytest.Pytester,
                                         project: Callable[..., Path]) -> None:
    pytest.importorskip("pytest_edgecases.report", reason="the HTML report module is not in this checkout yet")
    project(0.0)
    pytester.runpytest(*RUN, "--edgecases-results=r.json").assert_outcomes(passed=2)
    assert cli.main(["report", str(pytester.path / "r.json"), "-o", str(tmp_path / "out.html"),
                     "--rootdir", str(pytester.path)]) == 0
    assert "dark" in (tmp_path / "out.html").read_text(encoding="utf-8")
