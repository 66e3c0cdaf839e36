"""The HTML report (report/): rendered from hand-built records. Whole runs that write it:
tests/integration/test_outputs.py; the page in a browser: tests/browser/."""
from __future__ import annotations

import base64
import hashlib
import html as htmlmod
import io
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from PIL import Image
from support.hostile import HOSTILE, PAYLOADS, QUEUED, assert_no_payload, cat, ex, hostile_context, hostile_results

from pytest_edgecases.records import CategoryResult, ExampleResult, GroupFigures
from pytest_edgecases.report import (
    ReportContext,
    html_extras,
    kappa_words,
    p_value_words,
    render_report,
    svg,
    write_report,
)
from pytest_edgecases.report.thumbs import data_uri, example_file, file_thumbnailer
from pytest_edgecases.review_queue import stub_yaml
from pytest_edgecases.stats import expected_calibration_error, reliability_bins

# -- thumbnails -----------------------------------------------------------------------------------


def test_data_uri_shrinks_and_strips_metadata() -> None:
    """EXIF (GPS, camera serials) and ICC profiles never reach the page; the long side fits max_side."""
    im = Image.new("RGB", (300, 150), (200, 40, 40))
    for x in range(0, 300, 7):   # texture, so JPEG and PNG are both plausible winners
        im.putpixel((x, x % 150), (x % 255, 90, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"      # Make
    exif[0x9286] = "gps: 51.5,-0.1"  # UserComment
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128)
    source = Image.open(io.BytesIO(buf.getvalue()))
    assert source.info.get("exif")
    uri = data_uri(source, max_side=64)
    mime, payload = re.match(r"data:(image/(?:jpeg|png));base64,(.+)$", uri).groups()
    raw = base64.b64decode(payload)
    thumb = Image.open(io.BytesIO(raw))
    assert max(thumb.size) == 64 and thumb.size == (64, 32)
    assert not thumb.info.get("exif") and not thumb.info.get("icc_profile")
    assert b"SecretCam" not in raw and b"gps" not in raw
    assert mime == Image.MIME[thumb.format]


def test_data_uri_keeps_small_images_and_converts_modes() -> None:
    """No upscaling; RGBA / palette images become RGB."""
    uri = data_uri(Image.new("RGBA", (16, 10), (0, 0, 255, 128)))
    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert thumb.size == (16, 10) and thumb.mode == "RGB"


@pytest.mark.parametrize("bad", [0, 7, 9.5, True, "96"])
def test_data_uri_rejects_bad_max_side(bad: Any) -> None:
    """The message says what a valid value is."""
    with pytest.raises(ValueError, match="max_side must be a whole number of pixels >= 8"):
        data_uri(Image.new("RGB", (4, 4)), bad)


def test_example_file_stays_inside_rootdir(tmp_path: Path) -> None:
    """A path edited into a results file to leave the project gets no thumbnail."""
    r = cat(suite_file="suites/edgecases.yaml")
    assert example_file(tmp_path, r, ex("img/0.png")) == (tmp_path / "suites/img/0.png").resolve()
    assert example_file(tmp_path, r, ex("../../../etc/passwd")) is None
    assert file_thumbnailer(tmp_path)(r, ex("../../../etc/passwd")) is None
    assert file_thumbnailer(tmp_path)(r, ex("img/missing.png")) is None


# -- escaping and self-containment -------------------------------------------------------------------


def test_hostile_strings_are_escaped_everywhere() -> None:
    """Labels, descriptions, comments, reviewers, file names, group values, queue, baseline, agreement."""
    html = render_report(hostile_results(), hostile_context())
    assert_no_payload(html)
    assert str(escape(PAYLOADS[0])) in html
    assert str(escape(stub_yaml(QUEUED))) in html      # the review stub in its <pre>, comment and votes in it
    assert html.count(str(escape(PAYLOADS[1]))) >= 4   # file name, reviewer, queue, baseline, conflict
    assert "javascript:window.__pwned=1" in html        # as text only: attr_urls() found no such URL


def test_page_is_pinned_by_a_content_security_policy() -> None:
    """Only the page's own inline style and script may run; images only from data: URIs; nothing else."""
    html = render_report([cat()], ReportContext())
    csp = htmlmod.unescape(re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1))
    script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
    style = re.search(r"<style>(.*)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "img-src data:" in csp
    assert " style=" not in html and " on" + "click=" not in html   # the CSP would block them anyway
    assert "http://" not in html and "https://" not in html and "url(" not in style
    assert "@import" not in style


def test_thumbnailer_returning_a_url_or_raising_costs_only_the_preview(tmp_path: Path) -> None:
    """Only data:image URIs are inlined: a URL would be a request leaving the page."""
    failing = cat("a", [ex("x.png"), ex("y.png")])

    def thumbs(r: CategoryResult, e: ExampleResult) -> str:
        if e.path == "x.png":
            return "https://example.invalid/x.png"
        raise RuntimeError("boom")

    html = render_report([failing], ReportContext(thumbnail=thumbs))
    assert "example.invalid" not in html
    assert html.count("no preview") == 2


# -- content --------------------------------------------------------------------------------------


def test_summary_row_per_category_with_verdict_interval_and_limits() -> None:
    """At a glance: verdict, accuracy with interval drawn against the threshold, failures vs limits."""
    good = cat("clean", [ex(predicted="red"), ex("b.png", predicted="red")], index=0)
    bad = cat("dark", [ex(severity="high"), ex("b.png", predicted="red")], index=1)
    html = render_report([good, bad], ReportContext(title="Signs", generated="2026-11-23T10:00:00"))
    assert "1 of 2 categories failed" in html
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    assert summary.count("<tr>") == 3
    assert '<span class="pill passed">passed</span>' in summary and '<span class="pill failed">failed</span>' in summary
    assert 'class="over">1</span> <span class="limit">/ ≤0</span>' in summary   # high 1 against max 0
    assert "accuracy 50.0%, 95% interval 40.0%–60.0%, threshold 90.0%" in summary   # the bar's title
    assert "abc123" in html and "cpu" in html and "2026-11-23T10:00:00" in html


def test_gallery_worst_first_capped_with_count() -> None:
    """Confident high-severity mistakes lead; over the cap, the count of what was left out."""
    examples = [ex(f"img/{i:03d}.png", confidence=0.5 + i / 400, severity="low") for i in range(120)]
    examples.append(ex("img/high.png", confidence=0.6, severity="high"))
    html = render_report([cat("many", examples)], ReportContext(failure_cap=50))
    cards = re.findall(r'<div class="file" title="([^"]+)"', html)
    assert len(cards) == 50
    assert cards[0] == "img/high.png" and cards[1] == "img/119.png"
    assert "Not shown, over the cap of 50 per category: 71 in" in html
    assert "showing <strong id=\"shown-count\">50</strong> of 50" in html
    assert not re.findall(r'<div class="file"', render_report([cat("many", examples)], ReportContext(failure_cap=0)))


def test_gallery_shows_review_statuses_and_reviewer_comment() -> None:
    """Regression, known, waived, fixed, ambiguous and stale examples, each with its review."""
    examples = [
        ex("reg.png", status="regression", reviewers=["alice"], verdict="correct"),
        ex("known.png", status="known_failure", reviewers=["alice"], verdict="incorrect", comment="snowy"),
        ex("waived.png", status="waived", waiver={"reason": "retrain", "until": "2999-01-01", "active": "True"}),
        ex("fixed.png", predicted="red", status="fixed", reviewers=["bob"], verdict="incorrect"),
        ex("amb.png", status="ambiguous", reviewers=["bob"], verdict="ambiguous"),
        ex("stale.png", predicted="red", stale=True),
        ex("fine.png", predicted="red"),
    ]
    html = render_report([cat("c", examples)], ReportContext())
    cards = re.findall(r'data-status="([^"]+)" data-flags="([^"]*)"', html)
    assert sorted(cards) == sorted([("regression", ""), ("known_failure", ""), ("waived", ""), ("fixed", ""),
                                    ("ambiguous", ""), ("correct", "stale")])
    assert "reviewed by alice: incorrect" in html and "snowy" in html and "waiver until 2999-01-01" in html
    for word in ("regression", "known", "waived", "fixed", "ambiguous", "stale review"):
        assert f">{word}</option>" in html


def test_confusion_matrix_counts_labelled() -> None:
    """Rows expected, columns predicted, with the counts."""
    examples = [ex("a", predicted="red"), ex("b", predicted="red"), ex("c"), ex("d", label="blue")]
    html = render_report([cat("c", examples)], ReportContext())
    matrix = html.split('<table class="confusion">')[1].split("</table>")[0]
    rows = re.findall(r'<tr><th class="row lab" title="\w+">(\w+)</th>(.*?)</tr>', matrix)
    assert [(label, re.findall(r">(\d+)</td>", cells)) for label, cells in rows] == \
        [("red", ["2", "1"]), ("blue", ["0", "1"])]


def test_many_labels_become_a_list_of_confusions() -> None:
    """A 1000-class model does not get a 1000×1000 table."""
    labels = [f"class{i}" for i in range(40)]
    examples = [ex(f"{i}.png", label=labels[i], predicted=labels[(i + 1) % 40]) for i in range(40)]
    html = render_report([cat("c", examples, labels=labels)], ReportContext())
    assert '<table class="confusion">' not in html and "The commonest confusions; 25 more pairs" in html


def test_group_accuracy_and_reliability_diagram_with_ece() -> None:
    """Per-group accuracy when group_by is set; ECE as computed by stats for suite and category."""
    examples = [ex(f"{i}.png", predicted="red" if i % 3 else "blue", confidence=0.55 + i / 50) for i in range(20)]
    groups = {"nikon": GroupFigures(n=10, correct=6, accuracy=0.6, ci_low=0.3, ci_high=0.85)}
    html = render_report([cat("c", examples, group_by="camera", groups=groups)], ReportContext())
    assert "Accuracy by camera" in html and ">nikon</td>" in html
    bins = reliability_bins([e.confidence for e in examples], [bool(e.correct) for e in examples])
    ece = expected_calibration_error(bins)
    assert html.count(f"ECE {ece:.1%} · n=20") == 2   # suite and category


def test_synthetic_curve_per_base_with_source_reference() -> None:
    """Levels in declared order; the real category holding the same images is the reference line."""
    source = cat("clean", [ex("a.png", predicted="red"), ex("b.png", predicted="red")], index=0)
    levels = [cat(f"blur[sigma={s}]", [ex("a.png", predicted="red" if s < 3 else "blue"),
                                       ex("b.png", predicted="red" if s < 2 else "blue")],
                  level=f"sigma={s}", base="blur", index=i + 1) for i, s in enumerate((1, 2, 3))]
    html = render_report([source, *levels], ReportContext())
    chart = html.split('id="synthetic"')[1]
    assert "accuracy by level: sigma=1 100.0%, sigma=2 50.0%, sigma=3 0.0%" in chart
    assert "source: clean 100.0%" in chart and 'class="ref"' in chart
    alone = render_report(levels, ReportContext())
    assert 'class="ref"' not in alone.split('id="synthetic"')[1]


def test_review_queue_baseline_and_agreement_sections() -> None:
    """Stubs in <pre> with a copy button; delta and p-value in words; kappa in words; conflicts."""
    html = render_report(hostile_results(), hostile_context())
    assert re.search(r'<pre class="stub" id="stub-1">  # .*  - image: .*</pre><button type="button" class="copy" '
                     r'data-copy="stub-1" hidden>Copy</button>', html, re.S)
    assert "-25.0 points" in html and "p = 0.004: very likely a real change (significant)" in html
    assert "Newly wrong" in html and "Newly right" in html
    assert "0.50 — moderate agreement" in html and "0.10: slight" in html
    assert html.count("Conflicts") == 1


def test_review_entries_from_a_caller_need_not_be_complete() -> None:
    """ReportContext is public: an entry lacking what a stub names is listed without one (no
    KeyError), and a stub the caller wrote is shown as given."""
    html = render_report([], ReportContext(review_queue=[{"image": "a.png", "category": "c"},
                                                         {"image": "b.png", "yaml": "  - image: given.png"}]))
    assert "a.png" in html and "b.png" in html
    assert html.count('<pre class="stub"') == 1 and "  - image: given.png</pre>" in html


@pytest.mark.parametrize(("p", "words"), [(0.0001, "p < 0.001: almost certainly"), (0.03, "probably a real"),
                                         (0.07, "weak evidence"), (0.6, "consistent with noise"),
                                         (None, "no paired examples")])
def test_p_value_words(p: float | None, words: str) -> None:
    """Plain words for readers who do not read p-values."""
    assert words in p_value_words(p)


def test_kappa_words() -> None:
    """Landis & Koch."""
    assert [kappa_words(k) for k in (-0.1, 0.1, 0.3, 0.5, 0.7, 0.9, None)] == [
        "poor", "slight", "fair", "moderate", "substantial", "almost perfect", "not enough doubly reviewed examples"]


def test_empty_run_renders() -> None:
    """No categories: a page that says so."""
    html = render_report([], ReportContext())
    assert "No edge-case categories ran." in html


def test_failure_cap_is_validated() -> None:
    """At the boundary, with a message that says what is valid."""
    with pytest.raises(ValueError, match="failure_cap must be a whole number >= 0"):
        ReportContext(failure_cap=-1)


def test_interval_bar_escapes_nothing_it_should_not_and_clamps() -> None:
    """Values outside [0, 1] stay on the track."""
    bar = svg.interval_bar(1.2, -0.1, 1.5, 0.9, passed=True)
    xs = [float(v) for v in re.findall(r'(?:cx|x)="([\d.]+)"', bar)]
    assert all(0 <= x <= 150 for x in xs)
    with pytest.raises(ValueError, match="equal lengths"):
        svg.level_curve(["a"], [])


# -- writing ----------------------------------------------------------------------------------------


def test_write_report_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing render leaves the previous report untouched and no temp file behind."""
    target = tmp_path / "out" / "report.html"
    write_report(target, [cat()], ReportContext())
    first = target.read_text()
    assert first.startswith("<!DOCTYPE html>") and oct(target.stat().st_mode & 0o777) == "0o644"

    import pytest_edgecases.report as report

    def broken(*args: Any) -> str:
        raise RuntimeError("render failed")

    monkeypatch.setattr(report, "render_report", broken)
    with pytest.raises(RuntimeError):
        report.write_report(target, [cat()], ReportContext())
    assert target.read_text() == first
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_html_extras_are_pytest_html_dicts(tmp_path: Path) -> None:
    """One html extra: the summary table and at most max_thumbs escaped thumbnails."""
    d = tmp_path / "data"
    d.mkdir()
    r = hostile_results()[0]
    r.examples = [e for e in r.examples if e.status != "error"]   # unreadable ones lead, without a thumbnail
    for e in r.examples:
        e.severity = "low"   # after the six below, which have images
    for i in range(6):
        Image.new("RGB", (20, 20), (200, 10, 10)).save(d / f"{i}.png")
        r.examples.append(ex(f"data/{i}.png", comment=HOSTILE, severity="high"))
    extras = html_extras(r, ReportContext(rootdir=tmp_path), max_thumbs=3)
    assert len(extras) == 1 and extras[0]["format_type"] == "html"
    assert set(extras[0]) == {"name", "format_type", "content", "mime_type", "extension"}
    content = extras[0]["content"]
    assert content.count("data:image/") == 3 and "… and 5 more failures" in content
    for payload in PAYLOADS:
        if "<" in payload:
            assert payload not in content


def test_report_package_never_imports_pytest_html() -> None:
    """pytest-html is optional: nothing of ours imports it (the extras are plain dicts)."""
    import pytest_edgecases

    root = Path(pytest_edgecases.__file__).parent
    for path in [*root.glob("*.py"), *root.glob("report/*.py")]:
        assert not re.search(r"^\s*(from|import) pytest_html", path.read_text(), re.M), path
