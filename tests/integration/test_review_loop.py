"""The review loop: what reviewed examples become in a run, reviewer agreement, and the review queue.

The colour model of conftest.py with `bias: 1.0` gets the 6 dark red images wrong (confidence
~0.75), the 6 dark blue ones right (~0.95) and every clean image right (>= 0.98).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

# pytester's in-process runs evict the modules a run imports. Inference imports torchvision, whose
# numpy.fft extension cannot then be loaded again (scipy in test_stats.py does), and the CSV writer
# imports pandas: import both before any run, as conftest.py does for torch.
import pandas  # noqa: F401
import pytest
import torchvision  # noqa: F401
import yaml
from support.project import colour_categories, suite_yaml, write_dedented

TODAY = dt.date.today()
FUTURE = TODAY + dt.timedelta(days=30)
PAST = TODAY - dt.timedelta(days=1)
#: The colour suite reading reviews/, with EXTRA (replaced by each test) for more top-level keys.
SUITE = suite_yaml(extra="annotations: reviews/\nEXTRA",
                   categories=colour_categories(dark="severity: high\nmax_failures: {high: 4}"))
#: Free text as hostile as a reviewer can type it: markup, quotes, YAML syntax, line breaks, unicode.
HOSTILE = ('<script>alert("x")</script> & \'quoted\' "twice"\nkey: {not: yaml}\t# not a comment — '
           'ünïcödé 🚦 \u2028sep\x85nel')
HOSTILE2 = 'bob: "no" </td><img src=x onerror=alert(1)>\n- image: data/dark/red/001.png\nverdict: correct'


def dq(text: str) -> str:
    """A one-line YAML double-quoted scalar, as a careful tool would write free text."""
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=10**6).strip()


def sha(root: Path, rel: str) -> str:
    return hashlib.sha256((root / rel).read_bytes()).hexdigest()


def run(pytester: pytest.Pytester, *args: str, xdist: bool = False) -> pytest.RunResult:
    args = ("--edgecases", "-p", "no:cacheprovider", *args)
    if xdist:
        return pytester.runpytest_subprocess("-n", "2", *args)
    return pytester.runpytest(*args)


def results_json(path: Path, suite: str = "colours") -> dict[tuple[str, str], dict[str, Any]]:
    """{(category, path): example dict} of one suite, from a JSON results file."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {(c["category"], e["path"]): e for c in doc["categories"] if c["suite"] == suite for e in c["examples"]}


@pytest.fixture
def project(tiny_project: Callable[..., Path], pytester: pytest.Pytester) -> Callable[..., Path]:
    """The colour project with an (empty) reviews/ folder; `extra` adds top-level suite keys. Returns its root."""

    def make(extra: str = "") -> Path:
        (pytester.path / "reviews").mkdir(exist_ok=True)
        tiny_project(SUITE.replace("EXTRA", extra))
        return pytester.path

    return make


