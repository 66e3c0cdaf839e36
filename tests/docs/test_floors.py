"""Every lower bound pyproject.toml declares is the version .ci/run installs and tests in its floors venv."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def declared_floors() -> dict[str, Version]:
    """name → the version after `>=`, for the dependencies and the `test` extra (a floor for each is required)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for text in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(text)
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{text}: declare exactly one lower bound (>=), and no upper bound"
        assert all(s.operator == ">=" for s in req.specifier), f"{text}: lower bounds only, users must be free to upgrade"
        floors[_name(req.name)] = Version(lower[0])
    return floors


def pinned_floors() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name)] = Version(version)
    return pins


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_floors_file_pins_each_direct_dependency_at_its_declared_floor() -> None:
    assert pinned_floors() == declared_floors()


def test_ci_installs_and_tests_the_floors() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert "floors.txt" in run and "example_suite" in run


def test_the_python_floor_is_the_interpreter_the_floors_venv_uses() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floor = project["requires-python"].removeprefix(">=")
    assert re.search(rf"python{re.escape(floor)} -m venv", (ROOT / ".ci" / "run").read_text())
