"""The controller side of a run: gather each category's result, write the outputs, end with the summary.

Registered by plugin.py only with --edgecases, and only on the controller (not on xdist workers).
"""
from __future__ import annotations

from typing import Any

import pytest

from .baseline import apply_holm, comparison_table
from .errors import printable
from .gcpolicy import paused_gc
from .outputs import review_head, thumbnailer, write_outputs
from .records import CategoryResult
from .session import EdgecasesSession
from .slices import discover, terminal_lines
from .stash import session_of
from .terminal import agreement_lines, summary_table


class RunReporter:
    """Controller-side collector, registered per run (no module globals: pytester runs stay apart)."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather each category's result from its report (also the reports xdist workers send)."""
        data = getattr(report, "edgecases", None)
        if data is not None and report.when == "call":
            edge = session_of(self.config)
            local = edge.local_results.pop(report.nodeid, None)
            edge.results.append(local if local is not None else CategoryResult.from_dict(data))
            # xdist tells the workers the run's id, not the controller; reports carry it here, so
            # that the controller can remove the workers' shared temp files at the end.
            edge.run_id = edge.run_id or getattr(report, "testrun_uid", None)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the results file, report and other outputs once, from the gathered results."""
        edge = session_of(self.config)
        edge.results.sort(key=lambda r: (r.suite_file, r.index))
        _holm_across_categories(edge)
        if edge.results and edge.options.slices is not None:
            with paused_gc():   # columns and bitsets per example and candidate, none in a cycle
                edge.slices = discover(edge.results, edge.options.slices)
        if edge.results:
            _explain(edge, session)
            with paused_gc():
                write_outputs(edge)
            edge.prune_cache()   # here, not in a worker: no worker of this run is still reading the cache
        edge.cleanup_run_files()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """End the run with one table of all categories."""
        edge = session_of(self.config)
        if not edge.results:
            return
        terminalreporter.write_sep("=", "edge cases")
        for line in summary_table(edge.results).splitlines() + agreement_lines(edge.results):
            terminalreporter.write_line(line)
        _write_baseline_comparison(terminalreporter, edge)
        if edge.options.slices is not None:
            for line in terminal_lines(edge.slices, edge.options.slices.q):
                terminalreporter.write_line(line)
        for note in edge.notes:
            terminalreporter.write_line(printable(note))


def _explain(edge: EdgecasesSession, session: pytest.Session) -> None:
    """Saliency for the shown examples (explain_run.py), where the option or a suite asks; a map asked
    for and not made fails the run, as a bad suite does."""
    if edge.options.explain is None and not _any_suite_explains(edge):
        return
    from .explain_run import explain_results  # the report's records and inference keys: only when asked

    explain_results(edge, review_head(edge).entries)
    if edge.explain_errors and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _any_suite_explains(edge: EdgecasesSession) -> bool:
    """Whether a suite of the run has an ``explain:`` section (suites are read again under xdist)."""
    for file in {r.suite_file for r in edge.results}:
        try:
            if edge.load(edge.rootdir / file).suite.explain is not None:
                return True
        except Exception:  # noqa: BLE001 - a suite that cannot be read again explains nothing
            continue
    return False


def _holm_across_categories(edge: EdgecasesSession) -> None:
    """Holm-correct the baseline p-values over all gathered categories (only the controller sees them all)."""
    if edge.options.baseline:
        apply_holm(edge.results)


def _write_baseline_comparison(terminalreporter: Any, edge: EdgecasesSession) -> None:
    """The baseline comparison table, after the summary table."""
    if not edge.options.baseline:
        return
    lines = comparison_table(edge.results)
    if lines:
        terminalreporter.write_sep("-", "baseline comparison")
    for line in lines:
        terminalreporter.write_line(line)


def attach_html_extras(item: pytest.Item, report: pytest.TestReport, result: Any) -> None:
    """pytest-html 4: the category's summary and a few failure thumbnails in its row (plain dicts)."""
    # The report's template and image code: only with pytest-html.
    from .report import ReportContext, html_extras

    edge = session_of(item.config)
    context = ReportContext(rootdir=edge.rootdir, thumbnail=thumbnailer(edge))
    try:
        extras = html_extras(result, context)
    except Exception as exc:  # noqa: BLE001 - a decoration of someone else's report must never fail the run
        edge.notes.append(f"edgecases: no pytest-html extras for {result.category}: {exc}")
        return
    report.extras = [*getattr(report, "extras", []), *extras]
