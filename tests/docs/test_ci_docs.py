"""The CI jobs in the docs stay correct: valid YAML and shell, current action versions, artifacts kept
when the gate fails, and only command-line options the plugin has.

The tutorial's GitHub job is also run for real by test_tutorial.py; these checks cover every CI
snippet, including those no test can run (GitLab's, the pull-request comment, main's baseline).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from pytest_edgecases import plugin

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "docs" / name for name in ("ci.md", "tutorial.md", "baselines.md")]

#: Action versions the docs use (the current major versions when these pages were written).
ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/cache@v4", "actions/cache/restore@v4",
           "actions/cache/save@v4", "actions/upload-artifact@v4"}
OPTIONS = {f"--edgecases-{name}" for name, _, _ in plugin._OPTIONS} | {"--edgecases", "--edgecases-no-cache"}


def _yaml_blocks() -> list[tuple[str, Any]]:
    """(page:line, parsed YAML) of every yaml block on the CI pages."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```ya?ml[^\n]*\n(.*?)^```", text, re.M | re.S):
            if "…" in match.group(1):
                continue  # an excerpt of output, not a file (the tutorial's test checks those)
            out.append((f"{page.name}:{text[: match.start()].count(chr(10)) + 1}", yaml.safe_load(match.group(1))))
    return out


BLOCKS = _yaml_blocks()


def _github_steps() -> Iterator[tuple[str, dict]]:
    """Every GitHub Actions step on the pages: of whole workflows and of step-list excerpts."""
    for where, doc in BLOCKS:
        if isinstance(doc, dict) and "jobs" in doc:
            for job in doc["jobs"].values():
                for step in job["steps"]:
                    yield where, step
        elif isinstance(doc, list) and all(isinstance(s, dict) and ("run" in s or "uses" in s) for s in doc):
            for step in doc:
                yield where, step


def _gitlab_jobs() -> Iterator[tuple[str, dict]]:
    for where, doc in BLOCKS:
        if isinstance(doc, dict) and "jobs" not in doc:
            for job in doc.values():
                if isinstance(job, dict) and "script" in job:
                    yield where, job


def _shell(script: str) -> str:
    """A step's shell with GitHub's ${{ }} expressions replaced by a word, as the runner does."""
    return re.sub(r"\$\{\{.*?\}\}", "EXPR", script)


def test_the_pages_have_ci_jobs() -> None:
    """The checks below are not vacuous."""
    assert sum(1 for _ in _github_steps()) >= 15
    assert sum(1 for _ in _gitlab_jobs()) == 1


def test_github_actions_use_current_versions() -> None:
    """Every `uses:` is one of the current major versions."""
    used = {step["uses"] for _, step in _github_steps() if "uses" in step}
    assert used <= ACTIONS, used - ACTIONS


def test_github_artifacts_and_summary_survive_a_failing_gate() -> None:
    """Steps that keep the report, the summary or the cache run also when the pytest step failed."""
    for where, step in _github_steps():
        keeps_report = "edgecases-report.html" in str(step.get("with", {}).get("path", ""))
        writes_summary = "GITHUB_STEP_SUMMARY" in step.get("run", "") and "pytest" not in step.get("run", "")
        saves_cache = step.get("uses", "").startswith("actions/cache/save")
        if keeps_report or writes_summary or saves_cache:
            assert "always()" in str(step.get("if", "")), f"{where}: {step.get('name')} needs if: always()"
        assert not step.get("uses", "").startswith("actions/cache@"), (
            f"{where}: actions/cache saves only when the job succeeds; use cache/restore + cache/save")


def test_gitlab_keeps_artifacts_and_cache_when_the_gate_fails() -> None:
    """GitLab: artifacts when: always, a prediction cache keyed by files and saved always, JUnit report."""
    for where, job in _gitlab_jobs():
        assert job["artifacts"]["when"] == "always", where
        assert "junit" in job["artifacts"]["reports"], where
        caches = job["cache"] if isinstance(job["cache"], list) else [job["cache"]]
        prediction = [c for c in caches if ".edgecases-cache/" in c["paths"]]
        assert prediction and prediction[0]["when"] == "always" and prediction[0]["key"]["files"], where


def _commands() -> Iterator[tuple[str, str]]:
    for where, step in _github_steps():
        if "run" in step:
            yield where, step["run"]
    for where, job in _gitlab_jobs():
        for part in ("before_script", "script", "after_script"):
            for command in job.get(part, []):
                yield where, command
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```(?:sh|bash)\n(.*?)^```", text, re.M | re.S):
            yield page.name, match.group(1)


def test_commands_use_only_the_plugins_options() -> None:
    """Every --edgecases… option in the CI snippets and shell blocks exists."""
    seen = set()
    for where, command in _commands():
        for option in re.findall(r"--edgecases[\w-]*", command):
            assert option in OPTIONS, f"{where}: unknown option {option}"
            seen.add(option)
    assert {"--edgecases-cache-dir", "--edgecases-markdown", "--edgecases-baseline", "--edgecases-results"} <= seen


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_shell_snippets_parse() -> None:
    """Each run:/script: is valid bash (bash -n), as the runners would read it."""
    for where, command in _commands():
        result = subprocess.run(["bash", "-n", "-c", _shell(command)], capture_output=True, text=True)
        assert result.returncode == 0, f"{where}: {result.stderr}\n{command}"
