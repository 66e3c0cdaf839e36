"""The judged values that flow from verdicts to reports, results files and baselines (what a model
said of each image, before judging, is prediction.py's).

Plain dataclasses with a JSON form: under pytest-xdist a worker's results cross to the
controller as dicts, and the results file / baseline / report all read the same dicts.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any, Mapping

from .vocabulary import Severity, Status

#: A top-1/top-2 margin under this makes a prediction "unstable": its flip may be numeric noise.
UNSTABLE_MARGIN = 0.02
#: Each severity's place in vocabulary's order, most severe first (tables and queues sort by it).
_SEVERITY_RANK = {s.value: n for n, s in enumerate(Severity.most_severe_first())}
#: Status and severity words back to their members (a word a later version added stays a plain str).
_STATUSES: dict[str, str] = {s.value: s for s in Status}
SEVERITY_OF: dict[str, Severity] = {s.value: s for s in Severity}


def severity_rank(severity: str) -> int:
    """0 for the most severe; a word that is no severity sorts after every one that is."""
    return _SEVERITY_RANK.get(severity, len(_SEVERITY_RANK))


@dataclass
class Saliency:
    """Where the model looked, for one target class (docs/explain.md): the attribution map pooled to a
    GRID×GRID grid of cells, row by row from the top left, non-negative and summing to 1.

    Small on purpose: tools read it from the results file without images, and the report draws its
    heat maps from the very same numbers.
    """

    method: str                       # explain_spec.Method's value
    target: str                       # the label the map is for
    grid: list[list[float]]

    @classmethod
    def from_json(cls, data: Any) -> "Saliency | None":
        """The JSON form back (None for anything else: a results file anyone could have edited)."""
        if isinstance(data, Saliency) or data is None:
            return data
        if not isinstance(data, Mapping) or not isinstance(data.get("grid"), list):
            return None
        grid = [[float(v) for v in row] for row in data["grid"] if isinstance(row, list)]
        return cls(method=str(data.get("method", "")), target=str(data.get("target", "")), grid=grid)


class _NoValues(dict):   # type: ignore[type-arg]
    """An empty dict that stays empty: shared by every result without metadata or properties, no result
    can change another's. A dict still (JSON, pickle, copies, plugins' isinstance checks), one object.

    What would add to it raises TypeError; what an empty dict does without adding (get, pop with a
    default, clear) it does. Made again with contents (``dataclasses.asdict`` does that), it is a
    plain dict. ``dict.update(NO_VALUES, …)`` called on the class itself is not guarded.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if _made:
            return dict(*args, **kwargs)
        return super().__new__(cls)

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("this example result has no metadata or properties: the empty mapping is shared")

    __setitem__ = setdefault = _refuse   # type: ignore[assignment]

    def update(self, *args: Any, **kwargs: Any) -> None:
        if any(args) or kwargs:
            self._refuse()

    def __ior__(self, other: Any) -> "_NoValues":
        self.update(other)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return _no_values, ()

    def __copy__(self) -> "_NoValues":
        return self

    def __deepcopy__(self, memo: Any) -> "_NoValues":
        return self


def _no_values() -> "_NoValues":
    return NO_VALUES


_made = False
#: The metadata and properties of every example result that has none, shared. With lists and dicts of
#: its own, each result made five empty containers.
NO_VALUES: Mapping[str, Any] = _NoValues()
_made = True


