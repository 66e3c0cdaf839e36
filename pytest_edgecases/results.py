"""The per-example results file (CSV via pandas, or JSON) and reading it back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .files import atomic_write
from .records import CategoryResult, ExampleResult
from .slicefinder import Slice

SCHEMA = "pytest-edgecases/results/1"
#: Column order of the CSV: what a reader scans first comes first.
COLUMNS = ["suite", "path", "category", "level", "label", "predicted", "confidence", "correct", "severity",
           "status", "verdict", "reviewer", "comment", "waiver_until", "stale", "unstable", "margin", "top3",
           "sha256", "error"]


def rows(results: Sequence[CategoryResult]) -> list[dict[str, Any]]:
    """One flat row per example."""
    out = []
    for r in results:
        for e in r.examples:
            row = {"suite": r.suite, "path": e.path, "category": r.category, "level": e.level, "label": e.label,
                   "predicted": e.predicted, "confidence": e.confidence, "correct": e.correct,
                   "severity": e.severity, "status": e.status, "verdict": e.verdict,
                   "reviewer": ", ".join(e.reviewers), "comment": e.comment,
                   "waiver_until": (e.waiver or {}).get("until", ""), "stale": e.stale, "unstable": e.unstable,
                   "margin": e.margin, "top3": "; ".join(f"{lab}:{p:.3f}" for lab, p in e.top), "sha256": e.sha256,
                   "error": e.error or ""}
            row.update({f"meta.{k}": v for k, v in sorted(e.metadata.items())})
            row.update({f"property.{k}": v for k, v in e.properties.items()})
            out.append(row)
    return out


def write_results(path: Path, results: Sequence[CategoryResult], slices: Sequence[Slice] = ()) -> None:
    """Write .csv (pandas) or .json (categories + their examples, reloadable for reports; the run's slices)."""
    if path.suffix.lower() == ".json":
        doc = {"schema": SCHEMA, "categories": [r.to_dict() for r in results], "slices": [s.to_json() for s in slices]}
        atomic_write(path, json.dumps(doc, indent=1, sort_keys=True, default=str))
    else:
        import pandas as pd

        table = rows(results)
        extra = sorted({k for row in table for k in row} - set(COLUMNS))
        atomic_write(path, pd.DataFrame(table, columns=COLUMNS + extra).to_csv(index=False))


def read_results(path: Path) -> list[CategoryResult]:
    """Load a JSON results file written by write_results."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a pytest-edgecases JSON results file")
    return [CategoryResult.from_dict(c) for c in doc["categories"]]


__all__ = ["COLUMNS", "rows", "write_results", "read_results", "ExampleResult"]
