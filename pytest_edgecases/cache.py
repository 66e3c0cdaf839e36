"""The prediction cache: content-addressed, one SQLite file, safe to share between processes.

A key is a digest of everything that changes a prediction (image bytes, transform, model
fingerprint, preprocessing, library versions, device, precision), so a stale entry can never
be looked up: it simply has a different key. Entries are written one batch per transaction,
so Ctrl-C leaves every finished batch usable; an entry that fails validation is ignored and
recomputed, and a corrupt database file is moved aside, never trusted.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Mapping

from .records import Prediction

SCHEMA = 1
_CHUNK = 500  # SQLite's default limit on bound parameters is 999


class PredictionCache:
    """get_many/put_many over a SQLite file; with path None it keeps nothing (--edgecases-no-cache)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.disabled_reason: str | None = None
        if path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
        except sqlite3.OperationalError as exc:
            # A full disk, a read-only folder, a lock held too long: the file may be fine, so leave it be.
            self._disable(f"cannot use the prediction cache at {self.path}: {exc}")
        except sqlite3.DatabaseError:
            # A corrupt file: keep it for inspection, start afresh.
            try:
                os.replace(self.path, self.path.with_suffix(".corrupt"))
                self._db = self._connect()
            except (OSError, sqlite3.Error) as exc:
                self._disable(f"cannot use the prediction cache at {self.path}: {exc}")
        except (OSError, sqlite3.Error) as exc:
            self._disable(f"cannot use the prediction cache at {self.path}: {exc}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS predictions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        if row is None or row[0] != str(SCHEMA):
            db.execute("DELETE FROM predictions")
            db.execute("UPDATE meta SET value=? WHERE name='schema'", (str(SCHEMA),))
        return db

    def _disable(self, reason: str) -> None:
        self._db = None
        if self.disabled_reason is None:
            self.disabled_reason = reason   # the session notes it in the terminal summary

    def get_many(self, keys: Iterable[str]) -> dict[str, Prediction]:
        """Cached predictions for the keys that have a valid entry."""
        if self._db is None:
            return {}
        found: dict[str, Prediction] = {}
        keys = list(keys)
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(f"SELECT key, value FROM predictions WHERE key IN ({marks})", chunk):
                    try:
                        found[key] = Prediction.from_json(json.loads(value))
                    except (ValueError, TypeError):
                        continue  # malformed entry: recompute, never trust
        except sqlite3.DatabaseError as exc:
            self._disable(f"the prediction cache {self.path} is unreadable ({exc})")
            return {}
        return found

    def put_many(self, items: Mapping[str, Prediction]) -> None:
        """Store predictions in one transaction (errors such as corrupt images are never cached)."""
        rows = [(k, json.dumps(p.to_json())) for k, p in items.items() if p.error is None]
        if self._db is None or not rows:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?)", rows)
        except sqlite3.Error as exc:
            self._disable(f"cannot write the prediction cache {self.path} ({exc})")

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None
