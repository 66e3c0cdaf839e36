"""Stand-ins shared by the unit and integration tests of ``python -m pytest_edgecases report``."""
from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_edgecases.records import CategoryResult


@dataclasses.dataclass
class FakeContext:
    """Stands in for pytest_edgecases.report.ReportContext (written in parallel)."""

    title: str
    generated: str
    rootdir: Path
    thumbnail: Any = None
    review_queue: Any = None
    review_total: Any = None
    baseline: Any = None
    agreement: Any = None
    failure_cap: Any = None


def fake_report_module(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[CategoryResult], FakeContext]]:
    """Replace the report module by one that records what it was asked to write; return the record."""
    calls: list[tuple[Path, list[CategoryResult], FakeContext]] = []

    def write_report(path: Path, results: list[CategoryResult], context: FakeContext) -> None:
        calls.append((path, results, context))
        Path(path).write_text("<html>fake</html>")

    module = types.ModuleType("pytest_edgecases.report")
    module.ReportContext = FakeContext  # type: ignore[attr-defined]
    module.write_report = write_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_edgecases.report", module)
    monkeypatch.setattr("pytest_edgecases.report", module, raising=False)
    return calls
