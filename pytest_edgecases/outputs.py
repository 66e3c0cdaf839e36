"""Everything a run writes at its end (controller only): results file, report, and so on.

Each writer is independent: one failing (a full disk, a read-only folder) is reported in the
terminal summary and does not stop the others or change the test outcome.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .session import EdgecasesSession


def write_outputs(edge: EdgecasesSession) -> None:
    """Write each requested output; note in the summary where it went, or why it failed."""
    opts = edge.options
    writers: list[tuple[str, str | None, Callable[[Path], None]]] = [
        ("results", opts.results, lambda p: _results(edge, p)),
        ("baseline", opts.save_baseline, lambda p: _save_baseline(edge, p)),
    ]
    for what, target, writer in writers:
        if not target:
            continue
        path = Path(target)
        try:
            writer(path)
        except OSError as exc:
            edge.notes.append(f"edgecases: could not write the {what} file {path}: {exc.strerror or exc}")
        else:
            edge.notes.append(f"edgecases: {what} written to {path}")


def _results(edge: EdgecasesSession, path: Path) -> None:
    from .results import write_results

    write_results(path, edge.results)


def _save_baseline(edge: EdgecasesSession, path: Path) -> None:
    from .baseline import save_baseline

    save_baseline(path, edge.results)
