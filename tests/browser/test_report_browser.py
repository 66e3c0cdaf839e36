"""The report in a real browser: it renders, its filters work, nothing hostile runs, nothing is fetched.

Needs Playwright's Python package and a Chromium executable (the Debian package's
/usr/bin/chromium, or $CHROMIUM, or one Playwright installed); skipped, saying which is
missing, when either is absent.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from support.hostile import HOSTILE, PAYLOADS, build_hostile_project, hostile_context, hostile_results
from support.project import conv_project

from pytest_edgecases.report import ReportContext, render_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def chromium_executable() -> str | None:
    """$CHROMIUM, the Debian package, or None to let Playwright use one it installed."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    executable = chromium_executable()
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=ARGS)
        except Exception as exc:  # noqa: BLE001 - no browser here is a reason to skip, not a failure
            pytest.skip(f"no Chromium to run: set $CHROMIUM or apt-get install chromium ({exc})".splitlines()[0])
        yield b
        b.close()


class Watched:
    """A page plus everything it tried behind our back: requests, console errors, page errors."""

    def __init__(self, page: Any, url: str):
        self.page, self.url = page, url
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type in
                ("error", "warning") else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def assert_clean(self, title: str) -> None:
        """No hostile payload ran, nothing was logged, nothing but the file itself was requested."""
        page = self.page
        assert page.evaluate("window.__pwned") is None
        assert page.title() == title   # a payload would have set it to "pwned"
        assert self.errors == []
        assert [u for u in self.requests if u != self.url and not u.startswith("data:")] == []


