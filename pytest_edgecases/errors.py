"""Errors a user can act on: every one names a file, a line where there is one, and what to do."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Iterable


class EdgecasesError(Exception):
    """A problem in the user's suite, annotations, images or model, reported without a traceback."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return printable(text)


#: Control characters a terminal would obey (ANSI escapes, carriage return, backspace) and the
#: invisible bidi controls that reorder what is shown ("Trojan source"); newlines are kept.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """Text from YAML, file names or a model, made safe to print: controls shown as escapes, never obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def close_matches(word: str, choices: Iterable[str], n: int = 1, substring: bool = False) -> list[str]:
    """Up to ``n`` choices spelled like ``word``; with ``substring``, else those containing it ("blur")."""
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=n, cutoff=0.6)
    if not close and substring and len(str(word)) >= 3:
        close = [c for c in names if str(word).lower() in c][:n]
    return close


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = close_matches(word, choices)
    return f" (did you mean '{close[0]}'?)" if close else ""
