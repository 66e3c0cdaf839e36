"""Confidence intervals for accuracies: Wilson's for one proportion, Newcombe's for a paired change."""
from __future__ import annotations

import math

from ._validate import _count, _z

#: Two-sided 95% standard-normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054


# --------------------------------------------------------------------------
# Wilson score interval
# --------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for successes/n (95% by default); (0.0, 1.0) when n == 0."""
    n = _count("n", n)
    successes = _count("successes", successes)
    if successes > n:
        raise ValueError(f"successes must be an integer in [0, n={n}], got {successes}")
    z = _z(z)
    if n == 0:
        # No information at all: the whole unit interval is plausible.
        return (0.0, 1.0)
    z2 = z * z
    centre = (successes + z2 / 2.0) / (n + z2)
    half = z * math.sqrt(successes * (n - successes) / n + z2 / 4.0) / (n + z2)
    # At the boundaries the exact limits are 0 and 1; computing them as
    # centre -/+ half can leave rounding residue (0.9999999999999999 for
    # 29/29), so pin them.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


# --------------------------------------------------------------------------
# paired difference of proportions
# --------------------------------------------------------------------------


def paired_difference_interval(
    both: int,
    only_new: int,
    only_old: int,
    neither: int,
    z: float = Z_95,
) -> tuple[float, float, float]:
    """(delta, lo, hi) for new-minus-old paired accuracy, Newcombe (1998) method 10; (0.0, -1.0, 1.0) if n == 0."""
    a = _count("both", both)
    b = _count("only_new", only_new)
    c = _count("only_old", only_old)
    d = _count("neither", neither)
    z = _z(z)
    n = a + b + c + d
    if n == 0:
        return (0.0, -1.0, 1.0)
    # "first" proportion = new run, "second" = old run, so delta > 0 means the
    # new model is more accurate.
    p1 = (a + b) / n
    p2 = (a + c) / n
    delta = (b - c) / n
    l1, u1 = wilson_interval(a + b, n, z)
    l2, u2 = wilson_interval(a + c, n, z)
    # phi: correlation between the two outcomes, with Newcombe's correction
    # (ad - bc reduced by n/2 when positive, set to 0 if that crosses 0);
    # taken as 0 when any margin is empty (the correlation is undefined).
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        phi = 0.0
    else:
        cross = a * d - b * c
        if cross > n / 2:
            corrected = cross - n / 2
        elif cross >= 0:
            corrected = 0.0
        else:
            corrected = float(cross)
        phi = corrected / math.sqrt(margins)
    dl2 = (p1 - l1) ** 2 - 2.0 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    du2 = (u1 - p1) ** 2 - 2.0 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    # |phi| <= 1 makes both non-negative and the limits lie within [-1, 1]
    # mathematically; the clamps only absorb rounding.
    lo = max(-1.0, delta - math.sqrt(max(0.0, dl2)))
    hi = min(1.0, delta + math.sqrt(max(0.0, du2)))
    return (delta, lo, hi)
