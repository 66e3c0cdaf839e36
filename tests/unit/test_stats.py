"""Unit tests for pytest_edgecases.stats (pure statistics helpers)."""
from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pytest_edgecases.stats import (
    ReliabilityBin,
    binomial_two_sided_p,
    cohen_kappa,
    expected_calibration_error,
    fleiss_kappa,
    holm,
    majority_vote,
    mcnemar_exact,
    paired_difference_interval,
    reliability_bins,
    wilson_interval,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# module hygiene
# --------------------------------------------------------------------------


def test_module_imports_without_numpy_or_scipy():
    # The plugin must stay cheap to import; a fresh interpreter shows what
    # importing stats really pulls in.
    code = (
        "import sys; import pytest_edgecases.stats; "
        "heavy = sorted(m for m in ('numpy', 'scipy', 'torch', 'pandas') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # Newcombe RG (1998), "Two-sided confidence intervals for the single
        # proportion: comparison of seven methods", Stat Med 17:857-872,
        # Table II, method 3 (score interval without continuity correction).
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0000, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_wilson_published_values(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert round(lo, 4) == expected[0]
    assert round(hi, 4) == expected[1]


def test_wilson_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for n in (1, 2, 3, 7, 30, 263, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ci = stats.binomtest(k, n).proportion_ci(method="wilson")
            assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # A non-default z is honoured (90% interval).
    ci90 = stats.binomtest(7, 30).proportion_ci(confidence_level=0.9, method="wilson")
    expected90 = pytest.approx((ci90.low, ci90.high), abs=1e-12)
    assert wilson_interval(7, 30, z=1.6448536269514722) == expected90


def test_wilson_degenerate_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # The limits at k == 0 and k == n are exactly 0 and 1 (e.g. n=29, where
    # the plain formula rounds to 0.9999999999999999).
    for n in range(1, 60):
        assert wilson_interval(0, n)[0] == 0.0
        assert wilson_interval(n, n)[1] == 1.0
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and 0.0 < hi < 1.0
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and 0.0 < lo < 1.0
    for n in range(1, 40):
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5, 4), "successes"),
        ((-1, 4), "successes"),
        ((1, -4), "n must be"),
        ((1.0, 4), "successes"),
        ((1, 4.0), "n must be"),
        ((True, 4), "successes"),
        ((1, 4, 0.0), "z must be"),
        ((1, 4, -1.96), "z must be"),
        ((1, 4, float("nan")), "z must be"),
        ((1, 4, float("inf")), "z must be"),
    ],
)
def test_wilson_invalid(args, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(*args)


# --------------------------------------------------------------------------
# exact binomial test
# --------------------------------------------------------------------------


def _exact_two_sided(k: int, n: int, p: Fraction) -> Fraction:
    # The definition, in exact rational arithmetic: total probability of all
    # outcomes no more likely than k (with scipy's 1e-7 relative slack).
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    limit = pmf[k] * (1 + Fraction(1, 10**7))
    return min(Fraction(1), sum(x for x in pmf if x <= limit))


def test_binomial_exact_rational_definition():
    # p values that are exact binary fractions, so the float input equals the
    # rational one and the comparison is against the exact answer.
    for p in (Fraction(1, 2), Fraction(1, 4), Fraction(3, 8)):
        for n in (1, 2, 5, 11, 20):
            for k in range(n + 1):
                expected = float(_exact_two_sided(k, n, p))
                got = binomial_two_sided_p(k, n, float(p))
                assert got == pytest.approx(expected, rel=1e-13, abs=0)


def test_binomial_exact_big_integers_large_n():
    # Fair coin: the two-sided p-value is 2 * P(X <= k) for k < n/2, which
    # exact big-integer arithmetic gives without any rounding. Checks the
    # pmf near the mode, where naive log-space formulas lose digits.
    n = 10000
    for k in (4800, 4930, 4999):
        total, term = 0, 1  # term = C(n, i)
        for i in range(k + 1):
            total += term
            term = term * (n - i) // (i + 1)
        expected = float(Fraction(2 * total, 2**n))
        assert binomial_two_sided_p(k, n) == pytest.approx(expected, rel=2e-14, abs=0)


def test_stirling_correction_table():
    # The small-n table behind the accurate pmf, against 50-digit mpmath.
    mpmath = pytest.importorskip("mpmath")
    from pytest_edgecases.stats.significance import _STIRLERR_SMALL

    with mpmath.workdps(50):
        for n in range(1, 16):
            exact = mpmath.log(mpmath.factorial(n)) - (n + mpmath.mpf(1) / 2) * mpmath.log(n) + n
            exact -= mpmath.log(mpmath.sqrt(2 * mpmath.pi))
            assert _STIRLERR_SMALL[n] == pytest.approx(float(exact), rel=1e-15, abs=0)


def test_binomial_matches_scipy_small_n():
    stats = pytest.importorskip("scipy.stats")
    # 0.3 and 1/3 exercise k within rounding of n*p; 0.999 a skewed null.
    for p in (0.5, 0.3, 1 / 3, 0.1, 0.9, 0.999):
        for n in (1, 2, 3, 10, 17, 30):
            for k in range(n + 1):
                expected = stats.binomtest(k, n, p).pvalue
                assert binomial_two_sided_p(k, n, p) == pytest.approx(expected, rel=1e-11, abs=0)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (48925, 100000, 0.5),
        (50000, 100000, 0.5),
        (50321, 100000, 0.5),
        (29700, 100000, 0.3),
        (30600, 100000, 0.3),
        (950, 100000, 0.01),
        (1080, 100000, 0.01),
        (99000, 100000, 0.99),
        (4, 1000, 0.01),
    ],
)
def test_binomial_matches_scipy_large_n(k, n, p):
    stats = pytest.importorskip("scipy.stats")
    expected = stats.binomtest(k, n, p).pvalue
    assert binomial_two_sided_p(k, n, p) == pytest.approx(expected, rel=1e-11, abs=0)


