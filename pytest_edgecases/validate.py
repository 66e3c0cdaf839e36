"""Checks on YAML-shaped input, in one place: suites, annotation files and ``transform:`` values.

Every error a user sees about what they wrote names the file and line (a :class:`Context` knows the
file and makes the :class:`EdgecasesError`), says what was found (:func:`kind_of`, :func:`value_text`)
and, for a misspelling, what was meant (:meth:`Context.check_keys`, :func:`suggest`). The transform
grammar knows no file: it names the bad value by its key path under ``transform:`` and
:func:`line_at` finds that value's line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .errors import EdgecasesError, close_matches, did_you_mean
from .yamlload import LocDict, LocList


def shown_path(path: Path, root: Path) -> str:
    """A path as shown to users: relative to the project root when inside it, POSIX separators."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def not_a_file(path: Path) -> str:
    """Why a path that should be a file is not: say "a folder" when it is one, not "does not exist"."""
    return "is a folder, not a file" if path.is_dir() else "does not exist"


def kind_of(value: Any) -> str:
    """What a value is, for "must be …, got …": "a mapping", "a list", "nothing", or its type and value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def value_text(value: Any) -> str:
    """A value written out with its kind ("the string 'x'", "the list [1, 2]"), for transform parameters,
    where the value itself (often a short list) shows what went wrong."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)!r}"
    if isinstance(value, Mapping):
        return f"the mapping {dict(value)!r}"
    return repr(value)


def suggest(word: str, choices: Sequence[str]) -> str:
    """'; did you mean 'a' or 'b'?' for up to three close choices, or those containing ``word`` ("blur"
    finds gaussian_blur and motion_blur); '' when none is close. Errors.did_you_mean gives one."""
    close = close_matches(word, choices, n=3, substring=True)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""


def format_keypath(keypath: Sequence[str | int], root: str = "transform") -> str:
    """``("occlusion", "area")`` -> ``"transform.occlusion.area"``; ``(1, "jpeg")`` -> ``"transform[1].jpeg"``."""
    out = root
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def line_at(node: Any, keypath: Sequence[str | int], line: int) -> int:
    """The line of the value ``keypath`` leads to from ``node`` (written on ``line``); where the path
    leaves the document, the line of the last value it reached."""
    for step in keypath:
        if isinstance(node, LocDict) and step in node:
            line, node = node.line_of(step), node[step]
        elif isinstance(node, LocList) and isinstance(step, int) and 0 <= step < len(node):
            line, node = node.line_of(step), node[step]
        else:
            break
    return line


class Context:
    """The YAML file being read (inside project ``root``), so that every check can name file and line."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.root = root
        self.shown = shown_path(path, root)

    def error(self, message: str, line: int | None, hint: str | None = None) -> EdgecasesError:
        """The error to raise about this file, at ``line`` (None: the file as a whole)."""
        return EdgecasesError(message, self.shown, line, hint)

    def check_keys(self, mapping: LocDict, allowed: Sequence[str], what: str | None = None, *,
                   noun: str = "key", list_valid: bool = True) -> None:
        """Refuse a key not in ``allowed``: "unknown {noun} 'k' [in {what}] (did you mean …)"."""
        where = f" in {what}" if what else ""
        for key in mapping:
            if key not in allowed:
                raise self.error(f"unknown {noun} '{key}'{where}{did_you_mean(key, allowed)}", mapping.line_of(key),
                                 hint="valid keys: " + ", ".join(allowed) if list_valid else None)

    def mapping(self, value: Any, line: int, what: str) -> LocDict:
        """``value`` itself when it is a mapping, else an error saying what it is."""
        if not isinstance(value, LocDict):
            raise self.error(f"{what} must be a mapping (key: value lines), got {kind_of(value)}", line)
        return value

    def fraction(self, value: Any, line: int, what: str) -> float:
        """A number from 0 to 1 (a share or an accuracy), as a float."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.error(f"{what} must be a number between 0 and 1, got {kind_of(value)}", line)
        return float(value)

    def count(self, value: Any, line: int, what: str) -> int:
        """A whole number >= 0 (YAML's true and false are not numbers here)."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"{what} must be a whole number >= 0, got {kind_of(value)}", line)
        return value

    def path_inside(self, raw: Any, line: int, what: str, base: Path | None = None) -> Path:
        """Resolve a path written in the file; it must be relative and stay inside the project root."""
        if not isinstance(raw, str) or not raw.strip():
            raise self.error(f"{what} must be a path (a string), got {kind_of(raw)}", line)
        if "\0" in raw:   # the OS would refuse it with a ValueError (a traceback), not an answer
            raise self.error(f"{what} {raw!r} contains a NUL character", line)
        if os.path.isabs(raw) or raw.startswith("~"):
            raise self.error(f"{what} '{raw}' is absolute", line,
                             hint="write paths relative to the suite file, inside the project")
        resolved = ((base or self.path.parent) / raw).resolve()
        if not resolved.is_relative_to(self.root):
            raise self.error(f"{what} '{raw}' resolves outside the project root {self.root}", line,
                             hint="keep data inside the project; symlinks out of it are refused too")
        return resolved

    def paths_inside(self, raw: Any, line: int, what: str) -> Iterator[tuple[Any, int, Path]]:
        """A path or a list of paths, each checked by path_inside in turn: (as written, its line, resolved)."""
        for index, entry in enumerate(raw if isinstance(raw, LocList) else [raw]):
            where = raw.line_of(index) if isinstance(raw, LocList) else line
            yield entry, where, self.path_inside(entry, where, what)
