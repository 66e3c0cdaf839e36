"""docs/tutorial.md, followed word for word in an empty folder, so the tutorial cannot rot.

The tutorial marks what a reader does with HTML comments (invisible on GitHub) before a fenced block:

- `<!-- tutorial: file PATH -->` — create PATH with the block's content;
- `<!-- tutorial: run -->`, `<!-- tutorial: run exit=N -->` — run the block with bash; it must exit 0 (or N);
- `<!-- tutorial: output -->` — the last run printed these lines, in this order (other lines may come
  between them); `…` stands for anything (timings, paths, digests); a line of only `…` is a gap;
- `<!-- tutorial: output-file PATH -->` — PATH now holds these lines, matched the same way;
- `<!-- tutorial: edit PATH "OLD" "NEW" -->` (no block) — the edit the prose asks for, OLD must occur once.

`python` and `pytest` in the commands are this interpreter (a shim on PATH), with this checkout of
pytest-edgecases importable; torch sees no GPU, so the numbers are the CPU's. Setting up the virtual
environment and installing the plugin are the only steps not run (the test runs inside one already).
The GitHub Actions job the tutorial ends with is checked too: its pytest step is run as the job would.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import pytest_edgecases

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial.md"
PACKAGE_ROOT = Path(pytest_edgecases.__file__).resolve().parents[1]

_STEP = re.compile(r"<!-- tutorial: (?P<directive>.*?) -->\n(?:\n*```[^\n]*\n(?P<body>.*?)^```)?", re.S | re.M)


@dataclass
class Step:
    """One marked step of the tutorial."""

    line: int
    action: str
    args: list[str]
    body: str | None

    def __str__(self) -> str:
        return f"docs/tutorial.md:{self.line}: {self.action} {' '.join(self.args)}".strip()


def tutorial_steps(text: str) -> list[Step]:
    """The marked steps, in order; a directive that needs a block and has none is an error."""
    steps = []
    for match in _STEP.finditer(text):
        action, *args = shlex.split(match.group("directive"))
        line = text[: match.start()].count("\n") + 1
        body = match.group("body")
        if action == "edit":
            body = None  # an edit takes no block: what follows is the tutorial's own prose or code
        elif body is None:
            raise AssertionError(f"docs/tutorial.md:{line}: '{action}' needs a fenced block right after it")
        steps.append(Step(line, action, args, body))
    return steps


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.rstrip().split("…")))


def assert_lines_in_order(expected: str, actual: str, where: Step) -> None:
    """Every line of expected (but blank and `…` ones) matches a line of actual, in order."""
    lines = [line.rstrip() for line in actual.splitlines()]
    at = 0
    for want in expected.splitlines():
        if not want.strip() or want.strip() == "…":
            continue
        pattern = _pattern(want)
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            raise AssertionError(f"{where}: no line matching\n  {want}\nin order in:\n{actual}")
        at += 1


def _shims(folder: Path) -> Path:
    """`python` and `pytest` on PATH that run this interpreter."""
    folder.mkdir()
    for name, command in (("python", f'exec "{sys.executable}" "$@"'),
                          ("python3", f'exec "{sys.executable}" "$@"'),
                          ("pytest", f'exec "{sys.executable}" -m pytest "$@"')):
        shim = folder / name
        shim.write_text(f"#!/bin/sh\n{command}\n", encoding="utf-8")
        shim.chmod(0o755)
    return folder


def _environment(shims: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "GIT_", "GITHUB_", "COV_")) and k not in ("PYTHONPATH", "CI")}
    env.update(PATH=f"{shims}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(PACKAGE_ROOT), HOME=str(home),
               CUDA_VISIBLE_DEVICES="", COLUMNS="80", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8",
               GIT_AUTHOR_NAME="Tutorial Reader", GIT_AUTHOR_EMAIL="reader@example.com",
               GIT_COMMITTER_NAME="Tutorial Reader", GIT_COMMITTER_EMAIL="reader@example.com",
               GIT_CONFIG_NOSYSTEM="1")
    return env


def _run(script: str, cwd: Path, env: dict[str, str], where: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                          encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)


def test_tutorial_steps_are_marked() -> None:
    """The page has the steps this test relies on (a marker typo would otherwise skip a step)."""
    steps = tutorial_steps(TUTORIAL.read_text(encoding="utf-8"))
    actions = {s.action for s in steps}
    assert actions == {"file", "run", "output", "output-file", "edit"}, actions
    markers = TUTORIAL.read_text(encoding="utf-8").count("<!-- tutorial:")
    assert markers == len(steps), "a <!-- tutorial: ... --> marker was not understood"
    assert any(s.action == "file" and s.args == [".github/workflows/edgecases.yml"] for s in steps)


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None, reason="needs git and bash")
def test_tutorial_word_for_word(tmp_path: Path) -> None:
    """Follow every marked step of docs/tutorial.md in an empty folder; each outcome is as the page says."""
    project = tmp_path / "lamps"
    project.mkdir()
    (tmp_path / "home").mkdir()
    env = _environment(_shims(tmp_path / "bin"), tmp_path / "home")
    last: subprocess.CompletedProcess[str] | None = None
    for step in tutorial_steps(TUTORIAL.read_text(encoding="utf-8")):
        if step.action == "file":
            target = project / step.args[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.body or "", encoding="utf-8")
        elif step.action == "run":
            expected = int(step.args[0].split("=")[1]) if step.args else 0
            last = _run(step.body or "", project, env, step)
            assert last.returncode == expected, f"{step}: exit status {last.returncode}\n{last.stdout}"
        elif step.action == "output":
            assert last is not None, f"{step}: no command ran before it"
            assert_lines_in_order(step.body or "", last.stdout, step)
        elif step.action == "output-file":
            assert_lines_in_order(step.body or "", (project / step.args[0]).read_text(encoding="utf-8"), step)
        elif step.action == "edit":
            path, old, new = step.args
            text = (project / path).read_text(encoding="utf-8")
            assert text.count(old) == 1, f"{step}: '{old}' occurs {text.count(old)} times in {path}"
            (project / path).write_text(text.replace(old, new), encoding="utf-8")
        else:
            raise AssertionError(f"{step}: unknown action")

    # The CI job the tutorial ends with: its pytest step passes on the committed project, writes the
    # Markdown summary into the step summary, and fills the prediction cache it keeps between runs.
    workflow = yaml.safe_load((project / ".github/workflows/edgecases.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["edgecases"]["steps"]
    summary = tmp_path / "step-summary.md"
    summary.touch()
    ran = 0
    for step in steps:
        script = step.get("run", "")
        if "pytest" in script or "GITHUB_STEP_SUMMARY" in script:
            result = _run(script, project, {**env, "GITHUB_STEP_SUMMARY": str(summary)}, step.get("name"))
            assert result.returncode == 0, f"CI step {step.get('name')}: exit {result.returncode}\n{result.stdout}"
            ran += 1
    assert ran == 2
    assert "**All 2 edge-case categories passed**" in summary.read_text(encoding="utf-8")
    assert list((project / ".edgecases-cache").iterdir())
