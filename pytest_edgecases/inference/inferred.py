"""What inference leaves for judging (infer.py fills it; the session judges from it and lets it go)."""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EdgecasesError
from ..prediction import ImageProperties, Prediction
from ..records import RunInfo
from ..suite import Category, Example, Suite


@dataclass
class Inferred:
    """What inference left for judging: each example's key and prediction, the file digests, and per suite
    either what the run did (``run_info``, for the report and baseline) or why it could not infer."""

    predictions: dict[str, Prediction] = field(default_factory=dict)
    keys: dict[tuple[Path, str, str], str] = field(default_factory=dict)   # (suite, test name, example path)
    shas: dict[str, str] = field(default_factory=dict)         # Example.file -> its SHA-256
    failures: dict[Path, EdgecasesError] = field(default_factory=dict)
    run_info: dict[Path, RunInfo] = field(default_factory=dict)
    unjudged: dict[tuple[Path, str], EdgecasesError] = field(default_factory=dict)   # (suite, test name): why
    shard_total: int = 0                                       # the run's inputs, every shard's together
    properties: dict[tuple[Path, str, str], ImageProperties] = field(default_factory=dict)   # measured.gather
    _uses: collections.Counter[str] | None = field(default=None, repr=False)   # forget()'s count per key

    def prediction(self, suite: Suite, category: Category, example: Example) -> Prediction | None:
        """The example's prediction in this category (None if it was not inferred)."""
        key = self.keys.get((suite.path, category.test_name, example.path))
        return self.predictions.get(key) if key else None

    def forget(self, suite: Suite, category: Category) -> None:
        """Let go of a judged category's keys, properties and the predictions no other category uses.

        Otherwise a large suite's predictions would live until the run ends, beside the judged results
        that replace them.
        """
        if self._uses is None:   # how many examples use each prediction, counted once, when the first goes
            self._uses = collections.Counter(self.keys.values())
        uses, path, name = self._uses, suite.path, category.test_name
        properties, drop_key, drop_prediction = self.properties, self.keys.pop, self.predictions.pop
        for ex in category.examples:
            place = (path, name, ex.path)
            if properties:
                properties.pop(place, None)
            key = drop_key(place, None)
            if key is None:
                continue
            left = uses[key] - 1
            if left > 0:
                uses[key] = left
            else:
                del uses[key]
                drop_prediction(key, None)

    def clear(self) -> None:
        """Forget every example (the run is over and reported); the suites' run info stays."""
        for held in (self.predictions, self.keys, self.shas, self.properties):
            held.clear()
        self._uses = None
