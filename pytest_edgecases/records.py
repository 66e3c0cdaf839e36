"""The values that flow from inference to verdicts, reports and baselines.

Plain dataclasses with a JSON form: under pytest-xdist a worker's results cross to the
controller as dicts, and the results file / baseline / report all read the same dicts.
"""
from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

#: Review statuses of one example, in the order a reader cares about them.
STATUSES = ("regression", "failure", "known_failure", "waiver_expired", "waived", "error", "fixed",
            "ambiguous", "correct")
#: A top-1/top-2 margin under this makes a prediction "unstable": its flip may be numeric noise.
UNSTABLE_MARGIN = 0.02


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one (image, transform): top-k (label index, probability), best first."""

    top: tuple[tuple[int, float], ...] = ()
    error: str | None = None

    @property
    def index(self) -> int | None:
        """Predicted label index, or None when the example could not be scored."""
        return self.top[0][0] if self.top and self.error is None else None

    @property
    def confidence(self) -> float | None:
        """Softmax probability of the predicted label."""
        return self.top[0][1] if self.top and self.error is None else None

    @property
    def margin(self) -> float | None:
        """Top-1 minus top-2 probability; tiny margins mean a flip could be numeric noise."""
        if self.error is not None or not self.top:
            return None
        return self.top[0][1] - (self.top[1][1] if len(self.top) > 1 else 0.0)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (for the cache)."""
        return {"top": [[i, p] for i, p in self.top], "error": self.error}

    @classmethod
    def from_json(cls, data: Any) -> "Prediction":
        """Inverse of to_json; raises ValueError on anything malformed (callers recompute then)."""
        if not isinstance(data, dict) or not isinstance(data.get("top"), list):
            raise ValueError("malformed prediction")
        top = []
        for pair in data["top"]:
            index, prob = pair
            if not isinstance(index, int) or not isinstance(prob, float) or not math.isfinite(prob):
                raise ValueError("malformed prediction entry")
            top.append((index, prob))
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            raise ValueError("malformed prediction error")
        if not top and error is None:
            raise ValueError("empty prediction")
        return cls(top=tuple(top), error=error)


@dataclass
class ExampleResult:
    """One example judged: what was expected, what the model said, and what the review expected."""

    path: str
    category: str
    label: str
    predicted: str | None
    confidence: float | None
    correct: bool | None              # None: not scored (corrupt image, model error)
    severity: str
    status: str                       # one of STATUSES
    counted: bool                     # counts against max_failures
    top: list[list[Any]] = field(default_factory=list)   # [[label, probability], …] best first
    margin: float | None = None
    sha256: str = ""
    level: str = ""                   # synthetic level id, "" for real images
    metadata: dict[str, str] = field(default_factory=dict)
    reviewed: bool = False
    verdict: str | None = None        # the reviewers' consensus verdict
    reviewers: list[str] = field(default_factory=list)
    comment: str = ""
    waiver: dict[str, str] | None = None
    stale: bool = False
    conflict: bool = False
    error: str | None = None
    accept: list[str] = field(default_factory=list)
    votes: list[list[str]] = field(default_factory=list)   # [[reviewer, verdict], …] for agreement

    @property
    def unstable(self) -> bool:
        """True when top-1 and top-2 are so close that a flip may be numeric noise."""
        return self.margin is not None and self.margin < UNSTABLE_MARGIN

    @property
    def is_failure(self) -> bool:
        """Wrong and scored (ambiguous and unreadable examples are not failures)."""
        return self.correct is False and self.status != "ambiguous"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExampleResult":
        """Inverse of to_dict (ignores keys it does not know, for forward compatibility)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Check:
    """One threshold: what was measured, the limit, and whether it held."""

    name: str
    measured: str
    limit: str
    passed: bool
    detail: str = ""


@dataclass
class CategoryResult:
    """A category judged: figures, checks and every example's result."""

    suite: str
    suite_file: str
    category: str                     # test name, e.g. "snow[area=0.1]"
    base: str                         # category name without the level
    level: str
    description: str
    passed: bool
    n_examples: int
    n_scored: int
    n_correct: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    failures_by_severity: dict[str, int]
    regressions: int
    fixed: int
    checks: list[Check]
    examples: list[ExampleResult]
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)   # group -> {n, correct, accuracy}
    group_by: str | None = None
    labels: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    error: str | None = None          # why the category could not be judged at all
    agreement: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)   # model fingerprint, device, precision, versions
    index: int = 0                    # position in its suite, so reports keep the declared order

    def failures(self) -> list[ExampleResult]:
        """Scored wrong answers, worst first: high severity, then confident mistakes."""
        rank = {"high": 0, "medium": 1, "low": 2}
        wrong = [e for e in self.examples if e.is_failure or e.status == "error"]
        return sorted(wrong, key=lambda e: (e.status != "error", rank.get(e.severity, 3),
                                            -(e.confidence or 0.0), e.path))

    def to_dict(self, examples: bool = True) -> dict[str, Any]:
        """JSON-safe dict (crosses from xdist workers to the controller); without the examples' list if asked."""
        if examples:
            return _plain(self)
        return {name: [] if name == "examples" else _plain(getattr(self, name)) for name in _field_names(type(self))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CategoryResult":
        """Inverse of to_dict."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["checks"] = [Check(**c) for c in data.get("checks", [])]
        values["examples"] = [ExampleResult.from_dict(e) for e in data.get("examples", [])]
        return cls(**values)


_ATOMS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(value: Any) -> Any:
    """What dataclasses.asdict returns (a deep copy, dataclasses as dicts), several times faster
    for the types results hold: a run of 20,000 examples converts them once per category."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is list:
        return [_plain(v) for v in value]
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is tuple:
        return tuple(_plain(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(kind)}
    return copy.deepcopy(value)
