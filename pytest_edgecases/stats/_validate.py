"""Argument checks shared by the statistics modules: a ValueError that says what a valid value is."""
from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable


def _count(name: str, value: object) -> int:
    # bool is an int subclass, but passing True/False as a count is always a
    # caller bug, so it is rejected along with floats such as 3.0.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    ivalue = int(value)
    if ivalue < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return ivalue


def _real(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in [{lo}, {hi}], got {value!r}")
    fvalue = float(value)
    # `not (lo <= x <= hi)` is also true for NaN, which is what we want.
    if not (lo <= fvalue <= hi):
        raise ValueError(f"{name} must be a real number in [{lo}, {hi}], got {value!r}")
    return fvalue


def _z(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"z must be a finite number > 0, got {value!r}")
    fvalue = float(value)
    if not (math.isfinite(fvalue) and fvalue > 0.0):
        raise ValueError(f"z must be a finite number > 0, got {value!r}")
    return fvalue


def _as_list(name: str, value: object, what: str) -> list:
    # Any finite iterable is accepted (list, tuple, numpy array...), but a bare
    # string is refused: it is an iterable of characters, and treating "abc"
    # as three items would silently produce nonsense.
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a sequence of {what}, got {value!r}")
    return list(value)


def _labels(name: str, value: object) -> list[Hashable]:
    items = _as_list(name, value, "labels (e.g. a list of str)")
    for i, item in enumerate(items):
        if not isinstance(item, Hashable):
            raise ValueError(f"{name}[{i}] must be a hashable label such as a str, got {item!r}")
    return items
