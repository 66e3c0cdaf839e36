"""Review mode in a real browser: judge the queue by keyboard, reload, download, apply the file.

The whole loop a reviewer goes through (docs/reviewing.md, "Reviewing in the report"), at desktop
and phone width: a pytester project's report is opened in headless Chromium, ten examples are
judged with keys only, the page is reloaded half-way, the annotation file is downloaded into the
suite's annotations folder, and pytest runs again and applies every verdict. Then an axe-core
scan of the report. Skipped, saying why, when Playwright or Chromium is missing (as
test_report_browser.py is); axe-core comes with the test extra (axe-playwright-python bundles it).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema
import pytest
from support.project import TINY_MODEL, write_images

from pytest_edgecases.annotations import load_annotations
from pytest_edgecases.records import CategoryResult, ExampleResult
from pytest_edgecases.report import ReportContext, write_report
from pytest_edgecases.review_queue import queue_entries
from pytest_edgecases.suite import load_suite
from pytest_edgecases.vocabulary import Severity, Status
from pytest_edgecases.yamlload import load_yaml

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from test_report_browser import ARGS, Watched, chromium_executable  # noqa: E402  (needs playwright)

SCHEMA = json.loads((Path(__file__).parents[2] / "pytest_edgecases/schema/annotation.schema.json").read_text())
SUITE = """
suite: colours
labels: [red, blue]
model: {factory: "tinymodel:build", args: {bias: BIAS}}
preprocess: {resize: [8, 8]}
annotations: reviews/
review: {confidence_below: 0.99}
defaults: {min_accuracy: 0.5}
categories:
  - name: clean
    description: Bright colours
    images: data/clean/
  - name: dark
    description: Dim light <b>at night</b>
    images: data/dark/
    severity: high
"""
HOSTILE = "<script>window.__pwned=1</script> \"quoted\" & 'single' <img src=x onerror=alert(1)>"
NOTE = 'looks "fine" & <b>bold</b>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; the tests skip, saying why, without one."""
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium_executable(), args=ARGS)
        except Exception as exc:  # noqa: BLE001 - no browser here is a reason to skip, not a failure
            pytest.skip(f"no Chromium to run: set $CHROMIUM or apt-get install chromium ({exc})".splitlines()[0])
        yield b
        b.close()


def project(root: Path, bias: float) -> Path:
    """The colours project: dark red images fail (high severity) at bias 1; at bias -2 dark blue ones do."""
    if not (root / "tinymodel.py").exists():
        (root / "tinymodel.py").write_text(TINY_MODEL)
        write_images(root, "data/clean", {"red": 6, "blue": 6})
        write_images(root, "data/dark", {"red": 6, "blue": 6}, brightness=0.15)
        (root / "reviews").mkdir()
    suite = root / "edgecases.yaml"
    suite.write_text(textwrap.dedent(SUITE).lstrip().replace("BIAS", str(bias)))
    return suite


