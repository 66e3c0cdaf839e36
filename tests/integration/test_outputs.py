"""What a run shows and writes: failure messages, -v, the summary table, JUnit XML, the results file, the
HTML report (and pytest-html's rows). The report rendered from records: tests/unit/test_report.py."""
from __future__ import annotations

import html as htmlmod
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

# Imported before any pytester run: pytester evicts the modules a run imports first, and the report's
# jinja2 and yaml's C extension then come back as second copies that no longer match the first.
import jinja2  # noqa: F401
import pandas as pd
import pytest
from markupsafe import escape
from support.hostile import PAYLOADS, assert_no_payload, build_hostile_project

from pytest_edgecases.results import COLUMNS


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


# -- the HTML report ------------------------------------------------------------------------------------


def test_run_writes_one_complete_report_by_default(tiny_project: Callable[..., Path],
                                                   pytester: pytest.Pytester) -> None:
    """The default path, a note in the summary, every category and a thumbnail per failure."""
    tiny_project()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    report = pytester.path / "edgecases-report.html"
    result.stdout.fnmatch_lines([f"edgecases: report written to {report}"])
    html = report.read_text()
    assert '<a href="#c0">clean</a>' in html and '<a href="#c1">dark</a>' in html
    assert len(re.findall(r'<article class="card', html)) == 6
    assert html.count('<img src="data:image/') == 6
    assert not list(pytester.path.glob(".edgecases-report.html.*"))   # no temp file left


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_hostile_project_report_is_escaped_and_complete(tiny_project: Callable[..., Path],
                                                        pytester: pytest.Pytester, xdist: list[str]) -> None:
    """Under pytest -n 2 the controller writes one report with every category, as without it."""
    build_hostile_project(tiny_project, pytester)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=1, failed=1)
    html = (pytester.path / "edgecases-report.html").read_text()
    assert_no_payload(html)
    assert len(re.findall(r'<article class="cat ', html)) == 2
    statuses = re.findall(r'data-status="([^"]+)"', html)
    assert sorted(statuses) == ["failure"] * 4 + ["regression", "waived"]
    assert html.count('<img src="data:image/') == 6
    assert str(escape(PAYLOADS[1])) in html and str(escape(PAYLOADS[5])) in html   # reviewer, camera group
    if xdist:
        assert not list(pytester.path.glob("*.html.*"))


def test_report_none_disables_it(tiny_project: Callable[..., Path], pytester: pytest.Pytester) -> None:
    """`--edgecases-report=none` writes nothing."""
    tiny_project()
    result = pytester.runpytest("--edgecases", "--edgecases-report=none", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert not list(pytester.path.glob("*.html"))
    assert "report written" not in result.stdout.str()


def test_unwritable_report_is_a_note_not_a_crash(tiny_project: Callable[..., Path],
                                                 pytester: pytest.Pytester) -> None:
    """A folder that is a file: the run's outcome is unchanged and the summary says why."""
    tiny_project()
    (pytester.path / "blocker").write_text("a file, not a folder")
    result = pytester.runpytest("--edgecases", "--edgecases-report=blocker/report.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["edgecases: could not write the report file *blocker/report.html: *"])
    assert "INTERNALERROR" not in result.stdout.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_pytest_html_rows_carry_summary_and_thumbnails(tiny_project: Callable[..., Path],
                                                       pytester: pytest.Pytester, xdist: list[str]) -> None:
    """With --html each category's row has its table and a few thumbnails, escaped (workers attach them)."""
    pytest.importorskip("pytest_html")
    build_hostile_project(tiny_project, pytester)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--html=h.html", "--self-contained-html",
                                *xdist)
    result.assert_outcomes(passed=1, failed=1)
    page = (pytester.path / "h.html").read_text()
    # pytest-html keeps rows as JSON in an attribute: unescape it once to see what the browser inserts.
    import json

    blob = json.loads(htmlmod.unescape(re.search(r'data-jsonblob="([^"]*)"', page).group(1)))
    extras = {test_id: [e["content"] for row in rows for e in row["extras"] if e["format_type"] == "html"]
              for test_id, rows in blob["tests"].items()}
    dark = next(v for k, v in extras.items() if k.endswith("::dark"))
    assert len(dark) == 1 and 'class="edgecases"' in dark[0]
    assert dark[0].count('<img src="data:image/') == 4 and "min_accuracy" in dark[0]
    assert "<script" not in dark[0] and "<img src=x" not in dark[0]


def test_without_pytest_html_nothing_breaks(tiny_project: Callable[..., Path], pytester: pytest.Pytester) -> None:
    """pytest-html disabled (as if not installed): the run and our report are unaffected."""
    tiny_project()
    result = pytester.runpytest("--edgecases", "-p", "no:html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert (pytester.path / "edgecases-report.html").is_file()
