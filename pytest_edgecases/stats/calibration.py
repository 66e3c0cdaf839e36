"""Does confidence mean what it says: reliability bins and the expected calibration error."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from ._validate import _as_list, _count, _real

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
    for i, (conf, ok) in enumerate(zip(confidences, correct, strict=True)):
        # The common case first (a float and a bool, as the report passes them): the checks below go
        # through numbers.Real's ABC, which cost most of a 20,000-example report's reliability bins.
        if type(conf) is float and 0.0 <= conf <= 1.0:
            c = conf
        else:
            c = _real(f"confidences[{i}]", conf, 0.0, 1.0)
        if type(ok) is bool:
            hit = ok
        else:
            # Accept anything equal to 0 or 1 (numpy.bool_, 0/1 ints);
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