def results_of(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(category, path) -> the example's record in results.json."""
    doc = json.loads((root / "results.json").read_text())
    return {(c["category"], e["path"]): dict(e, category_passed=c["passed"], checks=c["checks"],
                                             n_scored=c["n_scored"])
            for c in doc["categories"] for e in c["examples"]}


def key(page: Any, name: str) -> None:
    page.keyboard.press(name)


def tab_to(page: Any, element_id: str, limit: int = 120) -> None:
    """Tab (as a keyboard user would) until the element has focus; fail if it is never reached."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        key(page, "Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def assert_focus_visible(page: Any) -> None:
    """The focused control draws an outline (the page's :focus-visible rule), so a keyboard user sees it."""
    style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                          " return [s.outlineStyle, s.outlineWidth]; })()")
    assert style[0] != "none" and style[1] != "0px", style


def counter(page: Any) -> str:
    return page.locator("#rv-counter").inner_text()


def judge_current(page: Any, keys: list[str], comment: str | None = None) -> None:
    for k in keys:
        key(page, k)
    if comment is not None:
        key(page, "n")
        page.keyboard.type(comment)
        key(page, "Escape")


@pytest.mark.parametrize("width", [1280, 390])
def test_review_ten_examples_by_keyboard_download_and_apply(
        browser: Any, pytester: pytest.Pytester, tmp_path: Path, width: int) -> None:
    root = pytester.path
    suite = project(root, bias=1.0)
    args = ("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=results.json")
    pytester.runpytest(*args).assert_outcomes(passed=2)
    report = root / "edgecases-report.html"
    before = results_of(root)

    ctx = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    w = Watched(page, report.as_uri())
    page.goto(report.as_uri(), wait_until="load")
    data = json.loads(page.evaluate("document.getElementById('review-data').content.textContent"))
    items = data["items"]
    assert len(items) == 18
    assert [i["reason"] for i in items[:6]] == ["unreviewed failure, high severity"] * 6
    assert all(i["img"].startswith("data:image/") and i["sha256"] for i in items)

    tab_to(page, "review-open")
    assert_focus_visible(page)
    key(page, "Enter")
    # The name is asked once; hostile text in it stays text (and out of the file name).
    assert page.evaluate("document.activeElement.id") == "rv-name"
    page.keyboard.type("dana")
    key(page, "Enter")
    assert counter(page) == "0 of 18 reviewed"
    assert page.locator("#rv-where").inner_text().startswith("Put the downloaded file in reviews/")
    assert page.locator("#rv-description").inner_text() == "Dim light <b>at night</b>"
    key(page, "?")
    assert page.locator("#rv-help").is_visible()
    key(page, "?")

    shown = []
    plan: list[tuple[list[str], str | None]] = [
        (["i", "3"], HOSTILE),            # 0 dark red: known failure, high
        (["i", "2"], None),               # 1: medium
        (["a"], None),                    # 2: ambiguous, leaves the score
    ]
    for n, (keys, comment) in enumerate(plan):
        shown.append(page.locator("#rv-path").inner_text())
        judge_current(page, keys, comment)
        key(page, "j" if n % 2 else "ArrowRight")
    # 3: accept the model's answer (l, then the picker by keyboard), and call it correct.
    shown.append(page.locator("#rv-path").inner_text())
    key(page, "l")
    assert page.evaluate("document.activeElement.id") == "rv-accept"
    key(page, "ArrowDown")
    key(page, "Escape")
    key(page, "c")
    key(page, "j")
    # 4: a waiver (w: 30 days ahead), with a reason typed in its field.
    shown.append(page.locator("#rv-path").inner_text())
    key(page, "w")
    assert page.evaluate("document.activeElement.id") == "rv-until"
    tab_to(page, "rv-waiver-reason", limit=5)   # Tab steps through the date's day, month and year first
    page.keyboard.type("fix due in v2 <i>")
    key(page, "Escape")
    key(page, "i")
    assert counter(page) == "5 of 18 reviewed"

    page.reload(wait_until="load")   # a closed tab, or a reload, loses nothing
    assert page.locator("#review-mode").is_visible()
    assert counter(page) == "5 of 18 reviewed"
    assert page.locator("#rv-path").inner_text() == shown[4]
    assert page.locator("#rv-until").input_value() != ""
    key(page, "k")
    assert page.locator('button[data-verdict="correct"]').get_attribute("aria-pressed") == "true"
    assert page.locator("#rv-accept").input_value() == "blue"
    for _ in range(3):
        key(page, "ArrowLeft")
    assert page.locator("#rv-comment").input_value() == HOSTILE
    for _ in range(5):
        key(page, "ArrowDown")
    # 5: low severity; 6-9: dark blue, correct at 95%: reviewed correct (one with a note).
    shown.append(page.locator("#rv-path").inner_text())
    judge_current(page, ["i", "1"])
    for n in range(4):
        key(page, "j")
        shown.append(page.locator("#rv-path").inner_text())
        judge_current(page, ["c"], NOTE if n == 0 else None)
    assert counter(page) == "10 of 18 reviewed"
    # The category filter narrows the list and the counter.
    tab_to(page, "rv-filter")
    assert_focus_visible(page)
    page.select_option("#rv-filter", "clean")
    assert counter(page).startswith("0 of 6 reviewed in clean")
    page.select_option("#rv-filter", "")
    assert page.locator("#rv-path").inner_text() == "data/clean/red/000.png"   # the filter's first stays shown
    page.select_option("#rv-filter", "dark")
    key(page, "Escape")
    for _ in range(9):
        key(page, "j")
    assert page.locator("#rv-path").inner_text() == shown[9] and counter(page) == "10 of 12 reviewed in dark (10 of 18 in all)"

    tab_to(page, "rv-download")
    with page.expect_download() as info:
        key(page, "Enter")
    download = info.value
    today = dt.date.today().isoformat()
    assert download.suggested_filename == f"dana-{today}.yaml"
    target = root / "reviews" / download.suggested_filename
    download.save_as(target)
    page.screenshot(path=str(tmp_path / f"review-{width}.png"), full_page=False)
    if os.environ.get("EDGECASES_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["EDGECASES_SCREENSHOTS"], f"review-mode-{width}.png"))
    w.assert_clean("Edge-case report")
    assert page.evaluate("document.querySelectorAll('#review-mode script, #review-mode b, #review-mode i').length") == 0
    ctx.close()

    # The file: valid against the schema, loadable as it is, only what was judged, every entry with sha256.
    doc = load_yaml(target, target.name)
    jsonschema.validate(json.loads(json.dumps(doc)), SCHEMA)
    assert doc["reviewer"] == "dana" and doc["date"] == today
    assert [e["image"] for e in doc["examples"]] == shown
    by_path = {item["image"]: item for item in items}
    assert all(e["sha256"] == by_path[e["image"]]["sha256"] for e in doc["examples"])
    reviews = load_annotations(load_suite(suite, root))
    assert len(reviews) == 10

    # The next run applies it with no edit.
    pytester.runpytest(*args)
    after = results_of(root)
    dark = [("dark", p) for p in shown]
    statuses = [after[k]["status"] for k in dark]
    assert statuses == ["known_failure", "known_failure", "ambiguous", "correct", "waived", "known_failure",
                        "correct", "correct", "correct", "correct"]
    assert [after[k]["severity"] for k in dark[:2]] + [after[dark[5]]["severity"]] == ["high", "medium", "low"]
    assert after[dark[0]]["comment"] == HOSTILE and after[dark[6]]["comment"] == NOTE
    assert after[dark[3]]["accept"] == ["blue"]
    assert after[dark[4]]["waiver"]["reason"] == "fix due in v2 <i>"
    # The ambiguous one leaves the score: one fewer scored example in its category.
    assert after[dark[0]]["n_scored"] == before[dark[0]]["n_scored"] - 1

    # The model changes: the examples reviewed correct are wrong now, and the regression gate fires.
    project(root, bias=-2.0)
    run = pytester.runpytest(*args)
    run.assert_outcomes(passed=1, failed=1)
    again = results_of(root)
    assert [again[k]["status"] for k in dark[6:]] == ["regression"] * 4
    gate = next(c for c in again[dark[6]]["checks"] if c["name"] == "max_regressions")
    assert not gate["passed"] and gate["measured"] == "4"


def axe_source() -> str:
    """axe-core's script, from the test extra's axe-playwright-python (which bundles axe.min.js)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("axe-core is missing: pip install -e '.[test]' (axe-playwright-python bundles it)")
    return (Path(list(spec.submodule_search_locations)[0]) / "axe.min.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_or_critical_violation(browser: Any, pytester: pytest.Pytester, width: int) -> None:
    root = pytester.path
    project(root, bias=1.0)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.goto((root / "edgecases-report.html").as_uri(), wait_until="load")
    # Evaluated through the DevTools protocol, so the page's CSP (which would refuse a script tag) allows it.
    page.evaluate(axe_source())
    run_axe = "async () => (await axe.run(document)).violations.map(v => [v.id, v.impact, v.nodes.length])"
    found = {"report": page.evaluate(run_axe)}
    page.click("#review-open")
    page.fill("#rv-name", "dana")
    page.press("#rv-name", "Enter")
    page.keyboard.press("?")
    found["review mode"] = page.evaluate(run_axe)
    ctx.close()
    bad = {view: [v for v in violations if v[1] in ("serious", "critical")] for view, violations in found.items()}
    assert bad == {"report": [], "review mode": []}, found


def test_the_review_file_round_trips_hostile_names(browser: Any, tmp_path: Path,
                                                   solid_image: Callable[..., Path]) -> None:
    """Labels, paths and categories with quotes, breaks and markup: the downloaded YAML reads back exactly."""
    labels = ['"quoted" <b>', "line\u2028break", "plain"]
    path = 'we"ird </script> \u0085 name.png'
    solid_image(tmp_path / path, (200, 10, 10))
    example = ExampleResult(path=path, category="cat </script>", label=labels[0], predicted=labels[1],
                            confidence=0.7, correct=False, severity=Severity.HIGH, status=Status.FAILURE,
                            counted=True, top=[[labels[1], 0.7], [labels[0], 0.3]], sha256="a" * 64)
    result = CategoryResult(suite="s", suite_file="suite.yaml", category="cat </script>", base="cat", level="",
                            description="<script>window.__pwned=1</script>", passed=False, n_examples=1,
                            n_scored=1, n_correct=0, accuracy=0.0, ci_low=0.0, ci_high=0.8,
                            failures_by_severity={"high": 1}, regressions=0, fixed=0, checks=[],
                            examples=[example], labels=labels)
    report = tmp_path / "report.html"
    write_report(report, [result], ReportContext(rootdir=tmp_path, review_queue=queue_entries([result]),
                                                 annotations={"suite.yaml": ["reviews/"]}))
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    w = Watched(page, report.as_uri())
    page.goto(report.as_uri(), wait_until="load")
    page.click("#review-open")
    page.fill("#rv-name", "O'Brien <x>")
    page.press("#rv-name", "Enter")
    assert page.locator("#rv-description").inner_text() == "<script>window.__pwned=1</script>"
    page.keyboard.press("i")
    page.keyboard.press("l")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    with page.expect_download() as info:
        page.click("#rv-download")
    assert info.value.suggested_filename == f"O-Brien-x-{dt.date.today().isoformat()}.yaml"
    target = tmp_path / "review.yaml"
    info.value.save_as(target)
    w.assert_clean("Edge-case report")
    ctx.close()
    doc = load_yaml(target, "review.yaml")
    jsonschema.validate(json.loads(json.dumps(doc)), SCHEMA)
    assert doc["reviewer"] == "O'Brien <x>"
    assert doc["examples"] == [{"image": path, "category": "cat </script>", "sha256": "a" * 64,
                                "predicted": labels[1], "verdict": "incorrect", "accept": [labels[1]]}]


def test_axe_on_the_example_suites_report(browser: Any, tmp_path: Path) -> None:
    """The realistic report (groups, calibration, slices, baseline-free review queue) at both widths."""
    repo = Path(__file__).resolve().parents[2]
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "pytest", "--edgecases", "example_suite/", "-p", "no:cacheprovider",
                    "--edgecases-no-cache", f"--edgecases-report={report}", "-q"], cwd=repo, capture_output=True,
                   check=False, timeout=600)
    found = {}
    for width in (1280, 390):
        ctx = browser.new_context(viewport={"width": width, "height": 900})
        page = ctx.new_page()
        page.goto(report.as_uri(), wait_until="load")
        assert page.locator("#slices").count() == 1
        page.evaluate(axe_source())
        found[width] = page.evaluate("async () => (await axe.run(document)).violations"
                                     ".map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' '))])")
        ctx.close()
    assert {w: [v for v in found[w] if v[1] in ("serious", "critical")] for w in found} == {1280: [], 390: []}, found
