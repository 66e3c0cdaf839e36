"""terminal.py: a missed threshold in words."""
from __future__ import annotations

import pytest

from pytest_edgecases.records import Check
from pytest_edgecases.terminal import missed_phrase


@pytest.mark.parametrize("check, phrase", [
    (Check("min_accuracy", "79.6% (accuracy)", ">= 90.0%", False), "accuracy 79.6% < 90.0%"),
    (Check("min_accuracy", "70.1% (lower 95% bound)", ">= 80.0%", False), "accuracy's lower 95% bound 70.1% < 80.0%"),
    (Check("max_failures[high]", "10", "<= 3", False), "high failures 10 > 3"),
    (Check("max_failures[any]", "4", "<= 0", False), "failures 4 > 0"),
    (Check("min_examples", "3", ">= 5", False), "scored examples 3 < 5"),
    (Check("max_regressions", "1", "<= 0", False), "regressions 1 > 0"),
    (Check("max_group_gap", "25.0%", "<= 10.0%", False), "group gap 25.0% > 10.0%"),
    (Check("max_accuracy_drop", "6.0%", "<= 2.0%", False), "accuracy drop 6.0% > 2.0%"),
    (Check("scoring_errors", "2 example(s)", "0", False), "unscored examples 2 example(s) (limit 0)"),
])
def test_a_missed_threshold_in_words(check, phrase):
    assert missed_phrase(check) == phrase