# -- what a review does to an example ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_each_review_status_in_message_and_results_file(project, pytester, fmt):
    root = project()
    write_dedented(root, "reviews/alice.yaml", f"""
        reviewer: alice
        date: 2026-11-20
        examples:
          - {{image: data/dark/red/000.png, verdict: incorrect, comment: known}}
          - image: data/dark/red/001.png
            verdict: correct                  # a waiver does not turn a regression into anything else
            waiver: {{reason: r, until: {FUTURE}}}
          - {{image: data/dark/red/002.png, verdict: ambiguous}}
          - {{image: data/dark/red/003.png, verdict: incorrect, waiver: {{reason: retrain, until: {FUTURE}}}}}
          - {{image: data/dark/red/004.png, verdict: incorrect, waiver: {{reason: retrain, until: "{PAST}"}}}}
          - {{image: data/dark/red/005.png, verdict: incorrect, sha256: "{"0" * 64}"}}
          - {{image: data/dark/blue/000.png, verdict: incorrect}}
          - image: data/dark/blue/001.png
            label: red
            severity: low
            comment: {dq(HOSTILE)}
          - {{image: data/dark/blue/002.png, label: red, accept: [blue], verdict: correct}}
    """)
    out = root / f"r.{fmt}"
    result = run(pytester, f"--edgecases-results={out}")
    result.assert_outcomes(passed=1, failed=1)
    expected = {   # dark image: (status, counted against max_failures, severity)
        "red/000": ("known_failure", True, "high"), "red/001": ("regression", True, "high"),
        "red/002": ("ambiguous", False, "high"), "red/003": ("waived", False, "high"),
        "red/004": ("waiver_expired", True, "high"), "red/005": ("failure", True, "high"),
        "blue/000": ("fixed", False, "high"), "blue/001": ("failure", True, "low"),
        "blue/002": ("correct", False, "high"), "blue/003": ("correct", False, "high"),
    }
    if fmt == "json":
        examples = results_json(out)
        got = {p[len("data/dark/"):-len(".png")]: (e["status"], e["counted"], e["severity"])
               for (c, p), e in examples.items() if c == "dark"}
        assert {k: got[k] for k in expected} == expected
        stale = examples[("dark", "data/dark/red/005.png")]
        assert stale["stale"] and not stale["reviewed"] and stale["verdict"] is None
        blue1 = examples[("dark", "data/dark/blue/001.png")]
        assert (blue1["label"], blue1["comment"], blue1["reviewers"]) == ("red", HOSTILE, ["alice"])
        assert examples[("dark", "data/dark/red/003.png")]["waiver"] == {
            "reason": "retrain", "until": FUTURE.isoformat(), "active": "True"}
        (dark,) = [c for c in json.loads(out.read_text())["categories"] if c["category"] == "dark"]
        # 11 scored (the ambiguous one is not), 5 right; the waived failure still lowers accuracy.
        assert (dark["n_scored"], dark["n_correct"], dark["regressions"], dark["fixed"]) == (11, 5, 1, 1)
        assert dark["failures_by_severity"] == {"low": 1, "medium": 0, "high": 4}
        checks = {c["name"]: (c["measured"], c["passed"]) for c in dark["checks"]}
        assert checks["max_failures[high]"] == ("4", True)   # known failure counted, waived one not
        assert checks["max_regressions"] == ("1", False)     # default 0 once annotations exist
    else:
        with out.open(newline="", encoding="utf-8") as fh:
            rows = {r["path"][len("data/dark/"):-len(".png")]: r for r in csv.DictReader(fh) if r["category"] == "dark"}
        assert {k: rows[k]["status"] for k in expected} == {k: v[0] for k, v in expected.items()}
        assert (rows["blue/001"]["comment"], rows["blue/001"]["label"], rows["blue/001"]["severity"]) == (
            HOSTILE, "red", "low")
        assert rows["red/005"]["stale"] == "True" and rows["red/003"]["waiver_until"] == FUTURE.isoformat()
        assert rows["red/000"]["verdict"] == "incorrect" and rows["red/000"]["reviewer"] == "alice"

    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*edgecases.yaml::dark: 5/11 correct, accuracy 45.5%*",
        "max_regressions *1*<= 0*FAILED*reviewed correct, now wrong*",
        "worst failures (6 in all):",
    ])
    for path, status in [("red/000", "known failure"), ("red/001", "regression"), ("red/003", "waived"),
                         ("red/004", "waiver expired"), ("red/005", "failure (stale review)"),
                         ("blue/001", "failure")]:
        result.stdout.fnmatch_lines([f"data/dark/{path}*{status}*"])
    # Reviewed examples that are not failures are named too: a fix means the annotation needs updating.
    result.stdout.fnmatch_lines(["*data/dark/blue/000.png*fixed*", "*data/dark/red/002.png*ambiguous*"])
    assert "Traceback" not in text


# -- several reviewers ---------------------------------------------------------------------------


