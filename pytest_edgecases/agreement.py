"""Agreement between reviewers: Cohen's kappa for two, Fleiss' kappa for more, and the conflicts."""
from __future__ import annotations

from typing import Sequence

from .records import Agreement, Conflict, ExampleResult
from .stats import cohen_kappa, fleiss_kappa


def agreement(examples: Sequence[ExampleResult]) -> Agreement | None:
    """Kappa over the examples reviewed by at least two people, plus the list of conflicts.

    Returns None when fewer than two reviewers' verdicts overlap: there is nothing to agree on.
    """
    multi = [e for e in examples if len(e.votes) >= 2]
    if not multi:
        return None
    # Only reviewers who share an example with someone can agree or not: one who reviewed
    # alone must not turn two reviewers' Cohen's kappa into a three-reviewer Fleiss' kappa.
    reviewers = sorted({who for e in multi for who, _ in e.votes})
    if len(reviewers) == 2:
        a, b = reviewers
        pairs = [(dict(e.votes).get(a), dict(e.votes).get(b)) for e in multi]
        pairs = [(x, y) for x, y in pairs if x and y]
        kappa = cohen_kappa([x for x, _ in pairs], [y for _, y in pairs]) if pairs else None
        method, n = "Cohen", len(pairs)
    else:
        kappa = fleiss_kappa([[v for _, v in e.votes] for e in multi])
        method, n = "Fleiss", len(multi)
    conflicts = [Conflict(image=e.path, category=e.category, votes=[list(v) for v in e.votes], comment=e.comment)
                 for e in multi if len({v for _, v in e.votes}) > 1]
    return Agreement(method=method, kappa=kappa, n=n, reviewers=reviewers, conflicts=conflicts,
                     words=describe(kappa))


def describe(kappa: float | None) -> str:
    """Landis & Koch's words for a kappa, so a reader need not know the scale."""
    if kappa is None:
        return "undefined"
    for bound, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
        if kappa <= bound:
            return word
    return "almost perfect"
