"""verdicts.py: each example's status (reviews, waivers, accepted answers, stale reviews) and a category's
judgement, from hand-built records and from reviewers' files (pytester's folder holds the project; nothing is
inferred). The thresholds judged in whole runs: tests/integration/test_thresholds.py."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import textwrap
from pathlib import Path

import pytest
from support.project import SuiteProject, colour_categories, suite_yaml

from pytest_edgecases.annotations import Annotation, Review, Waiver, load_annotations
from pytest_edgecases.prediction import Prediction
from pytest_edgecases.suite import Category, Example, Preprocess, Suite, Thresholds, load_suite
from pytest_edgecases.verdicts import Scored, example_result, judge, unjudged

LABELS = ("red", "blue")


TODAY = dt.date(2026, 11, 20)


def category(severity: str = "medium", **thresholds) -> Category:
    return Category(name="cat", examples=(), thresholds=Thresholds(**thresholds), severity=severity)


def scored(label: str = "red", predicted: int | None = 0, confidence: float = 0.9, severity: str | None = None,
           sha: str = "abc", error: str | None = None) -> Scored:
    top = () if predicted is None else ((predicted, confidence), (1 - predicted, 1 - confidence))
    ex = Example(path="img.png", file="/project/img.png", label=label, severity=severity)
    return Scored(ex, Prediction(top=top, error=error), sha)


def review(**fields) -> Review:
    entry = dict(reviewer="alice", file="reviews/a.yaml", line=3, image="img.png", category="cat")
    entry.update(fields)
    return Review((Annotation(**entry),))


def status(item: Scored, rev: Review | None = None, cat: Category | None = None) -> str:
    return example_result(cat or category(), item, LABELS, rev, TODAY).status


def test_statuses_without_reviews():
    assert status(scored(predicted=0)) == "correct"
    assert status(scored(predicted=1)) == "failure"
    assert status(scored(predicted=None, error="corrupt or truncated image")) == "error"


def test_statuses_with_reviews():
    assert status(scored(predicted=0), review(verdict="correct")) == "correct"
    assert status(scored(predicted=1), review(verdict="correct")) == "regression"
    assert status(scored(predicted=0), review(verdict="incorrect")) == "fixed"
    assert status(scored(predicted=1), review(verdict="incorrect")) == "known_failure"
    assert status(scored(predicted=1), review(verdict="ambiguous")) == "ambiguous"
    assert status(scored(predicted=0), review(verdict="ambiguous")) == "ambiguous"


def test_waivers():
    future, past = Waiver("retrain", TODAY + dt.timedelta(days=1)), Waiver("retrain", TODAY - dt.timedelta(days=1))
    assert status(scored(predicted=1), review(verdict="incorrect", waiver=future)) == "waived"
    assert status(scored(predicted=1), review(verdict="incorrect", waiver=Waiver("r", TODAY))) == "waived"
    assert status(scored(predicted=1), review(verdict="incorrect", waiver=past)) == "waiver_expired"
    # A waiver does not excuse a regression.
    assert status(scored(predicted=1), review(verdict="correct", waiver=future)) == "regression"
    waived = example_result(category(), scored(predicted=1), LABELS, review(waiver=future), TODAY)
    assert waived.status == "waived" and not waived.counted


def test_reviewed_label_and_accepted_answers():
    assert status(scored(label="red", predicted=1), review(label="blue")) == "correct"
    assert status(scored(label="red", predicted=1), review(accept=("blue",))) == "correct"


def test_a_stale_review_no_longer_applies():
    result = example_result(category(), scored(predicted=1, sha="new"), LABELS,
                            review(verdict="ambiguous", sha256="old"), TODAY)
    assert result.stale and result.status == "failure" and result.counted


def test_severity_precedence_in_example_result():
    cat = category(severity="low")
    assert example_result(cat, scored(predicted=1), LABELS, None, TODAY).severity == "low"
    assert example_result(cat, scored(predicted=1, severity="medium"), LABELS, None, TODAY).severity == "medium"
    assert example_result(cat, scored(predicted=1, severity="medium"), LABELS, review(severity="high"),
                          TODAY).severity == "high"


def test_judge_leaves_ambiguous_examples_out_of_accuracy_and_counts():
    suite = Suite(name="s", path=Path("/project/s.yaml"), root=Path("/project"), labels=LABELS, model=None,
                  preprocess=Preprocess(), categories=())
    cat = category(min_accuracy=1.0, max_failures=(("medium", 0),))
    items = [scored(predicted=0), scored(predicted=1)]
    plain = judge(suite, cat, items, {}, today=TODAY)
    assert (plain.n_scored, plain.n_correct, plain.passed) == (2, 1, False)
    assert plain.failures_by_severity["medium"] == 1
    reviews = {("cat", "img.png"): review(verdict="ambiguous")}
    # Both examples share a path here, so the review applies to both: nothing is left to score.
    judged = judge(suite, cat, items, reviews, today=TODAY)
    assert (judged.n_scored, judged.accuracy, judged.passed) == (0, None, False)
    assert [c.name for c in judged.checks if not c.passed] == ["min_examples"]


def test_an_unjudged_category_names_itself_as_a_judged_one_does():
    """NOT JUDGED rows carry the same identity and thresholds (review_confidence_below included) as
    judged rows, so the results file has one shape."""
    suite = Suite(name="s", path=Path("/project/s.yaml"), root=Path("/project"), labels=LABELS, model=None,
                  preprocess=Preprocess(), categories=(), review_confidence_below=0.6)
    cat = category(min_accuracy=0.9)
    judged = judge(suite, cat, [scored(predicted=0)], {}, today=TODAY).to_dict()
    failed = unjudged(suite, cat, 3, "the model did not load").to_dict()
    same = ("suite", "suite_file", "category", "base", "level", "description", "group_by", "labels", "thresholds")
    assert {k: failed[k] for k in same} == {k: judged[k] for k in same}
    assert "review_confidence_below" in failed["thresholds"]
    assert (failed["passed"], failed["error"], failed["index"], failed["examples"]) == (
        False, "the model did not load", 3, [])


# -- judged with reviews read from a reviewer's file -------------------------------------------------------

#: The colour suite reading reviews/; dark allows four high-severity failures.
REVIEWED = suite_yaml(extra="annotations: reviews/",
                      categories=colour_categories(dark="severity: high\nmax_failures: {high: 4}"))


def _judge(pytester: pytest.Pytester, tiny_project, reviews: str, extra: str = "", today: dt.date = TODAY,
           category: str = "dark"):
    """Judge one category from stand-in predictions (everything predicted blue, confidence 0.9)."""
    (pytester.path / "reviews").mkdir(exist_ok=True)
    SuiteProject(pytester.path).write("reviews/alice.yaml", "reviewer: alice\nexamples:\n" + textwrap.dedent(reviews))
    suite = load_suite(tiny_project(REVIEWED.replace("severity: high\n", "severity: high\n" + extra)), pytester.path)
    cat = suite.category(category)
    blue = Prediction(top=((1, 0.9), (0, 0.1)))
    scored = [Scored(ex, blue, hashlib.sha256(Path(ex.file).read_bytes()).hexdigest()) for ex in cat.examples]
    return judge(suite, cat, scored, load_annotations(suite), today=today)


def _status(result, path: str) -> tuple[str, bool]:
    (e,) = [e for e in result.examples if e.path == path]
    return e.status, e.counted


def test_waiver_holds_through_its_until_day(pytester, tiny_project):
    reviews = (f"  - {{image: data/dark/red/000.png, verdict: incorrect, waiver: {{reason: r, until: {TODAY}}}}}\n"
               f"  - {{image: data/dark/red/001.png, waiver: {{reason: no verdict needed, until: {TODAY}}}}}\n")
    on_time = _judge(pytester, tiny_project, reviews, today=TODAY)
    assert _status(on_time, "data/dark/red/000.png") == _status(on_time, "data/dark/red/001.png") == ("waived", False)
    late = _judge(pytester, tiny_project, reviews, today=TODAY + dt.timedelta(days=1))
    assert _status(late, "data/dark/red/000.png") == _status(late, "data/dark/red/001.png") == ("waiver_expired", True)
    (e,) = [e for e in late.examples if e.path == "data/dark/red/000.png"]
    assert e.waiver == {"reason": "r", "until": TODAY.isoformat(), "active": "False"}


def test_max_regressions_explicit_value_overrides_the_default(pytester, tiny_project):
    reviews = "  - {image: data/dark/red/000.png, verdict: correct}\n  - {image: data/dark/red/001.png, verdict: correct}\n"
    default = {c.name: c for c in _judge(pytester, tiny_project, reviews).checks}["max_regressions"]
    assert (default.measured, default.limit, default.passed) == ("2", "<= 0", False)
    allowed = {c.name: c for c in _judge(pytester, tiny_project, reviews, "    max_regressions: 2\n").checks}
    assert allowed["max_regressions"].passed and allowed["max_regressions"].limit == "<= 2"
    one = {c.name: c for c in _judge(pytester, tiny_project, reviews, "    max_regressions: 1\n").checks}
    assert not one["max_regressions"].passed


def test_review_explains_a_failure_it_does_not_excuse_it(pytester, tiny_project):
    # Every failure is reviewed as a known failure: accuracy and max_failures still see all of them.
    reviews = "".join(f"  - {{image: data/dark/red/00{i}.png, verdict: incorrect, severity: high}}\n"
                      for i in range(6))
    result = _judge(pytester, tiny_project, reviews)
    assert {e.status for e in result.examples if e.label == "red"} == {"known_failure"}
    assert (result.accuracy, result.failures_by_severity["high"]) == (0.5, 6)
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == {"min_accuracy", "max_failures[high]"} and not result.passed


def test_no_max_regressions_check_without_annotation_files(pytester, tiny_project):
    (pytester.path / "reviews").mkdir()
    suite = load_suite(tiny_project(REVIEWED), pytester.path)   # reviews/ is empty
    cat = suite.category("clean")
    scored = [Scored(ex, Prediction(top=((0, 0.9),)), "") for ex in cat.examples]
    assert "max_regressions" not in {c.name for c in judge(suite, cat, scored, {}).checks}


@pytest.mark.parametrize("item", [scored(), scored(predicted=1), scored(predicted=None, error="unreadable"),
                                  scored(severity="high", predicted=1), scored(predicted=7)],
                         ids=["right", "wrong", "error", "own-severity", "index-out-of-labels"])
def test_an_unreviewed_example_is_judged_as_a_review_that_says_nothing_judges_it(item: Scored):
    """example_result's short path for examples nobody reviewed gives what the full path gives for a
    review without verdict, label, severity or waiver (but for the review's own marks)."""
    short = example_result(category(), item, LABELS, None, TODAY)
    full = example_result(category(), item, LABELS, Review(()), TODAY)
    assert short == dataclasses.replace(full, reviewed=False)