def test_agreement_in_summary_line_and_results_json(project, pytester):
    root = project()
    for who, verdicts in {"alice": "ccii", "bob": "ciii"}.items():
        write_dedented(root, f"reviews/{who}.yaml", f"reviewer: {who}\nexamples:\n" + "".join(
            f"  - {{image: data/clean/blue/00{i}.png, verdict: {dict(c='correct', i='incorrect')[v]}}}\n"
            for i, v in enumerate(verdicts)))
    # A second suite in the same project, reviewed by three people: Fleiss' kappa.
    (root / "night").mkdir()
    write_dedented(root, "night.edgecases.yaml", SUITE.replace("suite: colours", "suite: night")
          .replace("annotations: reviews/", "annotations: night/").replace("EXTRA", ""))
    for who, verdicts in {"alice": "ccic", "bob": "ccii", "carol": "ciia"}.items():
        write_dedented(root, f"night/{who}.yaml", f"reviewer: {who}\nexamples:\n" + "".join(
            f"  - {{image: data/dark/blue/00{i}.png, verdict: "
            f"{dict(c='correct', i='incorrect', a='ambiguous')[v]}}}\n" for i, v in enumerate(verdicts)))
    result = run(pytester, "--edgecases-results=r.json")
    result.stdout.fnmatch_lines([
        "reviewer agreement in colours: Cohen's kappa 0.50 (moderate) on 4 example(s) reviewed by alice, bob; "
        "1 conflict(s)",
        "  conflict: clean data/clean/blue/001.png: alice says correct, bob says incorrect",
        "reviewer agreement in night: Fleiss' kappa 0.27 (fair) on 4 example(s) reviewed by alice, bob, carol; "
        "2 conflict(s)",
    ])
    doc = json.loads((root / "r.json").read_text())
    by = {(c["suite"], c["category"]): c["agreement"] for c in doc["categories"]}
    assert by[("colours", "clean")]["method"] == "Cohen" and by[("colours", "clean")]["kappa"] == 0.5
    assert by[("colours", "dark")] == {}
    night = by[("night", "dark")]
    assert night["method"] == "Fleiss" and night["kappa"] == pytest.approx(0.26829, abs=1e-4)
    assert sorted(c["image"] for c in night["conflicts"]) == ["data/dark/blue/001.png", "data/dark/blue/003.png"]
    examples = results_json(root / "r.json")
    # Ties (1 against 1, or three different verdicts) are ambiguous; 2 against 1 is a majority.
    assert examples[("clean", "data/clean/blue/001.png")]["status"] == "ambiguous"
    assert examples[("clean", "data/clean/blue/002.png")]["status"] == "fixed"   # both said incorrect
    assert examples[("clean", "data/clean/blue/001.png")]["conflict"]


# -- the review queue -------------------------------------------------------------------------------


def _queue_order_project(root: Path) -> None:
    write_dedented(root, "reviews/alice.yaml", f"""
        reviewer: alice
        examples:
          - {{image: data/dark/red/000.png, verdict: correct}}
          - {{image: data/dark/red/001.png, verdict: incorrect}}
          - {{image: data/dark/red/002.png, verdict: incorrect, waiver: {{reason: r, until: {FUTURE}}}}}
          - {{image: data/clean/blue/000.png, label: red}}
          - {{image: data/dark/blue/000.png, verdict: incorrect}}
          - {{image: data/dark/blue/002.png, verdict: correct, sha256: "{"1" * 64}"}}
          - {{image: data/dark/blue/001.png, verdict: correct}}
    """)
    write_dedented(root, "reviews/bob.yaml", """
        reviewer: bob
        examples:
          - {image: data/dark/blue/001.png, verdict: incorrect}
    """)


