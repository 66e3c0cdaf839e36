"""The closed sets of words every module shares: severities and review statuses, declared once.

Both are ``StrEnum``s, so a member is also the plain string it names: YAML, JSON, CSV and the
HTML report read and write the words themselves, and comparisons with strings keep working.
"""
from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How bad a mistake on an example is; declared from least to most severe."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def most_severe_first(cls) -> tuple["Severity", ...]:
        """high, medium, low: the order tables and queues list them in."""
        return tuple(reversed(cls))


#: Severity words, least severe first (the order YAML errors list them in).
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)


class Status(StrEnum):
    """What one judged example is, in the order a reader cares about them."""

    REGRESSION = "regression"
    FAILURE = "failure"
    KNOWN_FAILURE = "known_failure"
    WAIVER_EXPIRED = "waiver_expired"
    WAIVED = "waived"
    ERROR = "error"
    FIXED = "fixed"
    AMBIGUOUS = "ambiguous"
    CORRECT = "correct"
