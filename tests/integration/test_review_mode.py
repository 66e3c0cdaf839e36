"""Review mode's data and the queue's "model disagreement" routing (the browser side: test_review_browser.py).

- with --edgecases-baseline, an unreviewed example whose top-1 answer changed is queued after the
  failures and before the low-confidence ones, in the queue file and in the report alike;
- the review data embedded in the report: escaped, capped, with where annotation files go.
"""
from __future__ import annotations

import base64
import hashlib
import html as html_module
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from support.project import TINY_MODEL, colour_categories, suite_yaml, write_images

from pytest_edgecases.baseline import Baseline, BaselineExample, compare
from pytest_edgecases.records import BaselineComparison, CategoryResult, ExampleResult
from pytest_edgecases.report import ReportContext, render_report
from pytest_edgecases.report.review import IMAGE_CAP, REVIEW_CAP, review_data
from pytest_edgecases.review_queue import CHANGED_ANSWER, queue_entries
from pytest_edgecases.suite import load_suite
from pytest_edgecases.vocabulary import Severity, Status


def colours(root: Path, bias: float) -> None:
    if not (root / "tinymodel.py").exists():
        (root / "tinymodel.py").write_text(TINY_MODEL)
        write_images(root, "data/clean", {"red": 3, "blue": 3})
        write_images(root, "data/dark", {"red": 3, "blue": 3}, brightness=0.15)
    (root / "edgecases.yaml").write_text(suite_yaml(model=f'{{factory: "tinymodel:build", args: {{bias: {bias}}}}}',
                                                    defaults="{min_accuracy: 0.4}",
                                                    extra="review: {confidence_below: 0.99}",
                                                    categories=colour_categories(dark="")))


