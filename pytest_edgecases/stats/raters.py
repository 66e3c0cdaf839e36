"""Reviewers as raters: Cohen's and Fleiss' kappa for their agreement, the majority for their verdict."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

from ._validate import _as_list, _labels

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
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
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
