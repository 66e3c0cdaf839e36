"""Reviewer annotation files: how they are found, read, consolidated, and rejected when wrong.

Parsing is pure (no model, no inference): these are unit tests against load_suite + load_annotations
(pytester's folder holds the project). A run showing such an error the way a user sees it:
tests/integration/test_errors.py.
"""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Callable

import pytest
from support.project import suite_yaml, write_dedented

from pytest_edgecases.annotations import Review, load_annotations
from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.suite import load_suite

#: The colour suite reading its annotations from ANNOTATIONS (replaced by each test).
SUITE = suite_yaml(preprocess=None, extra="annotations: ANNOTATIONS")
SHA = "ab" * 32


@pytest.fixture
def project(tiny_project: Callable[..., Path], pytester: pytest.Pytester) -> Callable[..., dict]:
    """A colour project whose suite reads `annotations` (default: the reviews/ folder); returns its reviews."""

    def load(annotations: str = "reviews/", suite: str = SUITE) -> dict[tuple[str, str], Review]:
        (pytester.path / "reviews").mkdir(exist_ok=True)
        path = tiny_project(suite.replace("ANNOTATIONS", annotations))
        return load_annotations(load_suite(path, pytester.path))

    return load


# -- where annotations come from -------------------------------------------------------------


@pytest.mark.parametrize("annotations", ["reviews/", "[reviews/alice.yaml, other/bob.yml]", "reviews/alice.yaml"])
def test_annotations_may_be_a_folder_a_list_or_a_file(project, pytester, annotations):
    write_dedented(pytester.path, "reviews/alice.yaml", """
        reviewer: alice
        examples:
          - {image: data/dark/red/000.png, verdict: incorrect}
    """)
    write_dedented(pytester.path, "other/bob.yml", """
        reviewer: bob
        examples:
          - {image: data/dark/red/001.png, verdict: correct}
    """)
    # A folder is read recursively, .yaml and .yml; other files are not annotations.
    write_dedented(pytester.path, "reviews/round2/carol.yml", """
        reviewer: carol
        examples:
          - {image: data/clean/red/000.png, verdict: correct}
    """)
    write_dedented(pytester.path, "reviews/README.md", "not yaml: [")
    reviews = project(annotations)
    found = {key: review.reviewers for key, review in reviews.items()}
    expected = {
        "reviews/": {("dark", "data/dark/red/000.png"): ["alice"], ("clean", "data/clean/red/000.png"): ["carol"]},
        "[reviews/alice.yaml, other/bob.yml]": {("dark", "data/dark/red/000.png"): ["alice"],
                                                ("dark", "data/dark/red/001.png"): ["bob"]},
        "reviews/alice.yaml": {("dark", "data/dark/red/000.png"): ["alice"]},
    }[annotations]
    assert found == expected


def test_every_entry_field_is_read(project, pytester):
    write_dedented(pytester.path, "reviews/alice.yaml", f"""
        reviewer: alice
        date: 2026-11-20
        examples:
          - image: ./data/dark/red/003.png        # normalised like the results file's path column
            category: dark
            label: blue
            accept: [red]
            verdict: incorrect
            predicted: blue
            severity: low
            comment: "  Too dark to tell.  "
            waiver: {{reason: "retrain with dusk images", until: 2026-12-31}}
            sha256: {SHA.upper()}
          - image: data/dark/red/004.png
            reviewer: bob                         # an entry may name its own reviewer
            accept: red                           # one answer need not be a list
            waiver: {{reason: quoted date, until: "2027-01-02"}}
    """)
    reviews = project()
    review = reviews[("dark", "data/dark/red/003.png")]
    (entry,) = review.entries
    assert (entry.reviewer, entry.file, entry.line, entry.date) == ("alice", "reviews/alice.yaml", 4, "2026-11-20")
    assert (review.label, review.accept, review.verdict, review.severity) == ("blue", ("red",), "incorrect", "low")
    assert entry.predicted == "blue"
    assert review.comment == "Too dark to tell."
    assert (review.waiver.reason, review.waiver.until) == ("retrain with dusk images", dt.date(2026, 12, 31))
    assert review.sha256 == SHA
    other = reviews[("dark", "data/dark/red/004.png")]
    assert other.reviewers == ["bob"] and other.accept == ("red",) and other.verdict is None
    assert other.waiver.until == dt.date(2027, 1, 2)


