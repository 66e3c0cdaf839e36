"""What a category must meet to pass: the threshold keys of `defaults:` and of each category, merged.

A synthetic category with several levels may give min_accuracy and max_failures as one value per level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import did_you_mean
from .validate import Context, kind_of
from .vocabulary import SEVERITIES
from .yamlload import LocDict, LocList

GATES = ("point", "lower_bound")
THRESHOLD_KEYS = ("min_accuracy", "max_failures", "min_examples", "gate", "max_group_gap",
                  "max_regressions", "max_accuracy_drop", "max_new_failures")


@dataclass(frozen=True)
class Thresholds:
    """What a category must meet to pass; None means "not checked"."""

    min_accuracy: float | None = None
    max_failures: tuple[tuple[str, int], ...] = ()   # per severity; a level not named is unlimited
    min_examples: int = 1
    gate: str = "point"                              # "point" or "lower_bound" (Wilson 95%)
    max_group_gap: float | None = None
    max_regressions: int | None = None               # None: 0 once annotations exist, else unchecked
    max_accuracy_drop: float | None = None           # against a baseline
    max_new_failures: int | None = None              # against a baseline


def parse_thresholds(ctx: Context, layers: Sequence[LocDict], level_index: int | None, n_levels: int) -> Thresholds:
    """Merge threshold keys from defaults then category; per-level lists pick this level's value."""
    values: dict[str, Any] = {}
    failures: dict[str, int | None] = {}
    for layer in layers:
        for key in THRESHOLD_KEYS:
            if key not in layer:
                continue
            value, line = layer[key], layer.line_of(key)
            if isinstance(value, LocList) and key in ("min_accuracy", "max_failures"):
                if level_index is None or n_levels < 2:
                    raise ctx.error(f"{key} is a list, but only a synthetic category with several levels "
                                    "takes one value per level", line)
                if len(value) != n_levels:
                    raise ctx.error(f"{key} lists {len(value)} values for {n_levels} levels", line,
                                    hint="give one value per level, or a single value for all")
                value, line = value[level_index], value.line_of(level_index)
            if key == "max_failures":
                failures.update(_max_failures(ctx, value, line))
            elif value is None:
                values.pop(key, None)
            elif key in ("min_accuracy", "max_group_gap", "max_accuracy_drop"):
                values[key] = ctx.fraction(value, line, key)
            elif key == "gate":
                if value not in GATES:
                    raise ctx.error(f"gate must be one of {', '.join(GATES)}, got {kind_of(value)}", line)
                values[key] = value
            elif key == "min_examples":
                values[key] = ctx.count(value, line, key)
                if values[key] < 1:
                    raise ctx.error("min_examples must be at least 1", line)
            else:
                values[key] = ctx.count(value, line, key)
    limits = tuple(sorted((k, v) for k, v in failures.items() if v is not None))
    return Thresholds(max_failures=limits, **values)


def _max_failures(ctx: Context, value: Any, line: int) -> dict[str, int | None]:
    if isinstance(value, int) and not isinstance(value, bool):
        # A bare number limits every severity level together; stored under a pseudo-level.
        return {"any": ctx.count(value, line, "max_failures")}
    mapping = ctx.mapping(value, line, "max_failures")
    out: dict[str, int | None] = {}
    for key, count in mapping.items():
        if key not in SEVERITIES + ("any",):
            raise ctx.error(f"max_failures level '{key}' is not a severity{did_you_mean(str(key), SEVERITIES)}",
                            mapping.line_of(key), hint="use low, medium, high, or any (all levels together)")
        out[key] = None if count is None else ctx.count(count, mapping.line_of(key), f"max_failures.{key}")
    return out
