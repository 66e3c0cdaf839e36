"""Where errors concentrate: candidate slices, each tested exactly, the family held to an FDR.

A slice is a set of conditions on an example's columns (manifest metadata, image properties, the
model's confidence): `camera = dashcam_b`, `brightness in [0.05, 0.12)`, or a pair of them. Each
candidate is tested against the rest of its category (or suite) with Fisher's exact test, one-sided
(more errors inside); every candidate of a run forms one family, adjusted with Benjamini-Hochberg.
Advisory only: slices are reported, never gated on.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .stats.fdr import benjamini_hochberg, fisher_greater

#: A condition: a column equal to a value, or within [low, high) where None is unbounded.
Condition = tuple[str, Any]


@dataclass(frozen=True)
class SliceSettings:
    """How hard to look: support, FDR level, bins for numeric columns, whether to try pairs, and whether
    the images' properties are columns (off by default: on a large suite they cost a warm rerun more
    than the 5% slice discovery may take by default; docs/slices.md has the figures)."""

    q: float = 0.05
    min_support: int = 10
    min_fraction: float = 0.05
    bins: int = 4
    pairs: bool = True
    properties: bool = False


@dataclass(frozen=True)
class SliceInput:
    """One population to search: a category's examples (or a suite's, category None).

    ``errors[i]`` says whether example i is a mistake; ``columns[name][i]`` is its value (None when
    the example has none, e.g. a metadata column other categories' manifests lack). Columns come in
    order of preference: of two slices with the same examples and figures, the earlier column's is
    reported (a manifest's `camera = b` rather than the brightness its images happen to share).
    """

    suite: str
    category: str | None
    errors: Sequence[bool]
    columns: Mapping[str, Sequence[Any]]
    paths: Sequence[str] = ()


@dataclass(frozen=True)
class Slice:
    """A reported slice with its figures (the results file's `slices` entries)."""

    suite: str
    category: str | None
    where: dict[str, Any]     # column → value, or [low, high) with None unbounded
    n: int
    errors: int
    error_rate: float
    rest_error_rate: float
    p: float
    q: float
    examples: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        """The results file's form (examples are the report's, not the file's)."""
        return {"suite": self.suite, "category": self.category, "where": self.where, "n": self.n,
                "errors": self.errors, "error_rate": self.error_rate, "rest_error_rate": self.rest_error_rate,
                "p": self.p, "q": self.q}


@dataclass
class _Candidate:
    source: SliceInput
    conditions: tuple[Condition, ...]
    members: int         # a bitset: bit i set when example i is in the slice
    n: int               # how many are
    errors: int
    total_errors: int    # of the whole source: counted once per source, not per candidate
    p: float = 1.0
    q: float = 1.0


def find_slices(inputs: Sequence[SliceInput], settings: SliceSettings = SliceSettings()) -> list[Slice]:
    """Every slice whose q value is at most ``settings.q``, nested duplicates dropped, most significant first."""
    candidates = [c for source in inputs for c in _candidates(source, settings)]
    if not candidates:
        return []
    for c in candidates:
        n_out = len(c.source.errors) - c.n
        c.p = fisher_greater(c.errors, c.n, c.total_errors - c.errors, n_out)
    for c, q in zip(candidates, benjamini_hochberg([c.p for c in candidates], _weights(candidates)), strict=True):
        c.q = q
    found = [c for c in candidates if c.q <= settings.q]
    return [_to_slice(c) for c in _drop_nested(found, settings.q)]


def _weights(candidates: Sequence[_Candidate]) -> list[float]:
    """Single conditions and pairs each get half of the error budget (all of it when there are no pairs).

    Pairs outnumber single conditions by an order of magnitude; with equal weights they would
    dilute the budget until a plain `camera = dashcam_b` needed p < 0.05 / 500. The weights depend
    only on how many candidates of each kind there are, never on their errors, as weighted BH requires.
    """
    sizes: dict[int, int] = {}
    for c in candidates:
        sizes[len(c.conditions)] = sizes.get(len(c.conditions), 0) + 1
    share = len(candidates) / len(sizes)
    return [share / sizes[len(c.conditions)] for c in candidates]


def _candidates(source: SliceInput, settings: SliceSettings) -> list[_Candidate]:
    """Single conditions and pairs with enough support; membership as bitsets (Python ints), whose AND and
    bit count run in C: a 20,000-image suite has hundreds of pairs, each an intersection of thousands."""
    n = len(source.errors)
    least = max(settings.min_support, math.ceil(settings.min_fraction * n))
    wrong = int(bytes(map(bool, source.errors)).translate(_DIGITS[1])[::-1] or b"0", 2)
    total = wrong.bit_count()
    singles: list[_Candidate] = []
    for name in source.columns:
        for condition, members, count in _conditions(name, source.columns[name], settings.bins):
            if least <= count < n:
                singles.append(_Candidate(source, (condition,), members, count, (members & wrong).bit_count(), total))
    found = list(singles)
    if settings.pairs:
        for a, b in itertools.combinations(singles, 2):
            if a.conditions[0][0] == b.conditions[0][0]:
                continue   # two values of one column never overlap; two bins of one column neither
            members = a.members & b.members
            if members != a.members and members != b.members:
                pair = _candidate(source, a.conditions + b.conditions, members, wrong, total)
                if least <= pair.n < n:
                    found.append(pair)
    return found


def _candidate(source: SliceInput, conditions: tuple[Condition, ...], members: int, wrong: int,
               total: int) -> _Candidate:
    return _Candidate(source, conditions, members, members.bit_count(), (members & wrong).bit_count(), total)


def _bitset(indices: Iterable[int]) -> int:
    """The int whose bit i is set for each index (built as text: adding 1 << i per index is quadratic)."""
    listed = list(indices)
    if not listed:
        return 0
    digits = bytearray(b"0" * (max(listed) + 1))   # base-2 digits, lowest bit first; int() reads base 2 in linear time
    for i in listed:
        digits[i] = 49   # "1"
    digits.reverse()
    return int(digits, 2)


def _indices(bitset: int) -> list[int]:
    """The indices of a bitset's set bits, in order."""
    return [i for i, bit in enumerate(reversed(bin(bitset)[2:])) if bit == "1"]


def _conditions(name: str, values: Sequence[Any], bins: int) -> list[tuple[Condition, int, int]]:
    """The single conditions on one column, each with its members (a bitset) and their count."""
    numeric = _numeric_conditions(name, values, bins)
    if numeric is not None:
        return numeric
    return [(condition, _bitset(members), len(members)) for condition, members in _text_conditions(name, values, bins)]


def _numeric_conditions(name: str, values: Sequence[Any], bins: int) -> list[tuple[Condition, int, int]] | None:
    """``_text_conditions`` of a column of finite numbers with none missing (image properties, confidence),
    in loops that run in C; None for any other column, which takes the general path.

    Such columns hold tens of thousands of values on a large suite: element by element in Python
    their bins cost more than the rest of the search together (and numpy would cost its import, on a
    warm rerun that has not imported it). The same conditions with the same members: each example
    gets one byte, the number of its bin (``bisect_right`` on the edges: v in [low, high)) or of its
    value (four or fewer: each as first seen, ordered as the general path orders them), and a
    condition's bitset is that byte string translated to binary digits.
    """
    if not values or bins > 255 or not set(map(type, values)) <= _NUMERIC or not all(map(math.isfinite, values)):
        return None   # labels are bytes; text, booleans, a missing value, NaN or infinity: the general path
    ordered = sorted(values)
    if next(itertools.islice(itertools.groupby(ordered), bins, None), None) is not None:   # over `bins` values
        m = len(ordered)
        edges = sorted({_round(ordered[(m * k) // bins]) for k in range(1, bins)})
        labels = bytes(map(functools.partial(bisect.bisect_right, edges), values))
        conditions: list[Condition] = [(name, [low, high]) for low, high in itertools.pairwise([None, *edges, None])]
    else:
        by_text = sorted(dict.fromkeys(values), key=str)   # each value as first seen (1 and 1.0 are one)
        label_of = {value: i for i, value in enumerate(by_text)}
        labels = bytes(map(label_of.__getitem__, values))
        conditions = [(name, value) for value in by_text]
    found = []
    for label, condition in enumerate(conditions):
        count = labels.count(label)
        if count:
            found.append((condition, int(labels.translate(_DIGITS[label])[::-1], 2), count))
    return found


#: The value types a column may hold to take the numeric path (bool is not among them: it is a category).
_NUMERIC = {float, int}
#: For each label byte, the table that turns a label string into binary digits: "1" where it is that label.
_DIGITS = [bytes(49 if i == label else 48 for i in range(256)) for label in range(256)]


def _text_conditions(name: str, values: Sequence[Any], bins: int) -> list[tuple[Condition, list[int]]]:
    """The single conditions on one column: each value, or quantile bins when it is numeric."""
    present = [i for i, v in enumerate(values) if v is not None and v != ""]
    kept = [values[i] for i in present]
    if len(set(kept)) > bins:   # else value by value, whatever they are (a constant column: one, or none)
        numbers = _numbers(kept)
        if numbers is not None and len(set(numbers)) > bins:
            return _bins(name, present, numbers, bins)
    by_value: dict[Any, list[int]] = {}
    for i in present:
        by_value.setdefault(values[i], []).append(i)
    return [((name, v), m) for v, m in sorted(by_value.items(), key=lambda kv: str(kv[0]))]


def _numbers(values: list[Any]) -> list[float] | None:
    """Every value as a finite number, or None as soon as one is not one (a text column stops at its first)."""
    if all(type(v) is float for v in values):   # image properties, confidence: no conversion to make
        return values if all(map(math.isfinite, values)) else None
    out = []
    for value in values:
        number = _number(value)
        if number is None:
            return None
        out.append(number)
    return out


def _bins(name: str, present: list[int], numbers: list[float], bins: int) -> list[tuple[Condition, list[int]]]:
    """Quantile bins [low, high), the first unbounded below and the last above, on distinct edges
    (``numbers[j]`` is example ``present[j]``'s value)."""
    order = sorted(range(len(numbers)), key=numbers.__getitem__)
    ordered = [numbers[j] for j in order]
    # Edges rounded before use, so that the condition shown (and promoted into a `where:`) selects
    # exactly the examples that were tested.
    edges = sorted({_round(ordered[(len(ordered) * k) // bins]) for k in range(1, bins)})
    found = []
    for low, high in itertools.pairwise([None, *edges, None]):
        start = 0 if low is None else bisect.bisect_left(ordered, low)
        stop = len(ordered) if high is None else bisect.bisect_left(ordered, high)
        if start < stop:
            found.append(((name, [low, high]), [present[order[j]] for j in range(start, stop)]))
    return found


def _drop_nested(found: list[_Candidate], alpha: float) -> list[_Candidate]:
    """Keep a slice nested in a kept one only if its error rate is significantly higher than the rest of that one.

    Simpler slices are considered first (fewer conditions, then smaller q), so `camera = b` is
    kept and `camera = b and brightness < 0.1` only if it singles out something worse still.
    """
    kept: list[_Candidate] = []
    for c in sorted(found, key=lambda c: (len(c.conditions), c.q, -c.n)):
        parents = [k for k in kept if k.source is c.source and c.members | k.members == k.members]
        if any(not _worse_than_rest_of(c, parent, alpha) for parent in parents):
            continue
        kept.append(c)
    return sorted(kept, key=lambda c: (c.q, c.p, len(c.conditions)))


def _worse_than_rest_of(child: _Candidate, parent: _Candidate, alpha: float) -> bool:
    rest = parent.n - child.n
    if not rest:
        return False
    rest_errors = parent.errors - child.errors
    return fisher_greater(child.errors, child.n, rest_errors, rest) <= alpha


def _to_slice(c: _Candidate) -> Slice:
    n_rest = len(c.source.errors) - c.n
    rest_errors = c.total_errors - c.errors
    examples = tuple(c.source.paths[i] for i in _indices(c.members)) if c.source.paths else ()
    return Slice(suite=c.source.suite, category=c.source.category, where=dict(c.conditions), n=c.n,
                 errors=c.errors, error_rate=c.errors / c.n,
                 rest_error_rate=rest_errors / n_rest if n_rest else 0.0, p=c.p, q=c.q, examples=examples)


def _number(value: Any) -> float | None:
    """A finite number, also from a manifest's text ("35", "0.12"); None for anything else."""
    kind = type(value)
    if kind is float:   # image properties and confidence: the common case, without the ABC checks below
        return value if math.isfinite(value) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _round(value: float) -> float:
    """Bin edges as a reader would write them: 4 significant digits."""
    return float(f"{value:.4g}")
