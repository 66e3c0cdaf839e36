"""review_queue.py: the queue stub parses back whatever text it holds, and its reasons never round up."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml

from pytest_edgecases.review_queue import render_queue

TODAY = dt.date.today()


def test_queue_stub_keeps_any_text_safe():
    """Image names and labels come from the file system and YAML: whatever they hold, the stub parses back."""
    odd = ['it\'s "odd" #1: {a}', "line\nbreak", "del\x7fc1\x80", "nel\x85ls\u2028ps\u2029", "bom\ufeff",
           "surrogate\udcff", "emoji 🚦 ünï", "- dash", "null", "@at", "tab\tx"]
    entries = [{"suite": "s", "image": name + ".png", "category": "c", "label": name, "predicted": name,
                "confidence": 0.5, "sha256": "ab" * 32, "severity": "high", "reason": "why"} for name in odd]
    text = render_queue("suite\u2028examples: []\n#", entries, TODAY)
    text.encode("utf-8")   # writable as UTF-8, even with a surrogate-escaped file name
    doc = yaml.safe_load(text)
    assert set(doc) == {"reviewer", "date", "examples"}
    assert [(e["image"], e["label"], e["predicted"]) for e in doc["examples"]] == [
        (n + ".png", n, n) for n in odd]


def test_queue_reason_never_rounds_up_to_the_threshold():
    """0.5961 below confidence_below 0.6 reads "0.596 < 0.6", not the false "0.60 < 0.6"."""
    from pytest_edgecases.review_queue import _below

    assert _below(0.5961, 0.6) == "0.596"
    assert _below(0.5835, 0.6) == "0.58"
    assert _below(0.95, 0.96) == "0.95"
    assert float(_below(0.5999999, 0.6)) < 0.6


def _queued(n: int) -> list:
    """Two categories of n examples each, wrong at confidences and severities that interleave."""
    from pytest_edgecases.records import CategoryResult, ExampleResult

    def example(i: int, category: str) -> ExampleResult:
        wrong = i % 4 != 0
        return ExampleResult(path=f"{i % 7}/{i}.png", category=category, label="red", predicted="blue" if wrong else "red",
                             confidence=(i * 37 % 100) / 100, correct=not wrong, severity=("high", "low")[i % 2],
                             status="failure" if wrong else "correct", counted=wrong)

    return [CategoryResult(suite="s", suite_file="s.edgecases.yaml", category=c, base=c, level="", description="",
                           passed=False, n_examples=n, n_scored=n, n_correct=0, accuracy=None, ci_low=None,
                           ci_high=None, failures_by_severity={}, regressions=0, fixed=0, checks=[],
                           examples=[example(i, c) for i in range(n)], thresholds={"review_confidence_below": 0.5})
            for c in ("a", "b")]


def test_the_reports_head_of_the_queue_is_the_whole_queues_first_entries_and_counts_them_all():
    """The report holds only the most urgent entries of a queue that may list every example: the same
    entries, in the same order, as the queue file's first ones, and the size of the whole queue."""
    from pytest_edgecases.review_queue import queue_entries, queue_head

    results = _queued(300)
    everything = queue_entries(results)
    assert len(everything) > 400   # wrong ones, and right ones under the confidence limit
    for limit in (0, 1, 7, 200, 1000):
        head = queue_head(results, limit)
        assert head.entries == everything[:limit] and head.total == len(everything)


def test_the_report_counts_the_whole_queue_when_given_its_head():
    """Review mode and the queue's list say how many entries wait in all, not how many the report holds."""
    from pytest_edgecases.report import ReportContext, render_report
    from pytest_edgecases.review_queue import queue_head

    results = _queued(300)
    head = queue_head(results, 250)
    html = render_report(results, ReportContext(review_queue=head.entries, review_total=head.total))
    assert f"Review queue ({head.total})" in html
    assert f"… and {head.total - 200} more in the review-queue file" in html


def test_the_shared_empty_metadata_copies_pickles_and_stays_empty():
    """Results without metadata share one empty mapping: copies and pickles keep it one, and it refuses
    to be filled (which would fill every result's)."""
    import copy
    import pickle

    from pytest_edgecases.records import NO_VALUES

    example = _queued(1)[0].examples[0]
    example.metadata = NO_VALUES
    for other in (copy.deepcopy(example), pickle.loads(pickle.dumps(example))):
        assert other.metadata is NO_VALUES and other.to_dict()["metadata"] == {}
    with pytest.raises(TypeError):
        example.metadata["camera"] = "b"   # type: ignore[index]
    assert NO_VALUES == {}
