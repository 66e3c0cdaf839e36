"""agreement.py: reviewer agreement (Cohen's kappa for two reviewers, Fleiss' for more) over shared examples."""
from __future__ import annotations

import pytest

from pytest_edgecases.agreement import agreement
from pytest_edgecases.records import ExampleResult


def _voted(path: str, *votes: tuple[str, str]) -> ExampleResult:
    return ExampleResult(path=path, category="c", label="red", predicted="red", confidence=0.9, correct=True,
                         severity="medium", status="correct", counted=False, votes=[list(v) for v in votes])


def test_agreement_cohen_for_two_fleiss_for_more():
    two = [_voted(f"{i}.png", ("alice", a), ("bob", b)) for i, (a, b) in enumerate(zip("ccii", "ciii", strict=True))]
    found = agreement(two + [_voted("single.png", ("alice", "c"))])
    assert (found.method, found.kappa, found.n, found.words) == ("Cohen", 0.5, 4, "moderate")
    assert [c.image for c in found.conflicts] == ["1.png"]
    three = [_voted(f"{i}.png", ("alice", a), ("bob", b), ("carol", c))
             for i, (a, b, c) in enumerate(["ccc", "cci", "iii", "cia"])]
    found = agreement(three)
    assert found.method == "Fleiss" and found.kappa == pytest.approx(0.152778 / 0.569444, abs=1e-5)
    assert found.reviewers == ["alice", "bob", "carol"] and len(found.conflicts) == 2
    assert agreement([_voted("x.png", ("alice", "c"))]) is None


def test_agreement_counts_only_reviewers_who_overlap():
    # carol reviewed an example nobody else did: alice and bob are the only pair to agree or not.
    examples = [_voted(f"{i}.png", ("alice", a), ("bob", b)) for i, (a, b) in enumerate(zip("ccii", "ciii", strict=True))]
    found = agreement(examples + [_voted("solo.png", ("carol", "i"))])
    assert (found.method, found.kappa, found.reviewers) == ("Cohen", 0.5, ["alice", "bob"])
