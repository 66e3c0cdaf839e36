"""Small, dependency-free statistics for judging edge-case categories, one module per question.

Everything here is pure Python (standard library only) so that importing the
plugin stays cheap: numpy/scipy are never imported by this module.

Conventions shared by every function:

* Invalid input raises ``ValueError`` whose message says what a valid value is.
* Where a statistic is undefined (no data, zero denominator) the function
  returns ``None`` (or the documented neutral value, e.g. ``(0.0, 1.0)`` for a
  Wilson interval on zero trials); it never returns NaN and never lets a
  ``ZeroDivisionError`` escape.

Modules: ``intervals`` (how sure is an accuracy), ``significance`` (is a change more than noise),
``raters`` (do reviewers agree), ``calibration`` (does confidence mean what it says), ``fdr`` (which
of many slices to believe). The names
are re-exported here, so callers import them from ``stats`` without knowing which module holds one.
"""
from __future__ import annotations

from .calibration import ReliabilityBin, expected_calibration_error, reliability_bins
from .fdr import benjamini_hochberg, fisher_greater
from .intervals import Z_95, paired_difference_interval, wilson_interval
from .raters import cohen_kappa, fleiss_kappa, majority_vote
from .significance import binomial_two_sided_p, holm, mcnemar_exact

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
    "fisher_greater",
    "benjamini_hochberg",
]
