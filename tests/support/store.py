"""Reading the prediction cache's SQLite file directly, for tests of the store and of runs that use it."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def stamps(path: Path, table: str = "predictions", column: str = "key") -> dict[str, int]:
    """``column`` -> the day it was last used, for each row of ``table``."""
    with sqlite3.connect(path) as db:
        return dict(db.execute(f"SELECT {column}, used FROM {table}"))