def test_binomial_tiny_p_values_stay_finite_and_accurate():
    # 2 * 0.5**1000 = 2**-999: no factorial or power overflow on the way.
    assert binomial_two_sided_p(0, 1000, 0.5) == pytest.approx(2.0**-999, rel=1e-12, abs=0)
    assert binomial_two_sided_p(1000, 1000, 0.5) == pytest.approx(2.0**-999, rel=1e-12, abs=0)
    # Beyond double range the answer underflows to 0.0, never NaN.
    assert binomial_two_sided_p(0, 100000, 0.5) == 0.0


def test_binomial_degenerate_cases():
    assert binomial_two_sided_p(0, 0, 0.5) == 1.0
    assert binomial_two_sided_p(5, 10, 0.5) == 1.0  # k == n*p
    assert binomial_two_sided_p(1, 10, 0.1) == 1.0
    assert binomial_two_sided_p(0, 5, 0.0) == 1.0
    assert binomial_two_sided_p(1, 5, 0.0) == 0.0
    assert binomial_two_sided_p(5, 5, 1.0) == 1.0
    assert binomial_two_sided_p(4, 5, 1.0) == 0.0
    # Symmetry of the fair-coin null.
    for k in range(21):
        assert binomial_two_sided_p(k, 20) == binomial_two_sided_p(20 - k, 20)
    assert binomial_two_sided_p(0, 5) == 2 / 32


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((6, 5), "k must be"),
        ((-1, 5), "k must be"),
        ((1, -5), "n must be"),
        ((1.5, 5), "k must be"),
        ((1, 5, 1.5), "p must be"),
        ((1, 5, -0.1), "p must be"),
        ((1, 5, float("nan")), "p must be"),
        ((1, 5, "0.5"), "p must be"),
    ],
)
def test_binomial_invalid(args, match):
    with pytest.raises(ValueError, match=match):
        binomial_two_sided_p(*args)


# --------------------------------------------------------------------------
# McNemar
# --------------------------------------------------------------------------


def test_mcnemar_hand_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32, rel=1e-14, abs=0)
    # 2 * P(X <= 1 | n=11, 1/2) = 2 * 12 / 2048
    assert mcnemar_exact(1, 10) == pytest.approx(24 / 2048, rel=1e-14, abs=0)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(3, 4) == 1.0  # capped, never above 1
    for b in range(8):
        for c in range(8):
            assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def test_mcnemar_matches_scipy_binomtest():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(1, 0), (0, 7), (2, 9), (12, 2), (30, 45), (150, 110), (6, 16)]:
        expected = stats.binomtest(min(b, c), b + c, 0.5).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize("args", [(-1, 2), (2, -1), (1.0, 2), (1, None)])
def test_mcnemar_invalid(args):
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        mcnemar_exact(*args)


# --------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------


def test_holm_hand_example():
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> 0.06
    # (monotonicity lifts the last one), reported in input order.
    got = holm([0.01, 0.04, 0.03, 0.005])
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)


