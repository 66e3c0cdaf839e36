"""Slice discovery for a run: judged results in, reported slices and the lines that show them out.

The search itself is slicefinder.py; this module decides what a run searches (each category, and
each suite as a whole), over which columns (manifest metadata, image properties and the model's
confidence), and how a slice reads in the terminal, the results file and as a `where:` ready to promote.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .errors import printable
from .prediction import PROPERTIES
from .records import CategoryResult, ExampleResult
from .slicefinder import Slice, SliceInput, SliceSettings, find_slices

#: The model's confidence is a column too ("are confident answers wrong?"), but it is known only
#: after inference, so a slice on it cannot become a `where:` category.
CONFIDENCE = "confidence"
#: Lines the terminal shows at most; the report and results file list every slice.
TERMINAL_LINES = 5


def discover(results: Sequence[CategoryResult], settings: SliceSettings) -> list[Slice]:
    """Every slice of the run at the settings' false-discovery rate (one family for the whole run)."""
    parts = [_Part.of(r, settings.properties) for r in results]
    inputs = [part.input(r.suite, r.category) for part, r in zip(parts, results, strict=True)]
    by_suite: dict[str, list[_Part]] = {}
    for part, r in zip(parts, results, strict=True):
        by_suite.setdefault(r.suite, []).append(part)
    # A suite as a whole: only when it has several categories (else it is that category again).
    inputs += [_Part.joined(suite_parts).input(suite, None) for suite, suite_parts in by_suite.items()
               if len({p.category for p in suite_parts if p.examples}) > 1]
    return find_slices([i for i in inputs if i.errors], settings)


@dataclass
class _Part:
    """A category's scored examples (not ambiguous, not unreadable) as columns: its own search, and its
    share of its suite's (the suite's columns are its categories' joined: each example is read once)."""

    category: str
    examples: int        # all of them, scored or not
    errors: list[bool]
    metadata: dict[str, list[Any]]
    properties: dict[str, list[Any]]   # image properties, if searched (a `where:` on one measures them anyway)
    confidence: list[float]
    paths: list[str]

    @classmethod
    def of(cls, result: CategoryResult, properties: bool) -> _Part:
        scored = [e for e in result.examples if e.correct is not None and e.status != "ambiguous"]
        names = sorted({k for e in scored for k in e.metadata})
        return cls(result.category, len(result.examples), [e.correct is False for e in scored],
                   {name: [e.metadata.get(name) for e in scored] for name in names},
                   _property_columns(scored) if properties else {},
                   [e.confidence for e in scored], [e.path for e in scored])

    @classmethod
    def joined(cls, parts: list[_Part]) -> _Part:
        """The parts one after another, a column a part lacks filled with None; paths name their category."""
        def column(names: set[str], of: Callable[[_Part], dict[str, list[Any]]]) -> dict[str, list[Any]]:
            return {name: [v for p in parts for v in of(p).get(name, [None] * len(p.errors))] for name in sorted(names)}
        metadata = column({name for p in parts for name in p.metadata}, lambda p: p.metadata)
        properties = column({name for p in parts for name in p.properties}, lambda p: p.properties)
        return cls("", sum(p.examples for p in parts), [e for p in parts for e in p.errors], metadata,
                   {name: properties[name] for name in PROPERTIES if name in properties},
                   [c for p in parts for c in p.confidence],
                   [f"{p.category}: {path}" for p in parts for path in p.paths])

    def input(self, suite: str, category: str | None) -> SliceInput:
        """The search's input: metadata columns, then image properties (a manifest column of a property's
        name is the user's, and wins), then confidence."""
        columns = dict(self.metadata)
        columns.update((name, values) for name, values in self.properties.items() if name not in columns)
        columns[CONFIDENCE] = self.confidence
        return SliceInput(suite, category, self.errors, columns, self.paths)


def _property_columns(scored: list[ExampleResult]) -> dict[str, list[Any]]:
    """The image properties as columns, in PROPERTIES order; those no example has are left out.

    Transposed in C when every example has all of them (the usual case: tens of thousands of
    examples on a large suite, read on every rerun); else property by property, None where missing.
    """
    if not scored:
        return {}
    try:
        rows = list(map(itemgetter(*PROPERTIES), [e.properties for e in scored]))
    except KeyError:
        return {name: [e.properties.get(name) for e in scored] for name in PROPERTIES
                if any(name in e.properties for e in scored)}
    return {name: list(values) for name, values in zip(PROPERTIES, zip(*rows, strict=True), strict=True)}


def describe(where: dict[str, Any]) -> str:
    """`camera = dashcam_b and lux in [5, 20)`: a slice's conditions as a reader writes them."""
    parts = []
    for column, value in where.items():
        if isinstance(value, list):
            low, high = value
            if low is None:
                parts.append(f"{column} < {high:g}")
            elif high is None:
                parts.append(f"{column} >= {low:g}")
            else:
                parts.append(f"{column} in [{low:g}, {high:g})")
        else:
            parts.append(f"{column} = {value}")
    return " and ".join(parts)


def line(found: Slice) -> str:
    """One terminal line: 'low_light: camera = dashcam_b: 50% wrong vs 0% elsewhere, 30 images, q = 0.0004'."""
    scope = found.category if found.category is not None else f"{found.suite} (all categories)"
    return printable(f"{scope}: {describe(found.where)}: {found.error_rate:.0%} wrong vs "
                     f"{found.rest_error_rate:.0%} elsewhere, {found.n} images, q = {found.q:.2g}")


def terminal_lines(found: Sequence[Slice], q: float) -> list[str]:
    """The run's slices for the terminal: a header and at most TERMINAL_LINES slices.

    Slices a `where:` can promote come first, most significant first: that low confidence goes with
    mistakes is expected of any model, and would otherwise crowd out what a reader can act on.
    """
    if not found:
        return []
    shown = sorted(found, key=lambda s: (promotion(s) is None, s.q))[:TERMINAL_LINES]
    lines = [f"edgecases: where errors concentrate (advisory; false-discovery rate {q:g}):"]
    lines += [f"  {line(s)}" for s in shown]
    if len(found) > TERMINAL_LINES:
        lines.append(f"  … and {len(found) - TERMINAL_LINES} more in the report and the results file")
    return lines


def promotion(found: Slice) -> str | None:
    """A `where:` to add to a copy of the slice's category, or None when it cannot be one."""
    if found.category is None or CONFIDENCE in found.where:
        return None
    conditions = ", ".join(f"{column}: {_yaml(value)}" for column, value in found.where.items())
    base = found.category.split("[", 1)[0]
    words = [f"{c}-{v}" if not isinstance(v, list) else c for c, v in found.where.items()]
    name = re.sub(r"[^\w.-]+", "_", "-".join([base, *words]))
    return (f"  - name: {name}\n"
            f"    # the images:, manifest: or from: of '{base}'\n"
            f"    where: {{{conditions}}}\n")


def _yaml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join("null" if v is None else f"{v:g}" for v in value) + "]"
    text = str(value)
    plain = text and text.replace("_", "").replace("-", "").replace(".", "").isalnum()
    return text if plain and not text[0].isdigit() else '"' + text.replace('"', '\\"') + '"'
