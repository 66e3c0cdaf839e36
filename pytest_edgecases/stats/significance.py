"""Is a change more than noise: the exact binomial and McNemar tests, and Holm's correction over many."""
from __future__ import annotations

import math
from collections.abc import Sequence

from ._validate import _as_list, _count, _real

# --------------------------------------------------------------------------
# exact binomial test
# --------------------------------------------------------------------------

# Loader's saddle-point binomial pmf (C. Loader, "Fast and accurate computation
# of binomial probabilities", 2000; the algorithm behind R's dbinom). Using
# lgamma differences instead loses ~1e-10 relative accuracy at n = 1e5 because
# lgamma(n) ~ 1e6 carries an absolute rounding error; this form stays near
# machine precision and never forms a factorial.

# stirlerr(n) = log(n!) - log(sqrt(2*pi*n) * (n/e)**n) for n = 0..15, computed
# with 50-digit mpmath (n = 0 is a placeholder; it is never used).
_STIRLERR_SMALL = (
    0.0,
    0.08106146679532725822,
    0.041340695955409294094,
    0.027677925684998339149,
    0.020790672103765093112,
    0.016644691189821192163,
    0.013876128823070747999,
    0.011896709945891770095,
    0.010411265261972096497,
    0.0092554621827127329177,
    0.0083305634333628712565,
    0.007573675487951840795,
    0.0069428401072095298657,
    0.0064089941880042070684,
    0.0059513701127588477356,
    0.005554733551962801371,
)
_LN_2PI = math.log(2.0 * math.pi)


def _stirlerr(n: int) -> float:
    if n <= 15:
        return _STIRLERR_SMALL[n]
    # Asymptotic (Stirling/De Moivre) series; fewer terms suffice as n grows.
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    nn = float(n) * n
    if n > 500:
        return (s0 - s1 / nn) / n
    if n > 80:
        return (s0 - (s1 - s2 / nn) / nn) / n
    if n > 35:
        return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n


def _bd0(x: float, m: float) -> float:
    # Deviance term x*log(x/m) + m - x. When x is close to m the direct form
    # cancels catastrophically, so use the series in v = (x-m)/(x+m).
    if abs(x - m) < 0.1 * (x + m):
        v = (x - m) / (x + m)
        s = (x - m) * v
        ej = 2.0 * x * v
        v2 = v * v
        j = 1
        while j < 1000:
            ej *= v2
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
            j += 1
        return s
    return x * math.log(x / m) + m - x


def _binom_pmf(k: int, n: int, p: float, q: float) -> float:
    # P(X = k) for X ~ Binomial(n, p), q = 1 - p; 0.0 only on underflow.
    if p == 0.0:
        return 1.0 if k == 0 else 0.0
    if q == 0.0:
        return 1.0 if k == n else 0.0
    if k == 0:
        if n == 0:
            return 1.0
        lc = -_bd0(n, n * q) - n * p if p < 0.1 else n * math.log(q)
        return math.exp(lc)
    if k == n:
        lc = -_bd0(n, n * p) - n * q if q < 0.1 else n * math.log(p)
        return math.exp(lc)
    lc = _stirlerr(n) - _stirlerr(k) - _stirlerr(n - k) - _bd0(k, n * p) - _bd0(n - k, n * q)
    lf = _LN_2PI + math.log(k) + math.log1p(-k / n)
    return math.exp(lc - 0.5 * lf)


def _tail_sum(start: int, step: int, n: int, p: float, q: float) -> float:
    # Sum of pmf(i) for i = start, start+step, ... moving AWAY from the mode,
    # so terms only shrink. Stop once the geometric bound on everything left
    # is below 2**-60 of the running total (far below double precision), which
    # keeps the cost ~O(sqrt(n)) terms instead of O(n).
    terms: list[float] = []
    total = 0.0
    i = start
    while 0 <= i <= n:
        t = _binom_pmf(i, n, p, q)
        if t == 0.0:
            break  # underflowed; every further term is smaller still
        terms.append(t)
        total += t
        if step < 0:
            r = i * q / ((n - i + 1) * p)  # pmf(i-1) / pmf(i)
        else:
            r = (n - i) * p / ((i + 1) * q)  # pmf(i+1) / pmf(i)
        if r <= 0.0 or (r < 1.0 and t * r / (1.0 - r) <= total * 2.0**-60):
            break
        i += step
    return math.fsum(terms)


def binomial_two_sided_p(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test p-value (minimum-likelihood method, as scipy.stats.binomtest)."""
    n = _count("n", n)
    k = _count("k", k)
    if k > n:
        raise ValueError(f"k must be an integer in [0, n={n}], got {k}")
    p = _real("p", p, 0.0, 1.0)
    # Same shortcut and the same float comparisons as scipy, so that results
    # agree even where k is within rounding of n*p. Covers n == 0 too.
    if k == p * n:
        return 1.0
    if p == 0.0 or p == 1.0:
        # Degenerate null: k has probability 0, and so has every outcome
        # counted as "at least as extreme".
        return 0.0
    q = 1.0 - p
    # Outcomes whose probability is <= pmf(k) count as at least as extreme;
    # the 1e-7 relative slack (scipy's) keeps mirror-image outcomes whose
    # pmf differs from pmf(k) only by rounding.
    threshold = _binom_pmf(k, n, p, q) * (1.0 + 1e-7)
    mean = p * n
    if k < mean:
        near = _tail_sum(k, -1, n, p, q)  # P(X <= k)
        # pmf is strictly decreasing on [ceil(np), n]: find the first index
        # there at or below the threshold.
        lo, hi = math.ceil(mean), n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if _binom_pmf(mid, n, p, q) <= threshold:
                hi = mid
            else:
                lo = mid + 1
        if lo == k + 1:
            return 1.0  # the two tails cover every outcome; avoid 1 - 2e-16
        far = _tail_sum(lo, +1, n, p, q) if lo <= n else 0.0
    else:
        near = _tail_sum(k, +1, n, p, q)  # P(X >= k)
        # pmf is strictly increasing on [0, floor(np)]: find the last index
        # there at or below the threshold.
        lo, hi = -1, math.floor(mean)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _binom_pmf(mid, n, p, q) <= threshold:
                lo = mid
            else:
                hi = mid - 1
        if lo == k - 1:
            return 1.0  # the two tails cover every outcome; avoid 1 - 2e-16
        far = _tail_sum(lo, -1, n, p, q) if lo >= 0 else 0.0
    return min(1.0, near + far)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar p-value for discordant counts b (right->wrong) and c (wrong->right); 1.0 if b+c == 0."""
    b = _count("b", b)
    c = _count("c", c)
    if b + c == 0:
        return 1.0  # no discordant pairs: no evidence of any change
    return min(1.0, binomial_two_sided_p(min(b, c), b + c, 0.5))


# --------------------------------------------------------------------------
# multiple comparisons
# --------------------------------------------------------------------------


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values in input order (monotone, capped at 1); [] for no input."""
    raw = _as_list("pvalues", pvalues, "numbers in [0.0, 1.0]")
    ps = [_real(f"pvalues[{i}]", v, 0.0, 1.0) for i, v in enumerate(raw)]
    m = len(ps)
    order = sorted(range(m), key=ps.__getitem__)
    adjusted = [0.0] * m
    running = 0.0
    for rank, idx in enumerate(order):
        # The running max enforces monotonicity: a larger raw p-value never
        # gets a smaller adjusted one (Holm's step-down stops at the first
        # non-rejection).
        running = max(running, min(1.0, (m - rank) * ps[idx]))
        adjusted[idx] = running
    return adjusted