def test_numeric_labels_can_be_written_bare(project, pytester, tiny_project):
    # labels: [0, 1] are the strings "0" and "1"; a reviewer writing `label: 1` means the same label.
    for name in ("0", "1"):
        for i in range(2):
            write_dedented(pytester.path, f"data/digits/{name}/{i}.png", "")
    suite = SUITE.replace("labels: [red, blue]", "labels: [0, 1, red, blue]")
    suite = suite.replace("  - name: dark", "  - name: digits\n    images: data/digits/\n  - name: dark")
    write_dedented(pytester.path, "reviews/alice.yaml", """
        reviewer: alice
        examples:
          - {image: data/digits/0/0.png, label: 1, accept: [0], predicted: 1, verdict: incorrect}
    """)
    review = project(suite=suite)[("digits", "data/digits/0/0.png")]
    assert (review.label, review.accept, review.entries[0].predicted) == ("1", ("0",), "1")


def test_a_queue_stub_left_blank_is_no_review(project, pytester):
    write_dedented(pytester.path, "reviews/alice.yaml", f"""
        reviewer: alice
        examples:
          - image: "data/dark/red/000.png"      # skipped: only what the queue filled in
            category: "dark"
            label: "red"
            predicted: "blue"
            confidence: 0.7484
            sha256: "{SHA}"
            verdict:     # correct | incorrect | ambiguous
            severity:    # low | medium | high
            comment: ""
          - {{image: data/dark/red/001.png, label: blue}}          # a corrected label says something
          - {{image: data/dark/red/002.png, severity: low}}        # so does a severity alone
    """)
    assert sorted(project()) == [("dark", "data/dark/red/001.png"), ("dark", "data/dark/red/002.png")]


# -- several reviewers -------------------------------------------------------------------------


def _reviews_of(project, pytester, files: dict[str, str]) -> dict[tuple[str, str], Review]:
    for name, examples in files.items():
        write_dedented(pytester.path, f"reviews/{name}.yaml", f"reviewer: {name}\nexamples:\n" + textwrap.dedent(examples))
    return project()


def test_majority_verdict_highest_severity_and_ties(project, pytester):
    reviews = _reviews_of(project, pytester, {
        "alice": """
            - {image: data/dark/red/000.png, verdict: incorrect, severity: low, comment: "<b>dark</b>"}
            - {image: data/dark/red/001.png, verdict: correct}
            - {image: data/dark/red/002.png, verdict: correct}
            - {image: data/dark/red/003.png, severity: medium, accept: [blue]}
        """,
        "bob": """
            - {image: data/dark/red/000.png, verdict: incorrect, severity: high, comment: "agree"}
            - {image: data/dark/red/001.png, verdict: incorrect}
            - {image: data/dark/red/002.png, verdict: incorrect}
            - {image: data/dark/red/003.png, verdict: ambiguous, waiver: {reason: a, until: 2026-01-01}}
        """,
        "carol": """
            - {image: data/dark/red/000.png, verdict: correct, severity: medium}
            - {image: data/dark/red/001.png, verdict: ambiguous}
            - {image: data/dark/red/003.png, waiver: {reason: b, until: 2027-01-01}}
        """,
    })

    def get(n: int) -> Review:
        return reviews[("dark", f"data/dark/red/00{n}.png")]

    assert (get(0).verdict, get(0).severity, get(0).conflict) == ("incorrect", "high", True)   # 2 against 1
    assert get(0).comment == "alice: <b>dark</b> | bob: agree"
    assert get(1).verdict == "ambiguous"          # three different verdicts: no majority
    assert get(2).verdict == "ambiguous" and get(2).conflict   # one against one: a tie
    # An entry without a verdict is a note, not a vote; its severity and accept still count.
    assert (get(3).verdicts, get(3).verdict, get(3).severity) == (["ambiguous"], "ambiguous", "medium")
    assert get(3).accept == ("blue",) and get(3).waiver.reason == "b"   # the latest waiver stands
    assert not get(3).conflict


# -- mistakes, each named with file and line ---------------------------------------------------

