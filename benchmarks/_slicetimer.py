"""A pytest plugin for benchmarks/slices.py: times what slices add to a run, inside the run.

Wraps the session's measuring of image properties (EdgecasesSession._measure) and the search
(reporter's discover), and prints ``slices-timer: measure Xs, search Ys`` at the end. Loaded with
``-p _slicetimer`` (benchmarks/ on PYTHONPATH); never part of the plugin.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

spent = {"measure": 0.0, "search": 0.0}


def _timed(what: str, func: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            spent[what] += time.perf_counter() - start
    return wrapper


def pytest_configure(config: pytest.Config) -> None:
    from pytest_edgecases import reporter, session

    session.EdgecasesSession._measure = _timed("measure", session.EdgecasesSession._measure)
    reporter.discover = _timed("search", reporter.discover)


def pytest_unconfigure(config: pytest.Config) -> None:
    print(f"slices-timer: measure {spent['measure']:.4f}s, search {spent['search']:.4f}s")