def test_holm_caps_and_edge_cases():
    assert holm([]) == []
    assert holm([0.2]) == [0.2]
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([1.0, 1.0, 0.0]) == [1.0, 1.0, 0.0]
    assert holm((0.01, 0.01, 0.5)) == pytest.approx([0.03, 0.03, 0.5])
    got = holm([0.3, 0.001, 0.02, 0.02, 0.9])
    order = sorted(range(5), key=[0.3, 0.001, 0.02, 0.02, 0.9].__getitem__)
    adjusted_sorted = [got[i] for i in order]
    assert adjusted_sorted == sorted(adjusted_sorted)
    assert all(0.0 <= x <= 1.0 for x in got)


@pytest.mark.parametrize("bad", [[0.1, -0.01], [1.5], [float("nan")], ["0.1"], "0.1", None])
def test_holm_invalid(bad):
    with pytest.raises(ValueError, match=r"in \[0.0, 1.0\]"):
        holm(bad)


# --------------------------------------------------------------------------
# paired difference (Newcombe method 10)
# --------------------------------------------------------------------------


def test_paired_difference_published_example():
    # Cavo et al. (2012) complete response before/after consolidation, as
    # analysed in Fagerland, Lydersen & Laake, "Statistical Analysis of
    # Contingency Tables" (2017), ch. 8: Newcombe square-and-add interval
    # -0.0621 (95% CI -0.1186 to -0.0046). Table [[59, 6], [16, 80]] with the
    # first time point as the "new" run.
    delta, lo, hi = paired_difference_interval(both=59, only_new=6, only_old=16, neither=80)
    assert round(delta, 4) == -0.0621
    assert round(lo, 4) == -0.1186
    assert round(hi, 4) == -0.0046


def test_paired_difference_newcombe_example_and_orientation():
    # Newcombe (1998) paired example a=36, b=12, c=2, d=0 (n=50): the
    # difference is (b - c)/n = 0.2. The limits are pinned to the values this
    # implementation computes from the paper's formulas.
    delta, lo, hi = paired_difference_interval(36, 12, 2, 0)
    assert delta == pytest.approx(0.2)
    assert (round(lo, 4), round(hi, 4)) == (0.0569, 0.3404)
    # More examples right only in the new run -> positive delta; swapping the
    # runs mirrors the interval.
    assert paired_difference_interval(36, 2, 12, 0) == pytest.approx((-delta, -hi, -lo), abs=1e-15)


def test_paired_difference_phi_correction_is_applied():
    # ad - bc = 12 - 7 = 5 <= n/2, so Newcombe's corrected phi is 0; the
    # uncorrected phi (5/sqrt(2*19*8*13)) would give a different interval.
    # Limits recomputed by hand from the square-and-add formula with phi=0.
    z = 1.959963984540054
    n = 21
    p1, p2 = 2 / n, 8 / n
    l1, u1 = wilson_interval(2, n)
    l2, u2 = wilson_interval(8, n)
    lo = (p1 - p2) - math.hypot(p1 - l1, u2 - p2)
    hi = (p1 - p2) + math.hypot(p2 - l2, u1 - p1)
    assert paired_difference_interval(1, 1, 7, 12, z) == pytest.approx((p1 - p2, lo, hi), abs=1e-14)


def test_paired_difference_degenerate_cases():
    assert paired_difference_interval(0, 0, 0, 0) == (0.0, -1.0, 1.0)
    delta, lo, hi = paired_difference_interval(10, 0, 0, 0)  # identical, all right
    assert delta == 0.0 and lo < 0.0 < hi
    delta, lo, hi = paired_difference_interval(0, 0, 0, 10)  # identical, all wrong
    assert delta == 0.0 and lo < 0.0 < hi
    delta, lo, hi = paired_difference_interval(0, 10, 0, 0)  # every example fixed
    assert delta == 1.0 and hi == 1.0 and 0.0 < lo < 1.0
    delta, lo, hi = paired_difference_interval(0, 0, 10, 0)  # every example broken
    assert delta == -1.0 and lo == -1.0 and -1.0 < hi < 0.0


def test_paired_difference_brute_force_properties():
    for n in range(1, 9):
        for a in range(n + 1):
            for b in range(n + 1 - a):
                for c in range(n + 1 - a - b):
                    d = n - a - b - c
                    delta, lo, hi = paired_difference_interval(a, b, c, d)
                    assert delta == pytest.approx((b - c) / n)
                    assert -1.0 <= lo <= delta <= hi <= 1.0
                    m_delta, m_lo, m_hi = paired_difference_interval(a, c, b, d)
                    assert (m_delta, m_lo, m_hi) == pytest.approx((-delta, -hi, -lo), abs=1e-12)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 0, 0, 0), "both"),
        ((0, -1, 0, 0), "only_new"),
        ((0, 0, 1.0, 0), "only_old"),
        ((0, 0, 0, "3"), "neither"),
        ((1, 1, 1, 1, 0), "z must be"),
    ],
)
def test_paired_difference_invalid(args, match):
    with pytest.raises(ValueError, match=match):
        paired_difference_interval(*args)


