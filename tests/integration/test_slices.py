"""Slice discovery in a run: the terminal lines, the results file, --edgecases-slices and its settings."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = """
    labels: [red, blue]
    model: {factory: "tinymodel:build", args: {bias: 1.0}}
    categories:
      - name: street
        manifest: m.csv
        min_accuracy: 0.5
"""


@pytest.fixture
def camera_project(tiny_project, pytester, solid_image):
    """60 red images: camera a's 40 look red (right), camera b's 20 look blue (wrong); errors sit on camera b."""
    rows = ["path,label,camera,site"]
    for i in range(60):
        camera = "b" if i % 3 == 0 else "a"
        rgb = (0, 0, 250) if camera == "b" else (250, 0, 0)
        solid_image(pytester.path / "data" / f"{i:02d}.png", rgb)
        rows.append(f"data/{i:02d}.png,red,{camera},{'north' if i % 2 else 'south'}")
    (pytester.path / "m.csv").write_text("\n".join(rows) + "\n")
    tiny_project(SUITE, clean=0, dark=0)
    return pytester


def test_a_slice_is_reported_in_the_terminal_and_the_results_file(camera_project):
    result = camera_project.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out.json")
    result.assert_outcomes(passed=1)   # advisory: a slice never fails a category
    result.stdout.fnmatch_lines([
        "edgecases: where errors concentrate (advisory; false-discovery rate 0.05):",
        "  street: camera = b: 100% wrong vs 0% elsewhere, 20 images, q = *",
    ])
    slices = json.loads((camera_project.path / "out.json").read_text())["slices"]
    assert len(slices) == 1   # site is independent of the errors; confidence singles out the same 20 images
    found = slices[0]
    assert {k: found[k] for k in ("suite", "category", "where", "n", "errors", "error_rate", "rest_error_rate")} == {
        "suite": "edgecases", "category": "street", "where": {"camera": "b"}, "n": 20, "errors": 20,
        "error_rate": 1.0, "rest_error_rate": 0.0}
    assert 0 < found["p"] <= found["q"] < 1e-9


def test_slices_off_reports_none(camera_project):
    result = camera_project.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-slices=off",
                                      "--edgecases-results=out.json")
    assert "where errors concentrate" not in result.stdout.str()
    assert json.loads((camera_project.path / "out.json").read_text())["slices"] == []


def test_a_larger_minimum_support_hides_the_slice(camera_project):
    result = camera_project.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-slices-min-examples=21")
    assert "where errors concentrate" not in result.stdout.str()


@pytest.mark.parametrize("option, message", [
    ("--edgecases-slices=maybe", "--edgecases-slices must be on or off, got 'maybe'"),
    ("--edgecases-slices-fdr=0", "--edgecases-slices-fdr must be a number above 0 and below 1, got '0'"),
    ("--edgecases-slices-fdr=x", "--edgecases-slices-fdr must be a number above 0 and below 1, got 'x'"),
    ("--edgecases-slices-min-fraction=1", "--edgecases-slices-min-fraction must be a number at least 0 and below 1"),
    ("--edgecases-slices-min-examples=0", "--edgecases-slices-min-examples must be*"),
    ("--edgecases-slices-properties=yes", "--edgecases-slices-properties must be on or off, got 'yes'"),
])
def test_bad_slice_options_are_usage_errors(camera_project, option, message):
    result = camera_project.runpytest("--edgecases", "-p", "no:cacheprovider", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_the_showcase_finds_dashcam_b_in_low_light(tmp_path):
    """The example suite's low-light errors sit on one camera; slice discovery names it without being told."""
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "out.json"
    subprocess.run([sys.executable, "-m", "pytest", "--edgecases", "example_suite/edgecases.yaml", "-k", "low_light",
                    "-p", "no:cacheprovider", "--edgecases-no-cache", "--edgecases-report=none",
                    f"--edgecases-results={out}", "-q"], cwd=repo, capture_output=True, check=False, timeout=600)
    found = [(s["category"], s["where"]) for s in json.loads(out.read_text())["slices"]]
    assert ("low_light", {"camera": "dashcam_b"}) in found
    assert not any("time_of_day" in where for _, where in found)   # dusk and night fail alike


def test_the_report_lists_slices_escaped_with_a_where_to_paste(tiny_project, pytester, solid_image):
    """The report's section: the slice, its examples, and a `where:` category; a hostile value stays text."""
    rows = ["path,label,camera"]
    for i in range(60):
        camera = "<b>x</b>" if i % 3 == 0 else "a"
        solid_image(pytester.path / "data" / f"{i:02d}.png", (0, 0, 250) if i % 3 == 0 else (250, 0, 0))
        rows.append(f"data/{i:02d}.png,red,{camera}")
    (pytester.path / "m.csv").write_text("\n".join(rows) + "\n")
    tiny_project(SUITE, clean=0, dark=0)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    html = (pytester.path / "edgecases-report.html").read_text()
    section = html[html.index('<section id="slices">'):]
    section = section[:section.index("</section>")]
    assert "camera = &lt;b&gt;x&lt;/b&gt;" in section and "<b>x</b>" not in html
    assert "data/00.png, data/03.png" in section
    assert "where: {camera: &#34;&lt;b&gt;x&lt;/b&gt;&#34;}" in section   # quoted: not a plain YAML word
    assert 'href="#slices"' in html


def test_no_slices_no_section(camera_project):
    camera_project.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-slices=off")
    assert 'id="slices"' not in (camera_project.path / "edgecases-report.html").read_text()
