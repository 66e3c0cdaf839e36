"""What a run shows and writes: failure messages, -v, the summary table, JUnit XML, the results file."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from pytest_edgecases.records import Check
from pytest_edgecases.results import COLUMNS
from pytest_edgecases.terminal import missed_phrase


def test_failing_item_shows_thresholds_then_worst_failures_first(tiny_project, pytester, solid_image):
    # With bias 1.0, P(red) = sigmoid(8 * (R - B) / 255 - 2): each colour below has a known answer.
    images = {  # name: (colour, label, severity, predicted)
        "ok_red": ((250, 0, 0), "red", "high", "red"),
        "ok_blue": ((0, 0, 250), "blue", "high", "blue"),
        "low_sure": ((250, 0, 0), "blue", "low", "red"),          # 99.7% sure, low severity
        "medium_sure": ((180, 0, 0), "blue", "medium", "red"),    # 97.5%
        "high_a_unsure": ((33, 4, 4), "red", "high", "blue"),     # 74.8% (sorts first by name only)
        "high_b_sure": ((0, 0, 100), "red", "high", "blue"),        # 99.4%
    }
    rows = ["path,label,severity"]
    for name, (rgb, label, severity, _) in images.items():
        solid_image(pytester.path / "data" / f"{name}.png", rgb)
        rows.append(f"data/{name}.png,{label},{severity}")
    (pytester.path / "m.csv").write_text("\n".join(rows) + "\n")
    tiny_project("""
        labels: [red, blue]
        model: {factory: "tinymodel:build", args: {bias: 1.0}}
        categories:
          - name: mixed
            description: Hand-picked colours
            manifest: m.csv
            min_accuracy: 0.5
            max_failures: {high: 1}
    """, clean=0, dark=0)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ edge-case category: mixed _*",
        "accuracy 33.3% < 50.0%; high failures 2 > 1",
        "edgecases.yaml::mixed: 2/6 correct, accuracy 33.3% ?9.7%–70.0%?",
        "Hand-picked colours",
        "threshold * measured * limit * result * detail",
        "min_accuracy * 33.3% (accuracy) * >= 50.0% * FAILED * short by 16.7%",
        "max_failures?high? * 2 * <= 1 * FAILED * 1 over",
        "worst failures (4 in all):",
        "image * expected * predicted * confidence * severity * status * comment",
        "data/high_b_sure.png * red * blue * 99.4% * high * failure",
        "data/high_a_unsure.png * red * blue * 74.8% * high * failure",
        "data/medium_sure.png * blue * red * 97.5% * medium * failure",
        "data/low_sure.png * blue * red * 99.7% * low * failure",
    ])
    assert "Traceback" not in result.stdout.str()
    # pytest's short summary shows a failure's first line: it says why, not the node id again.
    short = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-rf", "-q")
    short.stdout.fnmatch_lines(["FAILED edgecases.yaml::mixed - accuracy 33.3% < 50.0%; high failures 2 > 1"])


def test_verbose_shows_accuracy_and_description(tiny_project, pytester):
    tiny_project()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(["edgecases.yaml::clean PASSED (100.0% ?75.8%–100.0%? · Bright colours)*",
                                 "edgecases.yaml::dark FAILED (50.0% ?25.4%–74.6%?)*"])
    quiet = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    assert "Bright colours" not in quiet.stdout.str()


def test_terminal_summary_table(tiny_project, pytester):
    tiny_project()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "*= edge cases =*",
        "category * images * accuracy (95% CI) * failures * regressions * result",
        "clean * 12 * 100.0% ?75.8%–100.0%? * 0 * 0 * passed",
        "dark * 12 * 50.0% ?25.4%–74.6%? * high 6 * 0 * FAILED",
    ])


def test_no_table_without_edgecases_items(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "edge cases" not in result.stdout.str()


def test_junit_xml_carries_each_categorys_figures(tiny_project, pytester):
    tiny_project()
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--junitxml=junit.xml")
    root = ET.parse(pytester.path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"clean", "dark"}
    props = {name: {p.get("name"): p.get("value") for p in case.iter("property")} for name, case in cases.items()}
    assert props["clean"]["edgecases.accuracy"] == "1.0"
    assert props["clean"]["edgecases.images"] == "12"
    assert props["clean"]["edgecases.ci_low"] == "0.7575"
    assert props["dark"]["edgecases.accuracy"] == "0.5"
    assert props["dark"]["edgecases.correct"] == "6"
    assert props["dark"]["edgecases.failures.high"] == "6"
    assert props["dark"]["edgecases.failures.medium"] == "0"
    assert cases["dark"].find("failure") is not None and cases["clean"].find("failure") is None
    # The failure's message attribute (what CI dashboards list) is the reason; its text is the whole table.
    failure = cases["dark"].find("failure")
    assert failure.get("message") == "accuracy 50.0% < 90.0%"
    assert "worst failures (6 in all):" in failure.text


def test_results_csv_one_row_per_example(tiny_project, pytester):
    tiny_project()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out/results.csv")
    result.stdout.fnmatch_lines(["edgecases: results written to */out/results.csv"])
    table = pd.read_csv(pytester.path / "out/results.csv", keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert len(table) == 24
    assert table.groupby("category").size().to_dict() == {"clean": 12, "dark": 12}
    row = table[table["path"] == "data/dark/red/000.png"].iloc[0]
    assert (row["suite"], row["category"], row["label"], row["predicted"]) == ("colours", "dark", "red", "blue")
    assert (row["correct"], row["severity"], row["status"]) == (False, "high", "failure")
    assert row["confidence"] == pytest.approx(0.748, abs=1e-3)
    assert row["top3"].startswith("blue:0.74")
    right = table[table["path"] == "data/clean/blue/003.png"].iloc[0]
    assert (right["predicted"], right["correct"], right["status"], right["severity"]) == (
        "blue", True, "correct", "medium")
    assert len(right["sha256"]) == 64


def test_results_json(tiny_project, pytester):
    tiny_project()
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=results.json")
    doc = json.loads((pytester.path / "results.json").read_text())
    assert doc["schema"] == "pytest-edgecases/results/1"
    clean, dark = doc["categories"]
    assert (clean["category"], clean["passed"], clean["n_examples"], clean["accuracy"]) == ("clean", True, 12, 1.0)
    assert (dark["category"], dark["passed"], dark["n_correct"], dark["failures_by_severity"]["high"]) == (
        "dark", False, 6, 6)
    wrong = {e["path"]: e for e in dark["examples"] if not e["correct"]}
    assert sorted(wrong) == [f"data/dark/red/{i:03d}.png" for i in range(6)]
    example = wrong["data/dark/red/000.png"]
    assert (example["label"], example["predicted"], example["severity"], example["status"]) == (
        "red", "blue", "high", "failure")
    assert example["top"][0][0] == "blue" and example["top"][0][1] == pytest.approx(example["confidence"])


def test_results_written_even_when_everything_passes(tiny_project, pytester):
    tiny_project(dark=0, yaml="""
        labels: [red, blue]
        model: {factory: "tinymodel:build"}
        categories: [{name: clean, images: data/clean/}]
    """)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=r.csv").assert_outcomes(passed=1)
    assert len(pd.read_csv(pytester.path / "r.csv")) == 12


def test_a_category_that_cannot_be_judged_still_appears_in_the_summary_and_results(tiny_project, pytester):
    """A model that fails to load: every item fails with the reason, and the table still lists them."""
    suite = tiny_project()
    suite.write_text(suite.read_text().replace("tinymodel:build", "tinymodel:missing"))
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=r.json",
                                "--edgecases-report=none")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edge cases*", "clean *12*—*NOT JUDGED", "dark *12*—*NOT JUDGED"])
    import json

    cats = json.loads((pytester.path / "r.json").read_text())["categories"]
    assert [(c["category"], c["passed"]) for c in cats] == [("clean", False), ("dark", False)]
    assert all("has no attribute 'missing'" in c["error"] for c in cats)
    assert "Traceback" not in result.stdout.str()


def test_markdown_summary_shows_flips_against_the_baseline(tiny_project, pytester):
    """PR comments come from the Markdown summary, so it carries the baseline comparison too."""
    suite = tiny_project()
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none",
                       "--edgecases-save-baseline=base.json")
    suite.write_text(suite.read_text().replace("bias: 1.0", "bias: 0.0"))   # dark red images now right
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none",
                       "--edgecases-baseline=base.json", "--edgecases-markdown=pr.md")
    text = (pytester.path / "pr.md").read_text()
    assert "**Against the baseline** (2 categories compared, 1 with flips" in text
    row = next(line for line in text.splitlines() if line.startswith("| dark |"))
    assert row.split(" | ")[2:4] == ["0", "6"], row          # newly wrong 0, newly right 6


def test_an_empty_review_queue_still_names_its_suite(tiny_project, pytester):
    suite = tiny_project()
    suite.write_text(suite.read_text().replace("bias: 1.0", "bias: 0.0"))   # nothing fails, nothing queued
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none",
                       "--edgecases-review-queue=queue.yaml")
    text = (pytester.path / "queue.yaml").read_text()
    assert 'for suite "colours"' in text.splitlines()[0]
    assert "examples: []" in text


@pytest.mark.parametrize("check, phrase", [
    (Check("min_accuracy", "79.6% (accuracy)", ">= 90.0%", False), "accuracy 79.6% < 90.0%"),
    (Check("min_accuracy", "70.1% (lower 95% bound)", ">= 80.0%", False), "accuracy's lower 95% bound 70.1% < 80.0%"),
    (Check("max_failures[high]", "10", "<= 3", False), "high failures 10 > 3"),
    (Check("max_failures[any]", "4", "<= 0", False), "failures 4 > 0"),
    (Check("min_examples", "3", ">= 5", False), "scored examples 3 < 5"),
    (Check("max_regressions", "1", "<= 0", False), "regressions 1 > 0"),
    (Check("max_group_gap", "25.0%", "<= 10.0%", False), "group gap 25.0% > 10.0%"),
    (Check("max_accuracy_drop", "6.0%", "<= 2.0%", False), "accuracy drop 6.0% > 2.0%"),
    (Check("scoring_errors", "2 example(s)", "0", False), "unscored examples 2 example(s) (limit 0)"),
])
def test_a_missed_threshold_in_words(check, phrase):
    assert missed_phrase(check) == phrase