# --------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------


def test_cohen_kappa_wikipedia_example():
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5, kappa 0.4.
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-15)
    assert cohen_kappa(b, a) == pytest.approx(0.4, abs=1e-15)


def test_cohen_kappa_edge_cases():
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["x", "x", "x"], ["x", "x", "x"]) == 1.0  # p_e == 1
    assert cohen_kappa(["x", "y", "z"], ["x", "y", "z"]) == 1.0
    assert cohen_kappa(["x", "y"], ["y", "x"]) == -1.0
    # One rater constant, the other not: p_e < 1, kappa defined (here 0).
    assert cohen_kappa(["x", "x", "x", "x"], ["x", "y", "x", "y"]) == 0.0
    # p_o = 1/2, p_e = 1/4 (only "correct" is shared) -> kappa = 1/3; tuples work.
    assert cohen_kappa(("correct", "incorrect"), ["correct", "ambiguous"]) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (["x"], ["x", "y"], "equal lengths"),
        ("xy", ["x", "y"], "sequence of labels"),
        (["x"], None, "sequence of labels"),
        ([["x"]], [["x"]], "hashable label"),
    ],
)
def test_cohen_kappa_invalid(a, b, match):
    with pytest.raises(ValueError, match=match):
        cohen_kappa(a, b)


# --------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------

# Wikipedia "Fleiss' kappa" worked example: 10 items, 14 raters, 5 categories.
_WIKI_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _ratings_from_counts(rows):
    return [[f"c{j}" for j, cnt in enumerate(row) for _ in range(cnt)] for row in rows]


def test_fleiss_kappa_wikipedia_example():
    kappa = fleiss_kappa(_ratings_from_counts(_WIKI_COUNTS))
    assert round(kappa, 3) == 0.210
    # Classic fixed-raters formula on the count table, in exact arithmetic
    # (Wikipedia: P_bar = 0.378, P_e = 0.213).
    p_bar = sum(Fraction(sum(c * c for c in row) - 14, 14 * 13) for row in _WIKI_COUNTS) / 10
    p_e = sum(Fraction(sum(col), 140) ** 2 for col in zip(*_WIKI_COUNTS, strict=True))
    assert (round(float(p_bar), 3), round(float(p_e), 3)) == (0.378, 0.213)
    assert kappa == pytest.approx(float((p_bar - p_e) / (1 - p_e)), rel=1e-13)


def test_fleiss_kappa_variable_raters_hand_example():
    # P_1 = 1, P_2 = (1 + 4 - 3) / 6 = 1/3, P_bar = 2/3; pooled a=3/5, b=2/5,
    # P_e = 13/25; kappa = (2/3 - 13/25) / (12/25) = 11/36.
    items = [["a", "a"], ["a", "b", "b"]]
    assert fleiss_kappa(items) == pytest.approx(11 / 36, rel=1e-14)
    # Items with fewer than two ratings do not change anything.
    assert fleiss_kappa(items + [["b"], []]) == pytest.approx(11 / 36, rel=1e-14)


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([["a"], ["b"], []]) is None
    assert fleiss_kappa([["a", "a"], ["a", "a", "a"]]) == 1.0  # P_e == 1
    assert fleiss_kappa([["a", "a"], ["b", "b", "b"]]) == 1.0
    # Two raters always disagreeing on a balanced pair: P_bar 0, P_e 0.5.
    assert fleiss_kappa([["a", "b"], ["b", "a"]]) == pytest.approx(-1.0)


@pytest.mark.parametrize("bad", ["ab", [["a", "b"], "ab"], [["a"], None], None])
def test_fleiss_kappa_invalid(bad):
    with pytest.raises(ValueError, match="sequence"):
        fleiss_kappa(bad)


# --------------------------------------------------------------------------
# reliability bins and ECE
# --------------------------------------------------------------------------


def test_reliability_bins_placement_and_values():
    confs = [0.0, 0.25, 0.5, 0.74, 1.0, 0.999]
    correct = [False, True, True, False, True, True]
    bins = reliability_bins(confs, correct, n_bins=4)
    assert [(b.lo, b.hi) for b in bins] == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]
    assert [b.count for b in bins] == [1, 1, 2, 2]
    assert bins[2].mean_confidence == pytest.approx(0.62)
    assert bins[2].accuracy == 0.5
    assert bins[3].mean_confidence == pytest.approx(0.9995)
    assert bins[3].accuracy == 1.0


