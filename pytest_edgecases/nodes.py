"""The pytest File (a suite YAML) and Item (a category) classes."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from .errors import EdgecasesError
from .records import CategoryResult
from .stash import session_of
from .suite import Category, Suite
from .terminal import failure_message, reason
from .verdicts import unjudged


class CategoryFailed(Exception):
    """A category missed a threshold; carries its result for a readable failure message."""

    def __init__(self, result: CategoryResult):
        super().__init__(result.category)
        self.result = result


class SuiteFile(pytest.File):
    """An edge-case suite file: one item per category (and per level of a synthetic category)."""

    def collect(self) -> Iterator["CategoryItem"]:
        try:
            loaded = session_of(self.config).load(self.path)
        except EdgecasesError as exc:
            raise self.CollectError(str(exc)) from None
        for index, category in enumerate(loaded.suite.categories):
            yield CategoryItem.from_parent(self, name=category.test_name, suite=loaded.suite, category=category,
                                           index=index)


class CategoryItem(pytest.Item):
    """One edge-case category, judged against its thresholds after the session's single inference."""

    def __init__(self, *, suite: Suite, category: Category, index: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite
        self.category = category
        self.index = index
        self.result: CategoryResult | None = None
        self.add_marker("edgecases")
        if category.transform is not None:
            self.add_marker("synthetic")

    def runtest(self) -> None:
        """Judge the category; raise CategoryFailed when a threshold is missed."""
        session = session_of(self.config)
        session.prepare([(self.suite, self.category)])  # no-op when the run loop prepared everything
        skip = session.skip_reason(self.suite)
        if skip:   # a shard (--edgecases-shard) infers and writes; the judge job judges
            pytest.skip(skip)
        try:
            result = session.judge(self.suite, self.category, self.index)
        except EdgecasesError as exc:
            # Still report the category (summary table, results, HTML), marked as not judged.
            self.result = unjudged(self.suite, self.category, self.index, str(exc))
            raise
        self.result = result
        self.user_properties.extend(junit_properties(result))
        if not result.passed:
            raise CategoryFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """A table, not a traceback: the user's YAML or data is at fault, not our code."""
        if isinstance(excinfo.value, CategoryFailed):
            result = excinfo.value.result
            return FailureRepr(failure_message(result), reason(result), str(self.path), self.category.line or 0)
        if isinstance(excinfo.value, EdgecasesError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Point at the category's line in the suite file."""
        return self.path, self.category.line - 1 if self.category.line else None, \
            f"edge-case category: {self.category.test_name}"


class FailureRepr:
    """A failed category's report: the message table, and its reason for one-line summaries.

    pytest's short summary (`-r`), and JUnit XML's failure message, read `longrepr.reprcrash.message`
    (pytest 9 also the first line of a plain string, pytest 8 only that): so the reason reaches
    them on every supported pytest. Under xdist pytest sends the text (`str`) across, whose first
    line is the reason too.
    """

    def __init__(self, text: str, message: str, path: str, lineno: int):
        self.text = text
        self.reprcrash = SimpleNamespace(message=message, path=path, lineno=lineno)

    def toterminal(self, tw: Any) -> None:
        """Write the message as it is (pytest calls this for the failures section and longreprtext)."""
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def junit_properties(result: CategoryResult) -> list[tuple[str, Any]]:
    """The figures CI dashboards chart, as JUnit XML properties."""
    props: list[tuple[str, Any]] = [
        ("edgecases.images", result.n_examples), ("edgecases.scored", result.n_scored),
        ("edgecases.correct", result.n_correct),
        ("edgecases.accuracy", "" if result.accuracy is None else round(result.accuracy, 4)),
        ("edgecases.ci_low", "" if result.ci_low is None else round(result.ci_low, 4)),
        ("edgecases.ci_high", "" if result.ci_high is None else round(result.ci_high, 4)),
        ("edgecases.regressions", result.regressions), ("edgecases.fixed", result.fixed),
    ]
    props += [(f"edgecases.failures.{sev}", n) for sev, n in result.failures_by_severity.items()]
    return props