BAD = {
    "unknown image, closest suggested": (
        "  - {image: data/dark/rde/003.png, verdict: correct}",
        4, ["image 'data/dark/rde/003.png' is not in the suite", "did you mean 'data/dark/red/003.png'?"]),
    "label not in the label set": (
        "  - {image: data/dark/red/003.png, label: green}",
        4, ["label 'green' is not one of red, blue"]),
    "accept answer not in the label set": (
        "  - image: data/dark/red/003.png\n    accept: [blue, grey]",
        5, ["accept label 'grey' is not one of the suite's labels"]),
    "predicted not in the label set": (
        "  - {image: data/dark/red/003.png, predicted: Red}",
        4, ["predicted label 'Red' is not one of red, blue", "did you mean 'red'?"]),
    "unknown verdict": (
        "  - image: data/dark/red/003.png\n    verdict: wrong",
        5, ["verdict 'wrong' is not one of correct, incorrect, ambiguous"]),
    "unknown severity": (
        "  - image: data/dark/red/003.png\n    severity: critical",
        5, ["severity 'critical' is not one of low, medium, high"]),
    "impossible bare date": (
        "  - image: data/dark/red/003.png\n    waiver: {reason: r, until: 2026-13-45}",
        5, ["'2026-13-45'", "month must be in 1..12"]),
    "date in words": (
        "  - image: data/dark/red/003.png\n    waiver:\n      reason: r\n      until: tomorrow",
        7, ["'tomorrow' is not a date; write YYYY-MM-DD"]),
    "waiver without until": (
        "  - image: data/dark/red/003.png\n    waiver: {reason: r}",
        5, ["a waiver needs until: YYYY-MM-DD"]),
    "waiver without reason": (
        "  - image: data/dark/red/003.png\n    waiver: {until: 2026-12-31}",
        5, ["a waiver needs a reason"]),
    "same example twice in one file": (
        "  - {image: data/dark/red/003.png, verdict: correct}\n"
        "  - {image: data/dark/red/001.png, verdict: correct}\n"
        "  - {image: ./data/dark/red/003.png, verdict: incorrect}",
        6, ["'data/dark/red/003.png' (dark) is annotated twice in this file (first on line 4)"]),
    "unknown entry key": (
        "  - image: data/dark/red/003.png\n    verdit: correct",
        5, ["unknown key 'verdit' (did you mean 'verdict'?)"]),
    "unknown waiver key": (
        "  - image: data/dark/red/003.png\n    waiver: {reason: r, untill: 2026-12-31}",
        5, ["unknown waiver key 'untill' (did you mean 'until'?)"]),
    "image in another category": (
        "  - {image: data/dark/red/003.png, category: clean}",
        4, ["image 'data/dark/red/003.png' is not in category 'clean'", "it is in: dark"]),
    "bad sha256": (
        "  - {image: data/dark/red/003.png, sha256: 9f2c}",
        4, ["sha256 must be 64 hex digits"]),
    "duplicate key": (
        "  - image: data/dark/red/003.png\n    verdict: correct\n    verdict: incorrect",
        6, ["duplicate key 'verdict' (first on line 5)"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_entry_is_an_error_with_file_and_line(project, pytester, case):
    entries, line, fragments = BAD[case]
    write_dedented(pytester.path, "reviews/alice.yaml", "reviewer: alice\ndate: 2026-11-20\nexamples:\n" + entries + "\n")
    with pytest.raises(EdgecasesError) as info:
        project()
    text = str(info.value)
    assert text.startswith(f"reviews/alice.yaml:{line}: ")
    for fragment in fragments:
        assert fragment in text


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("reviewer: alice\nexamples: []\nreviewers: [bob]\n", 3, "unknown key 'reviewers' (did you mean 'reviewer'?)"),
    ("reviewer: alice\ndate: tomorrow\nexamples: []\n", 2, "'tomorrow' is not a date"),
    ("reviewer: alice\ndate: 2026-13-45\nexamples: []\n", 2, "month must be in 1..12"),
    ("examples:\n  - {image: data/dark/red/003.png, verdict: correct}\n", 2, "who reviewed this? add reviewer:"),
    ("- image: data/dark/red/003.png\n", 1, "must be a mapping with reviewer:"),
    ("reviewer: alice\nexamples:\n  - data/dark/red/003.png\n", 3, "each entry must be a mapping"),
    ("reviewer: alice\nexamples: [\n", 3, "YAML syntax error"),
], ids=["unknown file key", "date in words", "impossible date", "no reviewer", "not a mapping", "entry not a mapping",
        "broken yaml"])
def test_bad_file_is_an_error_with_file_and_line(project, pytester, text, line, fragment):
    write_dedented(pytester.path, "reviews/alice.yaml", text)
    with pytest.raises(EdgecasesError) as info:
        project()
    assert str(info.value).startswith(f"reviews/alice.yaml:{line}: ") and fragment in str(info.value)


def test_image_in_several_categories_needs_category(project, pytester):
    suite = SUITE.replace("  - name: dark", "  - name: clean_again\n    images: data/clean/\n  - name: dark")
    write_dedented(pytester.path, "reviews/alice.yaml", """
        reviewer: alice
        examples:
          - {image: data/clean/red/000.png, category: clean_again, verdict: correct}
          - {image: data/clean/red/001.png, verdict: correct}
    """)
    with pytest.raises(EdgecasesError) as info:
        project(suite=suite)
    assert str(info.value).startswith("reviews/alice.yaml:4: image 'data/clean/red/001.png' is in several "
                                      "categories (clean, clean_again); add category: to say which")


HOSTILE = 'Looks <script>alert("x")</script> & \'quoted\'\nsecond line: {not: yaml}\tTab # not a comment — ünïcödé 🚦\u2028\x85end'


def test_free_text_is_kept_exactly(project, pytester):
    import yaml

    write_dedented(pytester.path, "reviews/alice.yaml",
          "reviewer: alice\nexamples:\n  - image: data/dark/red/003.png\n    comment: "
          + yaml.safe_dump(HOSTILE, default_style='"', allow_unicode=True, width=10**6).strip()
          + "\n    waiver: {reason: " + yaml.safe_dump('"it\'s <fine>"', default_style='"').strip()
          + ", until: 2026-12-31}\n")
    review = project()[("dark", "data/dark/red/003.png")]
    assert review.comment == HOSTILE
    assert review.waiver.reason == '"it\'s <fine>"'


def test_a_reviewers_later_round_replaces_the_earlier_one(tiny_project, pytester):
    """Two files by the same reviewer are two rounds, not two votes: the later date wins."""
    import textwrap

    tiny_project()
    suite = pytester.path / "edgecases.yaml"
    suite.write_text(suite.read_text().replace("categories:", "annotations: reviews/\ncategories:"))
    reviews = pytester.path / "reviews"
    reviews.mkdir()
    (reviews / "b-round1.yaml").write_text(textwrap.dedent("""
        reviewer: alice
        date: 2026-11-01
        examples:
          - {image: data/dark/red/000.png, verdict: correct}
    """))
    (reviews / "a-round2.yaml").write_text(textwrap.dedent("""
        reviewer: alice
        date: 2026-11-20
        examples:
          - {image: data/dark/red/000.png, verdict: incorrect}
    """))
    from pytest_edgecases.annotations import load_annotations
    from pytest_edgecases.suite import load_suite

    review = load_annotations(load_suite(suite, pytester.path))[("dark", "data/dark/red/000.png")]
    assert [(a.reviewer, a.verdict) for a in review.entries] == [("alice", "incorrect")]
    assert review.verdict == "incorrect" and not review.conflict


@pytest.mark.parametrize("later", ["' 2027-01-05'", "'20270105'", "2027-01-05 08:00:00"])
def test_review_rounds_sort_by_date_however_it_is_spelled(project, pytester, later):
    """A date with a space, in ISO basic form or as a timestamp is still later than 2026-12-31."""
    write_dedented(pytester.path, "reviews/a-later.yaml", f"""
        reviewer: alice
        date: {later}
        examples:
          - {{image: data/dark/red/000.png, verdict: incorrect}}
    """)
    write_dedented(pytester.path, "reviews/b-earlier.yaml", """
        reviewer: alice
        date: 2026-12-31
        examples:
          - {image: data/dark/red/000.png, verdict: correct}
    """)
    review = project()[("dark", "data/dark/red/000.png")]
    assert [(a.reviewer, a.verdict, a.date[:10]) for a in review.entries] == [("alice", "incorrect", "2027-01-05")]


@pytest.mark.parametrize("value", ["7", "'  '", "[alice]"])
def test_an_entrys_reviewer_must_be_a_name(project, pytester, value):
    """As the schema says: a name, or absent (then the file's reviewer); the error names the line."""
    write_dedented(pytester.path, "reviews/alice.yaml", f"""
        reviewer: alice
        examples:
          - image: data/dark/red/000.png
            verdict: correct
            reviewer: {value}
    """)
    with pytest.raises(EdgecasesError, match=r"reviews/alice.yaml:5: reviewer must be a name"):
        project()


def test_without_category_a_review_applies_to_the_images_real_category(tiny_project, pytester):
    """Synthetic levels show transformed pixels: a review of the original image names only its real category."""
    import textwrap

    from pytest_edgecases.annotations import load_annotations
    from pytest_edgecases.errors import EdgecasesError
    from pytest_edgecases.suite import load_suite

    suite = tiny_project(textwrap.dedent("""
        suite: colours
        labels: [red, blue]
        model: {factory: "tinymodel:build"}
        annotations: reviews/
        categories:
          - {name: clean, images: data/clean/}
          - {name: blurred, from: clean, transform: {gaussian_blur: {sigma: [1, 2]}}}
          - {name: grey, from: clean, transform: {brightness: 0.5}}
    """))
    reviews = pytester.path / "reviews"
    reviews.mkdir()
    (reviews / "r.yaml").write_text(textwrap.dedent("""
        reviewer: alice
        examples:
          - {image: data/clean/red/000.png, verdict: correct}
          - {image: data/clean/red/001.png, category: "blurred[sigma=2]", verdict: ambiguous}
    """))
    found = load_annotations(load_suite(suite, pytester.path))
    assert set(found) == {("clean", "data/clean/red/000.png"), ("blurred[sigma=2]", "data/clean/red/001.png")}

    # Two real categories holding the same image still need category:.
    suite.write_text(suite.read_text().replace("  - {name: grey,", "  - {name: again, images: data/clean/}\n  - {name: grey,"))
    with pytest.raises(EdgecasesError, match=r"r.yaml:4: image 'data/clean/red/000.png' is in several categories \(again, clean\)"):
        load_annotations(load_suite(suite, pytester.path))