def test_reliability_bins_edges_belong_to_upper_bin():
    # A confidence equal to a reported lower edge lands in that bin even when
    # c * n_bins rounds below the integer; 1.0 goes to the last (closed) bin.
    for n_bins in range(1, 41):
        for i in range(n_bins + 1):
            c = i / n_bins
            bins = reliability_bins([c], [True], n_bins=n_bins)
            expected = min(i, n_bins - 1)
            assert [b.count for b in bins] == [int(j == expected) for j in range(n_bins)]
            assert bins[expected].lo <= c


def test_reliability_bins_empty_and_ece():
    bins = reliability_bins([], [])
    assert len(bins) == 10 and all(b.count == 0 for b in bins)
    assert all(b.mean_confidence is None and b.accuracy is None for b in bins)
    assert expected_calibration_error(bins) is None
    assert expected_calibration_error([]) is None
    # Two bins: conf 0.9 acc 0.5 (gap 0.4) and conf 0.1 acc 0 (gap 0.1),
    # equal weights -> ECE 0.25.
    bins = reliability_bins([0.9, 0.9, 0.1, 0.1], [True, False, False, False])
    assert expected_calibration_error(bins) == pytest.approx(0.25)
    # Perfectly calibrated bins give 0.
    bins = reliability_bins([1.0, 1.0, 0.0], [True, True, False])
    assert expected_calibration_error(bins) == 0.0
    # Weighting is by count, not a plain mean over bins.
    bins = [
        ReliabilityBin(0.0, 0.5, 3, 0.4, 0.4),
        ReliabilityBin(0.5, 1.0, 1, 0.9, 0.5),
    ]
    assert expected_calibration_error(bins) == pytest.approx(0.1)


def test_array_like_inputs_are_accepted():
    # Callers holding numpy arrays (scores straight from the model) need not
    # convert them first; numpy.bool_ and numpy.float64 behave like bool/float.
    np = pytest.importorskip("numpy")
    bins = reliability_bins(np.array([0.95, 0.15]), np.array([True, False]), n_bins=np.int64(2))
    assert [b.count for b in bins] == [1, 1]
    assert bins[1].accuracy == 1.0 and bins[0].accuracy == 0.0
    assert holm(np.array([0.01, 0.04])) == pytest.approx([0.02, 0.04])
    assert cohen_kappa(np.array(["x", "y"]), ("x", "y")) == 1.0
    assert wilson_interval(np.int64(3), np.int64(10)) == wilson_interval(3, 10)


def test_reliability_bin_is_frozen():
    rb = ReliabilityBin(0.0, 0.1, 0, None, None)
    with pytest.raises(AttributeError):
        rb.count = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("confs", "correct", "n_bins", "match"),
    [
        ([1.1], [True], 10, "confidences"),
        ([-0.1], [True], 10, "confidences"),
        ([float("nan")], [True], 10, "confidences"),
        ([0.5, 0.5], [True], 10, "equal lengths"),
        ([0.5], [2], 10, "correct"),
        ([0.5], ["yes"], 10, "correct"),
        ([0.5], [True], 0, "n_bins"),
        ([0.5], [True], 2.5, "n_bins"),
    ],
)
def test_reliability_bins_invalid(confs, correct, n_bins, match):
    with pytest.raises(ValueError, match=match):
        reliability_bins(confs, correct, n_bins=n_bins)


def test_ece_invalid():
    with pytest.raises(ValueError, match="must be numbers"):
        expected_calibration_error([ReliabilityBin(0.0, 1.0, 2, None, 0.5)])
    with pytest.raises(ValueError, match="ReliabilityBin"):
        expected_calibration_error([(0.0, 1.0, 2, 0.5, 0.5)])
    with pytest.raises(ValueError, match="non-negative integer"):
        expected_calibration_error([ReliabilityBin(0.0, 1.0, -1, 0.5, 0.5)])


# --------------------------------------------------------------------------
# majority vote
# --------------------------------------------------------------------------


def test_majority_vote():
    assert majority_vote([]) is None
    assert majority_vote(["correct"]) == "correct"
    assert majority_vote(["correct", "incorrect", "correct"]) == "correct"
    assert majority_vote(["correct", "incorrect"]) is None
    assert majority_vote(["a", "a", "b", "b", "c"]) is None
    assert majority_vote(["a", "a", "b", "b", "c", "c", "c"]) == "c"
    with pytest.raises(ValueError, match="sequence of labels"):
        majority_vote("correct")
