"""Small, dependency-free statistics for judging edge-case categories.

Everything here is pure Python (standard library only) so that importing the
plugin stays cheap: numpy/scipy are never imported by this module.

Conventions shared by every function:

* Invalid input raises ``ValueError`` whose message says what a valid value is.
* Where a statistic is undefined (no data, zero denominator) the function
  returns ``None`` (or the documented neutral value, e.g. ``(0.0, 1.0)`` for a
  Wilson interval on zero trials); it never returns NaN and never lets a
  ``ZeroDivisionError`` escape.
"""
from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Z_95",
    "ReliabilityBin",
    "wilson_interval",
    "binomial_two_sided_p",
    "mcnemar_exact",
    "holm",
    "paired_difference_interval",
    "cohen_kappa",
    "fleiss_kappa",
    "reliability_bins",
    "expected_calibration_error",
    "majority_vote",
]

#: Two-sided 95% standard-normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# inter-rater agreement
# --------------------------------------------------------------------------


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters on the same items; None if no items, 1.0 if both used one single label."""
    a = _labels("a", a)
    b = _labels("b", b)
    if len(a) != len(b):
        raise ValueError(
            f"a and b must label the same items (equal lengths), got {len(a)} and {len(b)}"
        )
    n = len(a)
    if n == 0:
        return None
    # Integer arithmetic: kappa = (n*agree - E) / (n^2 - E) with
    # E = sum_k count_a(k) * count_b(k) = n^2 * p_e. The p_e == 1 test is then
    # exact rather than a float comparison.
    agree = sum(1 for x, y in zip(a, b) if x == y)
    counts_a = Counter(a)
    counts_b = Counter(b)
    expected = sum(cnt * counts_b.get(label, 0) for label, cnt in counts_a.items())
    denominator = n * n - expected
    if denominator == 0:
        # p_e == 1 only when both raters gave every item the same single
        # label, which forces observed agreement to be 1 as well. Kappa is
        # 0/0 there; we report perfect agreement rather than "undefined"
        # because that is what the reviewers actually did.
        return 1.0 if agree == n else None
    return (n * agree - expected) / denominator


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa, rater count may vary per item (items with <2 ignored); None if no usable item."""
    items = _as_list("ratings", ratings, "per-item label sequences")
    per_item: list[float] = []
    pooled: Counter[Hashable] = Counter()
    total = 0
    for i, item in enumerate(items):
        labels = _labels(f"ratings[{i}]", item)
        n_i = len(labels)
        if n_i < 2:
            continue  # a single rating cannot agree or disagree with anyone
        counts = Counter(labels)
        # Proportion of agreeing ordered rater pairs on this item.
        per_item.append((sum(c * c for c in counts.values()) - n_i) / (n_i * (n_i - 1)))
        pooled.update(counts)
        total += n_i
    if not per_item:
        return None
    if len(pooled) == 1:
        # P_e == 1: every rating is the same category, so every P_i == 1.
        # Kappa is 0/0; report perfect agreement (same rule as cohen_kappa).
        return 1.0
    p_bar = math.fsum(per_item) / len(per_item)
    p_e = math.fsum((c / total) ** 2 for c in pooled.values())
    return (p_bar - p_e) / (1.0 - p_e)


# --------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width confidence bin; mean_confidence/accuracy are None when count == 0."""

    lo: float
    hi: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def reliability_bins(
    confidences: Sequence[float],
    correct: Sequence[bool],
    n_bins: int = 10,
) -> list[ReliabilityBin]:
    """Equal-width bins [lo, hi) on [0, 1] (last closed) with count, mean confidence and accuracy per bin."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    n_bins = int(n_bins)
    confidences = _as_list("confidences", confidences, "numbers in [0.0, 1.0]")
    correct = _as_list("correct", correct, "booleans")
    if len(confidences) != len(correct):
        raise ValueError(
            "confidences and correct must have equal lengths, "
            f"got {len(confidences)} and {len(correct)}"
        )
    edges = [i / n_bins for i in range(n_bins + 1)]
    counts = [0] * n_bins
    conf_sums: list[list[float]] = [[] for _ in range(n_bins)]
    hits = [0] * n_bins
    for i, (conf, ok) in enumerate(zip(confidences, correct)):
        c = _real(f"confidences[{i}]", conf, 0.0, 1.0)
        # Accept bool and anything equal to 0 or 1 (numpy.bool_, 0/1 ints);
        # strings such as "yes" are refused rather than read as truthy.
        try:
            valid = not isinstance(ok, (str, bytes)) and bool(ok == 0 or ok == 1)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ValueError(f"correct[{i}] must be a boolean, got {ok!r}")
        hit = bool(ok)
        idx = min(int(c * n_bins), n_bins - 1)
        # c * n_bins can round across an edge; re-check against the edges we
        # report so that a value equal to `lo` always lands in that bin.
        if idx + 1 < n_bins and c >= edges[idx + 1]:
            idx += 1
        elif c < edges[idx]:
            idx -= 1
        counts[idx] += 1
        conf_sums[idx].append(c)
        hits[idx] += hit
    bins = []
    for j in range(n_bins):
        cnt = counts[j]
        bins.append(
            ReliabilityBin(
                lo=edges[j],
                hi=edges[j + 1],
                count=cnt,
                mean_confidence=math.fsum(conf_sums[j]) / cnt if cnt else None,
                accuracy=hits[j] / cnt if cnt else None,
            )
        )
    return bins


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float | None:
    """Count-weighted mean |accuracy - mean confidence| over bins; None when the bins hold no data."""
    items = _as_list("bins", bins, "ReliabilityBin")
    total = 0
    weighted: list[float] = []
    for i, rb in enumerate(items):
        if not isinstance(rb, ReliabilityBin):
            raise ValueError(f"bins[{i}] must be a ReliabilityBin, got {rb!r}")
        cnt = _count(f"bins[{i}].count", rb.count)
        if cnt == 0:
            continue
        if rb.mean_confidence is None or rb.accuracy is None:
            raise ValueError(
                f"bins[{i}] has count {cnt} > 0, so mean_confidence and accuracy "
                "must be numbers, not None"
            )
        total += cnt
        weighted.append(cnt * abs(rb.accuracy - rb.mean_confidence))
    if total == 0:
        return None
    return math.fsum(weighted) / total


# --------------------------------------------------------------------------
# reviewer verdicts
# --------------------------------------------------------------------------


def majority_vote(verdicts: Sequence[str]) -> str | None:
    """Most common verdict; None when empty or when the top count is tied (ambiguous)."""
    verdicts = _labels("verdicts", verdicts)
    if not verdicts:
        return None
    ranked = Counter(verdicts).most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]
