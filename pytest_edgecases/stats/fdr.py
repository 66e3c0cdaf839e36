"""Exact one-sided tests and false-discovery-rate control for slice discovery, standard library only.

Slice discovery tests many candidate slices at once; reporting each with p < 0.05 would flood a
suite with false findings (the top complaint about automatic slice finders). Each candidate gets an
exact one-sided test, and the whole family is then held to a false-discovery rate with
Benjamini-Hochberg, so that on average at most a fraction q of the reported slices are flukes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(errors_in: int, n_in: int, errors_out: int, n_out: int) -> float:
    """One-sided Fisher exact p: are errors more frequent inside (n_in examples) than outside?

    Under the null hypothesis the inside error count is hypergeometric given the margins; the p
    value is P(X >= errors_in). Summed from the observed count outwards in log space, stopping
    once terms no longer change the sum, so a slice of a 100,000-example suite costs microseconds.
    """
    if not (0 <= errors_in <= n_in and 0 <= errors_out <= n_out):
        raise ValueError("error counts must lie between 0 and their slice sizes")
    total, errors = n_in + n_out, errors_in + errors_out
    hi = min(errors, n_in)
    lo = max(0, n_in - (total - errors))
    if errors_in <= lo:
        return 1.0
    base = _log_choose(total, n_in)

    def pmf(x: int) -> float:
        return math.exp(_log_choose(errors, x) + _log_choose(total - errors, n_in - x) - base)

    mode = (n_in + 1) * (errors + 1) // (total + 2)
    if errors_in > mode:   # the upper tail is the small side: sum it directly
        return min(1.0, _sum_from(pmf(errors_in), errors_in, hi, +1, errors, n_in, total))
    return max(0.0, 1.0 - _sum_from(pmf(errors_in - 1), errors_in - 1, lo, -1, errors, n_in, total))


def _sum_from(first: float, start: int, stop: int, step: int, errors: int, n_in: int, total: int) -> float:
    """pmf(start) + pmf(start + step) + … up to stop (``first`` is pmf(start)), stopping early once the terms
    are negligible. Each term from the one before by the hypergeometric ratio
    pmf(x + 1) / pmf(x) = (K - x)(n - x) / ((x + 1)(N - K - n + x + 1)): one exp per test, not three
    log-gammas per term (a run tests thousands of candidates)."""
    term, acc = first, 0.0
    x = start
    while True:
        acc += term
        if x == stop or term < acc * 1e-17:
            return acc
        if step > 0:
            term *= (errors - x) * (n_in - x) / ((x + 1) * (total - errors - n_in + x + 1))
        else:
            term *= x * (total - errors - n_in + x) / ((errors - x + 1) * (n_in - x + 1))
        x += step


def benjamini_hochberg(pvalues: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """Benjamini-Hochberg adjusted p values (q values), in the input's order; weighted when weights are given.

    Reporting every candidate with q <= alpha controls the false-discovery rate at alpha for
    independent or positively dependent tests. Weights (positive, averaging 1, fixed before the
    outcomes are seen) spend the error budget unevenly, as in Genovese, Roeder and Wasserman's
    weighted BH (2006): each p value is divided by its weight, and the guarantee is kept.
    """
    m = len(pvalues)
    if any(not 0.0 <= p <= 1.0 for p in pvalues):
        raise ValueError("p values must lie in [0, 1]")
    if weights is None:
        weights = [1.0] * m
    if len(weights) != m or any(w <= 0 for w in weights) or (m and abs(sum(weights) / m - 1.0) > 1e-9):
        raise ValueError("weights must be positive, one per p value, and average 1")
    scaled = [p / w for p, w in zip(pvalues, weights, strict=True)]
    order = sorted(range(m), key=lambda i: scaled[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):   # from the largest down: q_i = min over j >= i of (p/w)_j * m / j
        i = order[rank - 1]
        running = min(running, scaled[i] * m / rank)
        adjusted[i] = running
    return adjusted