# slots: every judged example lives until the outputs are written (no per-instance __dict__); still
# weak-referenceable, as a __dict__ class is (plugins and tests watch results that way). Sequences are
# tuples, for the same reason: a 100,000-image run keeps one result per image until the end.
@dataclass(slots=True, weakref_slot=True)
class ExampleResult:
    """One example judged: what was expected, what the model said, and what the review expected.

    ``top``, ``reviewers``, ``accept`` and ``votes`` are tuples here and lists in the dict form
    (``to_dict``), as results files have always held them.
    """

    path: str
    category: str
    label: str
    predicted: str | None
    confidence: float | None
    correct: bool | None              # None: not scored (corrupt image, model error)
    severity: Severity
    status: Status
    counted: bool                     # counts against max_failures
    top: tuple[tuple[str, float], ...] = ()   # ((label, probability), …) best first
    margin: float | None = None
    sha256: str = ""
    level: str = ""                   # synthetic level id, "" for real images
    metadata: Mapping[str, str] = field(default_factory=dict)   # NO_VALUES from the judge, where none
    reviewed: bool = False
    verdict: str | None = None        # the reviewers' consensus verdict
    reviewers: tuple[str, ...] = ()
    comment: str = ""
    waiver: dict[str, str] | None = None
    stale: bool = False
    conflict: bool = False
    error: str | None = None
    accept: tuple[str, ...] = ()
    votes: tuple[tuple[str, str], ...] = ()   # ((reviewer, verdict), …) for agreement
    properties: Mapping[str, float] = field(default_factory=dict)   # to_json(); NO_VALUES from the judge where none
    saliency: Saliency | None = None            # for the predicted label (--edgecases-explain, shown examples)
    saliency_expected: Saliency | None = None   # for the expected label, where it is another

    @property
    def unstable(self) -> bool:
        """True when top-1 and top-2 are so close that a flip may be numeric noise."""
        return self.margin is not None and self.margin < UNSTABLE_MARGIN

    @property
    def is_failure(self) -> bool:
        """Wrong and scored (ambiguous and unreadable examples are not failures)."""
        return self.correct is False and self.status != Status.AMBIGUOUS

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the saliency keys only where the example was explained); sequences as lists."""
        data = _plain(self)
        for name in ("saliency", "saliency_expected"):
            if data[name] is None:
                del data[name]
        for name in ("top", "votes"):
            data[name] = [list(pair) for pair in data[name]]
        for name in ("reviewers", "accept"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExampleResult":
        """Inverse of to_dict (ignores keys it does not know, for forward compatibility)."""
        values = _known(cls, data)
        for name, members in (("severity", SEVERITY_OF), ("status", _STATUSES)):
            if isinstance(values.get(name), str):
                values[name] = members.get(values[name], values[name])
        for name in ("top", "votes"):
            if isinstance(values.get(name), list):
                values[name] = tuple(tuple(pair) if isinstance(pair, list) else pair for pair in values[name])
        for name in ("reviewers", "accept"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        for name in ("saliency", "saliency_expected"):
            if name in values:
                values[name] = Saliency.from_json(values[name])
        return cls(**values)


@dataclass
class Check:
    """One threshold: what was measured, the limit, and whether it held."""

    name: str
    measured: str
    limit: str
    passed: bool
    detail: str = ""


@dataclass
class GroupFigures:
    """Accuracy of the scored examples sharing one value of the category's ``group_by`` column."""

    n: int
    correct: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass
class Conflict:
    """An example whose reviewers gave different verdicts."""

    image: str
    category: str
    votes: list[list[str]]            # [[reviewer, verdict], …]
    comment: str