def test_answers_changed_since_the_baseline_are_queued_after_failures(pytester: pytest.Pytester) -> None:
    root = pytester.path
    colours(root, bias=1.0)   # dark red -> blue (wrong), dark blue -> blue
    args = ("--edgecases", "-p", "no:cacheprovider")
    pytester.runpytest(*args, "--edgecases-save-baseline=baseline.json").assert_outcomes(passed=2)
    colours(root, bias=-2.0)  # dark red -> red (right now: a changed answer), dark blue -> red (wrong)
    pytester.runpytest(*args, "--edgecases-baseline=baseline.json", "--edgecases-review-queue=queue.yaml")
    text = (root / "queue.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    order = [e["image"] for e in doc["examples"]]
    failures = [f"data/dark/blue/{i:03d}.png" for i in range(3)]
    changed = [f"data/dark/red/{i:03d}.png" for i in range(3)]
    assert sorted(order[:3]) == failures           # failures first (their answer changed too)
    assert sorted(order[3:6]) == changed           # then the new answers nobody judged
    assert all(p.startswith("data/clean/") for p in order[6:]) and order[6:]   # then the unsure ones
    assert text.count(f"  # {CHANGED_ANSWER}\n") == 3
    # The report's review mode gets the same queue, in the same order.
    html = (root / "edgecases-report.html").read_text(encoding="utf-8")
    data = json.loads(_template_text(html, "review-data"))
    assert [i["image"] for i in data["items"]] == order
    assert [i["reason"] for i in data["items"][3:6]] == [CHANGED_ANSWER] * 3


def _template_text(html: str, element_id: str) -> str:
    start = html.index(f'<template id="{element_id}">') + len(f'<template id="{element_id}">')
    return html_module.unescape(html[start:html.index("</template>", start)])


def example(path: str, predicted: str | None, correct: bool | None, sha: str = "a" * 64, **kw: Any) -> ExampleResult:
    return ExampleResult(path=path, category="cat", label=kw.pop("label", "cat"), predicted=predicted,
                         confidence=0.9, correct=correct, severity=kw.pop("severity", Severity.MEDIUM),
                         status=kw.pop("status", Status.CORRECT if correct else Status.FAILURE),
                         counted=not correct, sha256=sha, **kw)


def result(examples: list[ExampleResult], labels: list[str] | None = None, **kw: Any) -> CategoryResult:
    n = sum(1 for e in examples if e.correct)
    return CategoryResult(suite="s", suite_file="suite.yaml", category="cat", base="cat", level="",
                          description=kw.pop("description", ""), passed=True, n_examples=len(examples),
                          n_scored=len(examples), n_correct=n, accuracy=n / max(1, len(examples)), ci_low=0.0,
                          ci_high=1.0, failures_by_severity={}, regressions=0, fixed=0, checks=[],
                          examples=examples, labels=labels or ["cat", "dog", "fox"], **kw)


def test_compare_lists_every_new_top1_but_not_new_bytes() -> None:
    old = {p: BaselineExample(path=p, sha256=s, label="cat", predicted=pred, correct=pred == "cat", scored=True,
                              confidence=0.9, margin=0.5)
           for p, s, pred in [("same.png", "a" * 64, "cat"), ("wrong-wrong.png", "a" * 64, "dog"),
                              ("right-wrong.png", "a" * 64, "cat"), ("new-bytes.png", "b" * 64, "dog"),
                              ("unread.png", "a" * 64, "cat")]}
    base = Baseline(display="b.json", suites={"s": {"labels": ["cat", "dog", "fox"]}}, examples={("s", "cat"): old})
    now = result([example("same.png", "cat", True), example("wrong-wrong.png", "fox", False),
                  example("right-wrong.png", "dog", False), example("new-bytes.png", "cat", True),
                  example("unread.png", None, None, status=Status.ERROR), example("added.png", "dog", False)])
    cmp = compare(now, base)
    assert cmp.answer_changed == ["wrong-wrong.png", "right-wrong.png"]
    assert (cmp.added, cmp.changed) == (1, 1)


def test_changed_answer_routing_skips_reviewed_and_stale_examples() -> None:
    examples = [example("a.png", "cat", True), example("b.png", "cat", True, reviewed=True, verdict="correct"),
                example("c.png", "cat", True, stale=True), example("d.png", "dog", False)]
    r = result(examples)
    r.baseline = BaselineComparison(answer_changed=["a.png", "b.png", "c.png", "d.png"])
    got = [(e["image"], e["reason"]) for e in queue_entries([r])]
    assert got == [("d.png", "unreviewed failure"), ("a.png", CHANGED_ANSWER),
                   ("c.png", "stale: the image changed since it was reviewed")]


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_review_data_is_escaped_and_capped() -> None:
    hostile = '</template><script>alert(1)</script> & "q" \u2028'
    examples = [example(f"{hostile}{i:04d}.png", "dog", False, comment=hostile, votes=[["eve", "incorrect"]])
                for i in range(REVIEW_CAP + 20)]
    r = result(examples, description=hostile)
    calls: list[str] = []

    def large(res: CategoryResult, ex: ExampleResult) -> str:
        calls.append(ex.path)
        return _png()

    context = ReportContext(generated="2026-12-06T10:00:00", review_queue=queue_entries([r]), review_image=large,
                            annotations={"suite.yaml": ["r/"]})
    data = review_data([r], context, "2026-12-06T10:00:00")
    assert data is not None
    assert (len(data.items), data.total) == (REVIEW_CAP, REVIEW_CAP + 20)
    assert sum(1 for i in data.items if i.img) == IMAGE_CAP == len(calls)   # large images only for the first
    text = data.to_json()
    assert not set("<>&\u2028") & set(text)
    back = json.loads(text)
    assert back["items"][0]["description"] == hostile and back["items"][0]["comment"] == hostile
    assert back["items"][0]["votes"] == [["eve", "incorrect"]]
    assert back["suites"] == [{"name": "s", "file": "suite.yaml", "labels": ["cat", "dog", "fox"],
                               "annotations": ["r/"]}]
    html = render_report([r], context)
    assert html.count("<script") == 1 and "<script>alert" not in html
    assert json.loads(_template_text(html, "review-data"))["run"] == data.run


def test_no_queue_no_review_mode_and_the_run_key_differs_per_run() -> None:
    r = result([example("a.png", "cat", True)])
    html = render_report([r], ReportContext())
    assert '<button type="button" id="review-open"' not in html and '<template id="review-data">' not in html
    q = queue_entries([result([example("a.png", "dog", False)])])
    runs = {review_data([r], ReportContext(review_queue=q), when).run  # type: ignore[union-attr]
            for when in ("2026-12-06T10:00:00", "2026-12-06T10:00:01")}
    assert len(runs) == 2


def test_suite_says_where_annotation_files_go(tmp_path: Path) -> None:
    (tmp_path / "data" / "a").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "data" / "a" / "x.png")
    (tmp_path / "sub" / "reviews").mkdir(parents=True)
    suite = tmp_path / "sub" / "s.yaml"
    suite.write_text("labels: [a, b]\nannotations: reviews/\ncategories:\n  - name: c\n    images: ../data/\n")
    assert load_suite(suite, tmp_path).annotation_dirs == ("sub/reviews/",)
    suite.write_text("labels: [a, b]\ncategories:\n  - name: c\n    images: ../data/\n")
    assert load_suite(suite, tmp_path).annotation_dirs == ()


def test_synthetic_examples_are_offered_as_annotations_address_them(pytester: pytest.Pytester) -> None:
    """A `from:` + `transform:` level: its test name as category, the source image's path and sha256,
    and the large image as the model saw it (transformed), as the queue file's stubs address them."""
    root = pytester.path
    (root / "tinymodel.py").write_text(TINY_MODEL)
    write_images(root, "data/clean", {"red": 2, "blue": 2})
    (root / "edgecases.yaml").write_text(suite_yaml(
        defaults="{min_accuracy: 0.1}", categories="categories:\n  - name: clean\n    images: data/clean/\n"
                                                   "  - name: darker\n    from: clean\n    transform: {brightness: [0.2]}\n"))
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    html = (root / "edgecases-report.html").read_text(encoding="utf-8")
    items = json.loads(_template_text(html, "review-data"))["items"]
    assert [(i["category"], i["image"]) for i in items] == [("darker[brightness=0.2]", f"data/clean/red/{n:03d}.png")
                                                            for n in range(2)]
    first = items[0]
    assert first["sha256"] == hashlib.sha256((root / first["image"]).read_bytes()).hexdigest()
    shown = Image.open(io.BytesIO(base64.b64decode(first["img"].split(",", 1)[1]))).convert("RGB")
    original = Image.open(root / first["image"]).convert("RGB")
    assert sum(shown.getpixel((0, 0))) < sum(original.getpixel((0, 0))) / 2   # darkened, as the model saw it
