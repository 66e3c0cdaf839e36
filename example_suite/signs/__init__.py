"""Toy road-sign classifier used by the pytest-edgecases showcase suite.

``signs.model`` holds the network (``build``) and ``signs.render`` draws the
synthetic scenes that both the training data and the committed evaluation sets
come from.
"""

from __future__ import annotations

# The order is the model's output order: index i of the logits is LABELS[i].
# The suite YAML's ``labels:`` list must repeat it exactly.
LABELS: tuple[str, ...] = ("stop", "yield", "speed_limit", "no_entry", "pedestrian_crossing")

__all__ = ["LABELS"]