@dataclass
class Agreement:
    """How far reviewers agree on the examples two or more of them reviewed (agreement.agreement)."""

    method: str                       # "Cohen" for two reviewers, "Fleiss" for more
    kappa: float | None
    n: int                            # examples the kappa is over
    reviewers: list[str]
    conflicts: list[Conflict]
    words: str                        # Landis & Koch's word for the kappa

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (the form results files hold)."""
        return _plain(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Agreement":
        """Inverse of the JSON form (the dataclass's fields as keys)."""
        conflicts = [Conflict(**_known(Conflict, c)) for c in data.get("conflicts", [])]
        return cls(**{**_known(cls, data), "conflicts": conflicts})


@dataclass
class BaselineComparison:
    """A category paired with the baseline's examples (baseline.compare; see docs/baselines.md).

    ``p_holm`` and ``significant`` stay None until baseline.apply_holm has every category's p-value.
    """

    baseline_file: str = ""           # the baseline as shown in messages
    n_paired: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0                  # same path, different bytes: not paired
    unscored: int = 0                 # ambiguous or unreadable in one of the runs: not paired
    newly_wrong: list[str] = field(default_factory=list)
    newly_right: list[str] = field(default_factory=list)
    unstable_flips: list[str] = field(default_factory=list)
    answer_changed: list[str] = field(default_factory=list)   # top-1 differs from the baseline's, right or wrong
    right_to_wrong: int = 0
    wrong_to_right: int = 0
    delta: float | None = None        # paired accuracy change, now minus baseline
    lo: float | None = None
    hi: float | None = None
    p_value: float | None = None      # McNemar's exact test
    p_holm: float | None = None
    significant: bool | None = None
    baseline_accuracy: float | None = None
    baseline_ci: list[float] | None = None
    accuracy: float | None = None
    ci: list[float] | None = None
    notes: list[str] = field(default_factory=list)
    run_changes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (the form results files hold)."""
        return _plain(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "BaselineComparison":
        """Inverse of the JSON form (the dataclass's fields as keys; a missing one takes its default)."""
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RunInfo:
    """What produced a suite's predictions: model fingerprint, device, precision, versions, counts.

    Every field is optional: a category that could not be judged knows nothing of its run, and
    a results file keeps only what was known. The JSON form leaves out what is not known.
    """

    model: str | None = None          # the model's fingerprint, shortened
    device: str | None = None
    precision: str | None = None
    versions: dict[str, str] | None = None
    preprocess: str | None = None
    preprocess_source: str | None = None   # a custom preprocess callable's module source, digested (shortened)
    images: int | None = None
    inferred: int | None = None
    cached: int | None = None
    from_files: int | None = None     # read from predictions files (--edgecases-predictions)
    seconds: float | None = None
    python: str | None = None
    date: str | None = None           # when inference ran, ISO format

    @property
    def known(self) -> bool:
        """Whether anything at all is known about the run."""
        return any(getattr(self, name) is not None for name in _field_names(type(self)))

    def to_json(self) -> dict[str, Any]:
        """The known facts as a JSON-safe dict, in field order."""
        return {name: _plain(value) for name in _field_names(type(self))
                if (value := getattr(self, name)) is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "RunInfo":
        """From the dict a session records per suite (or a results file holds); unknown keys are ignored."""
        return cls(**_known(cls, data or {}))


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
    groups: dict[str, GroupFigures] = field(default_factory=dict)   # group_by value -> its figures
    group_by: str | None = None
    labels: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    error: str | None = None          # why the category could not be judged at all
    agreement: Agreement | None = None   # None: no two reviewers overlap
    baseline: BaselineComparison | None = None   # None: not compared with a baseline
    run: RunInfo = field(default_factory=RunInfo)
    index: int = 0                    # position in its suite, so reports keep the declared order

    def failures(self) -> list[ExampleResult]:
        """Scored wrong answers, worst first: high severity, then confident mistakes."""
        wrong = [e for e in self.examples if e.is_failure or e.status == Status.ERROR]
        return sorted(wrong, key=lambda e: (e.status != Status.ERROR, severity_rank(e.severity),
                                            -(e.confidence or 0.0), e.path))

    def to_dict(self, examples: bool = True) -> dict[str, Any]:
        """JSON-safe dict (crosses from xdist workers to the controller); without the examples' list if asked.

        An absent agreement or baseline is written as ``{}``, as results files always held it.
        """
        out = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if name == "examples":
                out[name] = [e.to_dict() for e in value] if examples else []
            elif value is None and name in ("agreement", "baseline"):
                out[name] = {}
            else:
                out[name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CategoryResult":
        """Inverse of to_dict."""
        values = _known(cls, data)
        values["checks"] = [Check(**c) for c in data.get("checks", [])]
        values["examples"] = [ExampleResult.from_dict(e) for e in data.get("examples", [])]
        values["groups"] = {name: GroupFigures(**_known(GroupFigures, v))
                            for name, v in (data.get("groups") or {}).items()}
        values["agreement"] = Agreement.from_json(data["agreement"]) if data.get("agreement") else None
        values["baseline"] = BaselineComparison.from_json(data["baseline"]) if data.get("baseline") else None
        values["run"] = RunInfo.from_json(data.get("run"))
        return cls(**values)


_ATOMS = frozenset({str, int, float, bool, type(None)})


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of data that name a field of cls (a file from a later version may hold more)."""
    names = _field_set(cls)
    return {k: v for k, v in data.items() if k in names}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _field_set(cls: type) -> frozenset[str]:
    return frozenset(_field_names(cls))


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
    if kind is _NoValues:
        return {}
    if isinstance(value, Enum):   # Status, Severity: the word itself (xdist's transport knows no enums)
        return value.value
    if kind is RunInfo:
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(kind)}
    return copy.deepcopy(value)