def open_report(browser: Any, path: Path, **context: Any) -> Watched:
    """Open a report file in a fresh context, wait for load, hover every element that could carry a handler."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    watched = Watched(page, path.as_uri())
    page.goto(path.as_uri(), wait_until="load")
    return watched


def shows_text(locator: Any, text: str) -> None:
    """Scrolled to, the element's rendered text (innerText, not textContent) comes to contain ``text``.

    Gallery cards are ``content-visibility: auto``: Chromium skips a card far below the viewport,
    and one the filter has just shown, until a frame finds it near the screen; until then its
    innerText is "" (CI's Chromium, with other fonts, laid the gallery out lower and saw that).
    So scroll to it as a reader would, then let Playwright retry while the frame comes.
    """
    locator.scroll_into_view_if_needed()
    sync_api.expect(locator).to_contain_text(text, use_inner_text=True, timeout=5_000)


def visible_cards(page: Any) -> int:
    """Gallery cards currently shown."""
    return page.locator("#gallery-cards .card:visible").count()


def test_report_from_a_hostile_run_renders_filters_and_runs_nothing(
        browser: Any, tiny_project: Callable[..., Path], pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A pytester run with hostile labels, file names, reviewers and comments; then a real browser."""
    build_hostile_project(tiny_project, pytester)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider").assert_outcomes(passed=1, failed=1)
    report = pytester.path / "edgecases-report.html"
    w = open_report(browser, report)
    page = w.page

    assert page.title() == "Edge-case report"
    assert page.locator(".headline").inner_text() == "1 of 2 categories failed"
    rows = page.locator("table.summary tbody tr")
    assert rows.count() == 2
    assert rows.nth(1).locator("td").nth(1).inner_text().startswith("dark")
    # Hostile text shows as text: the description is on screen, literally.
    assert '<script>window.__pwned=1</script>' in page.locator("#c0 p.wrap").first.inner_text()

    assert visible_cards(page) == 6
    assert page.locator("#gallery-cards img").count() == 6
    # Thumbnails are loading="lazy": scrolled to, every one decodes (none is a broken data: URI).
    for img in page.locator("#gallery-cards img").all():
        img.scroll_into_view_if_needed()
        sync_api.expect(img).to_have_js_property("complete", True, timeout=5_000)
        assert img.evaluate("i => i.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")
    form = page.locator("#filters")
    assert form.is_visible()
    form.locator("select[name=status]").select_option("regression")
    assert visible_cards(page) == 1 and page.locator("#shown-count").inner_text() == "1"
    form.locator("select[name=status]").select_option("waived")
    assert visible_cards(page) == 1
    shows_text(page.locator("#gallery-cards .card:visible"), "waiver until 2999-12-31")
    form.locator("select[name=status]").select_option("")
    # Only categories with something in the gallery are offered.
    assert form.locator("select[name=category] option").all_inner_texts() == ["all", "dark"]
    form.locator("select[name=category]").select_option(label="dark")
    form.locator("select[name=severity]").select_option("high")
    assert visible_cards(page) == 6
    form.locator("button[type=reset]").click()
    page.wait_for_function("() => document.getElementById('shown-count').textContent === '6'")
    # A category's "in the gallery" link filters to it.
    page.locator("#c1 a[data-show-category]").click()
    assert form.locator("select[name=category]").input_value() == "1" and visible_cards(page) == 6

    # Hover and click what hostile strings would have turned into handlers.
    for selector in ("#c0 p.wrap", ".card blockquote", ".card .file", "table.summary td"):
        page.locator(selector).first.hover()
    page.locator(".card blockquote").first.click()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    w.assert_clean("Edge-case report")
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_review_queue_copy_button_and_no_javascript(browser: Any, tmp_path: Path) -> None:
    """The copy button copies the stub; without JavaScript every section still reads, filters hidden."""
    path = tmp_path / "report.html"
    path.write_text(render_report(hostile_results(), hostile_context()), encoding="utf-8")
    w = open_report(browser, path, permissions=["clipboard-read", "clipboard-write"])
    page = w.page
    button = page.locator("#review button.copy").first
    button.click()
    page.wait_for_function("() => document.querySelector('#review button.copy').textContent !== 'Copy'")
    assert button.inner_text() == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#stub-1").text_content()
    assert "</textarea><script>" in page.locator("#stub-1").text_content()
    form = page.locator("#filters")
    form.locator("select[name=severity]").select_option("high")
    form.locator("select[name=status]").select_option("regression")
    assert visible_cards(page) == 0 and page.locator("#no-match").is_visible()
    w.assert_clean(PAYLOADS[0])

    plain = open_report(browser, path, java_script_enabled=False).page
    assert plain.locator("#filters").is_hidden() and plain.locator("#review button.copy").is_hidden()
    cards = plain.locator("#gallery-cards .card")
    assert cards.count() == 3 and cards.first.is_visible()
    for section in ("#summary", "#categories", "#calibration", "#baseline", "#agreement", "#review"):
        assert plain.locator(section).is_visible(), section


def test_print_layout_hides_controls(browser: Any, tmp_path: Path) -> None:
    """Printed, the controls go and the content stays."""
    path = tmp_path / "report.html"
    path.write_text(render_report(hostile_results(), ReportContext()), encoding="utf-8")
    page = open_report(browser, path).page
    page.emulate_media(media="print")
    assert page.locator("#filters").is_hidden() and page.locator("nav.toc").is_hidden()
    assert page.locator("#gallery-cards .card").first.is_visible()
    assert len(page.pdf()) > 10_000


#: A model whose exception message is hostile: error text is the one field of the gallery a model, not a YAML
#: file or a file name, controls, so the hostile project above has none.
RAISING_MODEL = '''
import torch

MESSAGE = {message!r}


class Raising(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError(MESSAGE)


def build(bias=0.0):
    return Raising()
'''


def test_hostile_error_messages_are_text(browser: Any, tiny_project: Callable[..., Path],
                                         pytester: pytest.Pytester) -> None:
    """A model's exception text reaches every error card of the gallery: shown as text, nothing runs."""
    tiny_project(factory="raising:build", clean=1, dark=1)
    (pytester.path / "raising.py").write_text(RAISING_MODEL.format(message=HOSTILE))
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider").assert_outcomes(failed=2)
    w = open_report(browser, pytester.path / "edgecases-report.html")
    cards = w.page.locator("#gallery-cards .card")
    assert cards.count() == 4
    shows_text(cards.first.locator(".pred.over"), f"the model raised RuntimeError: {HOSTILE}")
    for i in range(cards.count()):
        cards.nth(i).hover()
    w.assert_clean("Edge-case report")


def test_saliency_overlays_toggle_on_cards_and_in_review_mode(browser: Any, pytester: pytest.Pytester) -> None:
    """--edgecases-explain: each failure card switches between image, heat map and blend, for the predicted or
    the expected label; review mode has the same switch; the strict CSP still holds (nothing logged)."""
    conv_project(pytester.path)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain").assert_outcomes(passed=1,
                                                                                                      failed=1)
    w = open_report(browser, pytester.path / "edgecases-report.html")
    page = w.page
    assert page.locator("#saliency-legend").is_visible()
    assert page.locator("#saliency-legend img.scale").evaluate("i => i.naturalWidth") == 64
    card = page.locator("#gallery-cards .card").first
    card.scroll_into_view_if_needed()
    box, modes = card.locator(".thumb.sal"), card.locator(".sal-modes")
    predicted, expected = box.locator("img.heat.predicted"), box.locator("img.heat.expected")
    assert modes.is_visible() and not predicted.is_visible() and not expected.is_visible()
    for heat in (predicted, expected):   # both maps decode: 8x8 PNGs
        assert heat.evaluate("i => i.complete && i.naturalWidth") == 8

    modes.get_by_role("button", name="heat map").click()
    assert predicted.is_visible() and not expected.is_visible()
    assert predicted.evaluate("i => getComputedStyle(i).opacity") == "1"
    assert modes.get_by_role("button", name="heat map").get_attribute("aria-pressed") == "true"
    assert modes.get_by_role("button", name="image").get_attribute("aria-pressed") == "false"
    modes.get_by_role("button", name="expected").click()
    assert expected.is_visible() and not predicted.is_visible()
    modes.get_by_role("button", name="blend").click()
    assert expected.is_visible() and expected.evaluate("i => getComputedStyle(i).opacity") == "0.6"
    # The heat map lies exactly over the image.
    assert expected.bounding_box() == box.locator("img").first.bounding_box()
    modes.get_by_role("button", name="image").click()
    assert not expected.is_visible() and not predicted.is_visible()
    # The other cards are untouched.
    assert page.locator("#gallery-cards .card").nth(1).locator(".thumb.sal").get_attribute("data-mode") == "image"

    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#review-open").click()
    switch = page.locator("#rv-sal")
    assert switch.is_visible() and "saliency (gradcam)" in switch.inner_text()
    assert not page.locator("#rv-heat").is_visible()
    switch.get_by_role("button", name="blend").click()
    assert page.locator("#rv-heat").is_visible() and not page.locator("#rv-heat-expected").is_visible()
    switch.get_by_role("button", name="expected").click()
    assert page.locator("#rv-heat-expected").is_visible() and not page.locator("#rv-heat").is_visible()
    w.assert_clean("Edge-case report")