QUEUE_ORDER = [
    ("dark", "data/dark/red/003.png"), ("dark", "data/dark/red/004.png"),   # confident high-severity mistakes
    ("dark", "data/dark/red/005.png"),
    ("clean", "data/clean/blue/000.png"),                                   # other unreviewed failures
    ("dark", "data/dark/blue/000.png"), ("dark", "data/dark/red/000.png"),  # fixed, regression
    ("dark", "data/dark/blue/002.png"),                                     # stale
    ("dark", "data/dark/blue/001.png"),                                     # conflict
    ("dark", "data/dark/blue/003.png"), ("dark", "data/dark/blue/004.png"),  # correct, confidence < 0.96
    ("dark", "data/dark/blue/005.png"),
]


@pytest.mark.parametrize("xdist", [False, True], ids=["in-process", "xdist"])
def test_queue_lists_what_needs_review_most_urgent_first(project, pytester, xdist):
    root = project("review: {confidence_below: 0.96}")
    _queue_order_project(root)
    result = run(pytester, "--edgecases-review-queue=queue.yaml", xdist=xdist)
    result.assert_outcomes(passed=1, failed=1)
    text = (root / "queue.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert (doc["reviewer"], doc["date"]) == ("", TODAY)
    assert [(e["category"], e["image"]) for e in doc["examples"]] == QUEUE_ORDER
    first = doc["examples"][0]
    assert set(first) == {"image", "category", "label", "predicted", "confidence", "sha256", "verdict", "severity",
                          "comment"}
    assert (first["label"], first["predicted"], first["verdict"], first["severity"], first["comment"]) == (
        "red", "blue", None, None, "")
    assert 0.7 < first["confidence"] < 0.8 and first["sha256"] == sha(root, "data/dark/red/003.png")
    assert doc["examples"][3]["label"] == "red"   # the reviewed label, not the folder's
    for reason in ["unreviewed failure, high severity", "regression: reviewed correct, now wrong",
                   "fixed: reviewed incorrect, now right", "stale: the image changed since it was reviewed",
                   "reviewers disagree", "correct, but confidence 0.95 < 0.96"]:
        assert f"  # {reason}" in text
    result.stdout.fnmatch_lines(["edgecases: 11 example(s) queued for review"])


def _fill(text: str, reviewer: str, answers: dict[str, dict[str, str]]) -> str:
    """Fill a queue the way a reviewer does in an editor: replace the blanks of the chosen entries."""
    out, image = [], None
    for line in text.splitlines():
        if line.startswith("reviewer:"):
            line = f"reviewer: {reviewer}"
        elif line.startswith("  - image: "):
            image = yaml.safe_load(line[len("  - image: "):])
        for key, value in answers.get(image, {}).items():
            if line.startswith(f"    {key}:"):
                line = f"    {key}: {value}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_round_trip_a_filled_queue_takes_effect_with_no_other_edit(project, pytester):
    root = project()
    write_dedented(root, "reviews/alice.yaml", f"""
        reviewer: alice
        examples:
          - {{image: data/dark/red/000.png, verdict: correct, comment: {dq(HOSTILE)}}}
    """)
    alice = (root / "reviews/alice.yaml").read_bytes()
    run(pytester, "--edgecases-review-queue=queue.yaml").assert_outcomes(passed=1, failed=1)
    queue = root / "queue.yaml"
    doc = yaml.safe_load(queue.read_text(encoding="utf-8"))   # the earlier reviewer's comment cannot break it
    assert set(doc) == {"reviewer", "date", "examples"}
    assert [e["image"] for e in doc["examples"]] == [f"data/dark/red/00{i}.png" for i in (1, 2, 3, 4, 5, 0)]
    assert all(set(e) <= {"image", "category", "label", "predicted", "confidence", "sha256", "verdict", "severity",
                          "comment"} for e in doc["examples"])
    assert HOSTILE in _earlier_comments(queue.read_text(encoding="utf-8"))

    filled = _fill(queue.read_text(encoding="utf-8"), "bob", {
        "data/dark/red/000.png": {"verdict": "incorrect", "comment": dq(HOSTILE2)},
        "data/dark/red/001.png": {"verdict": "incorrect", "severity": "low"},
        "data/dark/red/002.png": {"verdict": "ambiguous"},
        "data/dark/red/003.png": {"verdict": "correct"},
        "data/dark/red/005.png": {"verdict": "incorrect", "severity": "medium"},
    })   # data/dark/red/004.png is left blank: skipped
    queue.write_text(filled, encoding="utf-8")
    queue.rename(root / "reviews/round2-bob.yaml")

    run(pytester, "--edgecases-review-queue=queue.yaml", "--edgecases-results=r.json").assert_outcomes(
        passed=1, failed=1)
    examples = results_json(root / "r.json")
    got = {p[len("data/dark/red/"):]: (e["status"], e["severity"], e["reviewers"])
           for (c, p), e in examples.items() if p.startswith("data/dark/red/")}
    assert got == {
        "000.png": ("ambiguous", "high", ["alice", "bob"]),   # alice correct, bob incorrect: a tie
        "001.png": ("known_failure", "low", ["bob"]),
        "002.png": ("ambiguous", "high", ["bob"]),
        "003.png": ("regression", "high", ["bob"]),
        "004.png": ("failure", "high", []),                   # a blank entry is no review at all
        "005.png": ("known_failure", "medium", ["bob"]),
    }
    assert examples[("dark", "data/dark/red/000.png")]["comment"] == f"alice: {HOSTILE} | bob: {HOSTILE2}"
    assert (root / "reviews/alice.yaml").read_bytes() == alice
    again = yaml.safe_load((root / "queue.yaml").read_text(encoding="utf-8"))
    assert [e["image"] for e in again["examples"]] == ["data/dark/red/004.png", "data/dark/red/003.png",
                                                       "data/dark/red/000.png"]


def _earlier_comments(text: str) -> str:
    """What the queue shows of earlier reviews (comment lines), decoded."""
    return "\n".join(yaml.safe_load(line.split("said: ", 1)[1]) for line in text.splitlines()
                     if line.strip().startswith("#") and "said: " in line)


def test_queue_never_overwrites_a_reviewers_file(project, pytester):
    root = project()
    queue = root / "queue.yaml"
    run(pytester, "--edgecases-review-queue=queue.yaml")
    assert len(yaml.safe_load(queue.read_text())["examples"]) == 6
    # An untouched queue of ours is simply replaced by the next run's.
    write_dedented(root, "edgecases.yaml", SUITE.replace("EXTRA", "review: {confidence_below: 0.96}"))
    run(pytester, "--edgecases-review-queue=queue.yaml")
    assert len(yaml.safe_load(queue.read_text())["examples"]) == 12 and not (root / "queue.1.yaml").exists()

    # Filled in place (name and a verdict): kept byte for byte; the new queue goes next to it.
    named = _fill(queue.read_text(), "carol", {"data/dark/red/000.png": {"verdict": "incorrect"}})
    queue.write_text(named)
    result = run(pytester, "--edgecases-review-queue=queue.yaml")
    assert queue.read_text() == named
    assert len(yaml.safe_load((root / "queue.1.yaml").read_text())["examples"]) == 12
    result.stdout.fnmatch_lines([f"edgecases: {queue} holds a reviewer's work; the queue went to "
                                 f"{root / 'queue.1.yaml'} instead"])

    # Work in progress without a name yet, written the way an editor leaves it, is kept too.
    first = root / "queue.1.yaml"
    for edit in (lambda t: t.replace("    verdict:     # correct", "    verdict:     incorrect  # correct", 1),
                 lambda t: t.replace('    comment: ""', '    comment: "too dark to tell"', 1),
                 lambda t: t.replace("  - image:", "  # look at this one again\n  - image:", 1)):
        run(pytester, "--edgecases-review-queue=queue.yaml")   # rewrites queue.1.yaml: it is untouched
        draft = edit(first.read_text())
        first.write_text(draft)
        run(pytester, "--edgecases-review-queue=queue.yaml")
        assert first.read_text() == draft and (root / "queue.2.yaml").exists()
        (root / "queue.2.yaml").unlink()
        first.unlink()


