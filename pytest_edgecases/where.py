"""`where:` on a category: keep only the examples whose manifest columns, or image properties, match.

It is how a slice that slice discovery found (docs/slices.md) becomes a category of its own:
`where: {camera: dashcam_b}`. A condition is a value (`camera: dashcam_b`), a list of values
(`camera: [dashcam_a, dashcam_b]`), or a numeric range written as two numbers, either of them
null for "unbounded": `lux: [null, 20]` keeps lux < 20; a range includes its low end, not its high end, the
same half-open bins slice discovery reports.

A condition on an image property (prediction.PROPERTIES: `brightness: [null, 0.2]`) cannot be met while
the suite is read: the image must be decoded first. ``apply_where`` checks it and hands it back, and
the session applies it when the run has the properties (``keep_by_properties``), before judging. A
manifest column with a property's name is the manifest's: the user's data wins.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from .errors import did_you_mean
from .examples import Example
from .prediction import PROPERTIES, ImageProperties
from .validate import Context, kind_of
from .yamlload import LocDict, LocList


@dataclass(frozen=True)
class Condition:
    """One column's condition: ``values`` to equal, or a ``low``/``high`` range (None: unbounded)."""

    column: str
    line: int
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def is_range(self) -> bool:
        return not self.values

    def matches(self, text: str) -> bool:
        """Whether a manifest cell (text) meets the condition; a range needs a number (checked before)."""
        if not self.is_range:
            return text in self.values
        return self.holds(float(text))

    def holds(self, number: float) -> bool:
        """Whether a number (an image property, a parsed manifest cell) meets the condition."""
        if not self.is_range:
            return any(number == float(value) for value in self.values)
        return (self.low is None or number >= self.low) and (self.high is None or number < self.high)


def parse_where(ctx: Context, raw: Any, line: int) -> tuple[Condition, ...]:
    """The `where:` mapping → conditions, or a clear error at the offending line."""
    hint = "where: {camera: dashcam_b}, {camera: [a, b]} or a numeric range {brightness: [null, 0.2]}"
    if not isinstance(raw, LocDict) or not raw:
        raise ctx.error(f"where: must be a mapping of manifest column (or image property) to value, got "
                        f"{kind_of(raw)}", line, hint=hint)
    conditions = []
    for column, value in raw.items():
        at = raw.line_of(column)
        if isinstance(value, LocList):
            conditions.append(_from_list(ctx, str(column), value, at, hint))
        elif _is_scalar(value):
            conditions.append(Condition(str(column), at, values=(_text(value),)))
        else:
            raise ctx.error(f"where: {column}: must be a value, a list of values or a range, got {kind_of(value)}",
                            at, hint=hint)
    return tuple(conditions)


def _from_list(ctx: Context, column: str, value: LocList, line: int, hint: str) -> Condition:
    if not value:
        raise ctx.error(f"where: {column}: an empty list matches nothing", line, hint=hint)
    if len(value) == 2 and all(v is None or _is_number(v) for v in value) and value != [None, None]:
        low, high = (None if v is None else float(v) for v in value)
        if low is not None and high is not None and low >= high:
            raise ctx.error(f"where: {column}: the range [{value[0]}, {value[1]}] is empty (low must be below high)",
                            line, hint="a range is [low, high): low included, high not; null for unbounded")
        return Condition(column, line, low=low, high=high)
    for index, item in enumerate(value):
        if not _is_scalar(item):
            raise ctx.error(f"where: {column}: each value must be text or a number, got {kind_of(item)}",
                            value.line_of(index), hint=hint)
    return Condition(column, line, values=tuple(_text(v) for v in value))


def apply_where(ctx: Context, conditions: tuple[Condition, ...], examples: tuple[Example, ...],
                name: str) -> tuple[tuple[Example, ...], tuple[Condition, ...]]:
    """The examples meeting every manifest condition, and the conditions on image properties left for later.

    An unknown column, a non-number in a range or on a property, or no match is an error.
    """
    columns = sorted({key for e in examples for key, _ in e.metadata})
    later = tuple(c for c in conditions if c.column not in columns and c.column in PROPERTIES)
    now = tuple(c for c in conditions if c not in later)
    for cond in later:
        bad = [v for v in cond.values if not _parses(v) or v == ""]
        if bad:
            raise ctx.error(f"where: {cond.column} is an image property, a number: {bad[0]!r} is not one", cond.line,
                            hint=f"a range such as {{{cond.column}: [null, 0.2]}}, or numbers")
    for cond in now:
        if cond.column not in columns:
            known = f"; its columns: {', '.join(columns)}" if columns else "; it has no metadata columns"
            raise ctx.error(f"where: '{cond.column}' is not a manifest column or an image property of category "
                            f"'{name}'{did_you_mean(cond.column, [*columns, *PROPERTIES])}{known}", cond.line,
                            hint=f"where: filters on a manifest's metadata columns or on the image properties "
                                 f"{', '.join(PROPERTIES)} (docs/slices.md)")
        if cond.is_range:
            for e in examples:
                text = e.meta(cond.column)
                if text is not None and not _parses(text):
                    at = f"{e.path}, manifest line {e.line}" if e.line else e.path
                    raise ctx.error(f"where: {cond.column}: a range needs numbers, but {at} has {text!r}",
                                    cond.line, hint="use a value or a list of values for a text column")
    if not now:
        return examples, later
    kept = tuple(e for e in examples
                 if all((text := e.meta(c.column)) not in (None, "") and c.matches(text) for c in now))
    if not kept:
        raise ctx.error(f"where: selects none of category '{name}''s {len(examples)} examples", now[0].line,
                        hint="check the values against the manifest (matching is exact, case included)")
    return kept, later


def keep_by_properties(conditions: tuple[Condition, ...], examples: tuple[Example, ...],
                       properties: Callable[[Example], ImageProperties | None]) -> tuple[Example, ...]:
    """The examples whose image properties meet every condition, and those without properties.

    An image has none when it cannot be read or transformed: its prediction is an error, and the category
    must be judged with it (its `scoring_errors` check fails), as without a `where:`. Dropping it would let
    a corrupt file turn a gating category green.
    """
    kept = []
    for e in examples:
        props = properties(e)
        if props is None or all(c.holds(getattr(props, c.column)) for c in conditions):
            kept.append(e)
    return tuple(kept)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


def _text(value: Any) -> str:
    """A YAML scalar as the manifest would hold it: 35 → '35', true → 'true'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parses(text: str) -> bool:
    if text == "":
        return True   # an empty cell is "no value": never matched, not an error
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
