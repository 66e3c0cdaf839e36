"""The prediction cache: content-addressed, one SQLite file, safe to share between processes.

A key is a digest of everything that changes a prediction (keys.py lists every input), so a
stale entry can never be looked up: it simply has a different key. Each entry carries a checksum of its key and value,
so a damaged entry, or a value stored under another key, is ignored and recomputed. Entries are
written one batch per transaction, so Ctrl-C leaves every finished batch usable; a corrupt
database file is moved aside, never trusted.

Two small memos live in the same file, both only shortcuts to values that could be recomputed:
the SHA-256 of each image file keyed by its full stat (any change to the file's size, times,
inode or device means it is read and hashed again), and the model fingerprint of a model that
is fully determined by files (a torchvision architecture with a weights file, a TorchScript
archive), keyed by a digest of those files and the versions; this lets a rerun with nothing
changed skip importing torch. ``properties`` keeps each image's cheap properties (properties.py)
under a key without the model (keys.properties_key), so a new model measures nothing again.
``blobs`` keeps report thumbnails keyed by the digest of the bytes they were made from, and each
category's image properties in one value (keys.properties_bundle_key). ``runs``
tells the other workers of a pytest-xdist run the model key the first one computed, so that they
need not build the model to read its predictions.

Every row of the five lasting tables records the day (UTC) it was last written or read, at most one
write a day per row, so a rerun on the same day writes nothing. ``prune`` drops the rows no run has
used for a number of days: a cache kept between CI runs would otherwise grow with every model.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from ..prediction import PROPERTIES, ImageProperties, Prediction

T = TypeVar("T")

#: The layout of the cache file; a file of another schema has its tables dropped (keys.py lists what keys hold).
SCHEMA = 4   # 2: each prediction carries a checksum of its key and value; 3: the day each row was last used;
#              4: image properties (keys.properties_key), beside the predictions
_CHUNK = 500  # SQLite's default limit on bound parameters is 999
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: The tables that last from run to run, and each one's key column.
_LASTING = {"predictions": "key", "files": "path", "models": "recipe", "blobs": "key", "properties": "key"}

#: What the stat memo compares: any difference and the file is hashed again.
Stat = tuple[int, int, int, int, int]   # size, mtime_ns, ctime_ns, inode, device


def _chunks(keys: list[str]) -> Iterator[tuple[list[str], str]]:
    """Keys in slices SQLite can bind at once, each with its ``?,?,…`` placeholder list."""
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def today() -> int:
    """Days since the epoch, UTC: the unit of the cache's last-used stamps."""
    return int(time.time() // 86400)


def _properties_text(props: ImageProperties) -> str:
    """Image properties as stored: their values in PROPERTIES order, comma-separated (a warm rerun reads
    one row per image, and this parses several times faster than JSON)."""
    return ",".join(repr(getattr(props, name)) for name in PROPERTIES)


def _properties_from_text(text: str) -> ImageProperties:
    """Inverse of _properties_text; raises ValueError on anything malformed."""
    values = text.split(",")
    if len(values) != len(PROPERTIES):
        raise ValueError("malformed image properties")
    b, c, s, w, h, a = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (b, c, s, a)) or w != int(w) or h != int(h):
        raise ValueError("malformed image properties")
    return ImageProperties(brightness=b, contrast=c, sharpness=s, width=int(w), height=int(h), aspect=a)


def _bundle_from_text(text: str, count: int) -> list[ImageProperties]:
    """``count`` images' properties from their _properties_text joined by commas; raises ValueError on
    anything malformed. In C loops (map, slices): a large category has tens of thousands."""
    values = list(map(float, text.split(",")))
    width = len(PROPERTIES)
    if len(values) != width * count or not all(map(math.isfinite, values)):
        raise ValueError("malformed image properties")
    widths, heights = values[3::width], values[4::width]
    ints_w, ints_h = list(map(int, widths)), list(map(int, heights))
    if ints_w != widths or ints_h != heights:
        raise ValueError("malformed image properties")
    # _make is tuple.__new__: in C, where calling the class runs a Python __new__ per image.
    return list(map(ImageProperties._make, zip(values[0::width], values[1::width], values[2::width], ints_w, ints_h,
                                               values[5::width], strict=True)))


def checksum(key: str, value: str) -> str:
    """Binds a stored value to its key: a damaged row, or a value under another key, fails it."""
    return hashlib.sha256(f"{key}\0{value}".encode()).hexdigest()[:32]


class PredictionCache:
    """get_many/put_many over a SQLite file; with path None it keeps nothing (--edgecases-no-cache)."""

    def __init__(self, path: Path | None, *, day: int | None = None):
        self.path = path
        self.day = today() if day is None else day   # stamped on every row written or read
        self._db: sqlite3.Connection | None = None
        self.disabled_reason: str | None = None
        self._lock = threading.Lock()            # the blob memo is read from the report's threads
        self._blobs: dict[str, str] = {}         # written in one transaction by close()
        self._blobs_read: set[str] = set()       # blobs read whose stamp is older than today
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
        db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # A committed batch survives the process being killed; only an OS crash or power cut can lose
        # the last few, and then the database is still consistent. Syncing every batch to disk would
        # cost more than a cache is worth.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        if row is None or row[0] != str(SCHEMA):
            with db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
                if row is None or row[0] != str(SCHEMA):   # still: no other process upgraded it meanwhile
                    for table in (*_LASTING, "runs"):
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        db.execute("CREATE TABLE IF NOT EXISTS predictions (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                   "checksum TEXT NOT NULL, used INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
                   "ctime_ns INTEGER, inode INTEGER, device INTEGER, sha256 TEXT NOT NULL, used INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS models (recipe TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                   "used INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                   "checksum TEXT NOT NULL, used INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS properties (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                   "checksum TEXT NOT NULL, used INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS runs (run TEXT NOT NULL, suite TEXT NOT NULL, value TEXT NOT NULL, "
                   "PRIMARY KEY (run, suite))")
        return db

    def _disable(self, reason: str) -> None:
        self._db = None
        if self.disabled_reason is None:
            self.disabled_reason = reason   # the session notes it in the terminal summary

    def get_many(self, keys: Iterable[str]) -> dict[str, Prediction]:
        """Cached predictions for the keys that have a valid entry."""
        return self._get_checked("predictions", keys, Prediction.from_json)

    def get_properties(self, keys: Iterable[str]) -> dict[str, ImageProperties]:
        """Stored image properties (keys.properties_key) for the keys that have a valid entry."""
        return self._get_checked("properties", keys, _properties_from_text, parse_json=False)

    def put_properties(self, items: Mapping[str, ImageProperties]) -> None:
        """Store image properties in one transaction."""
        rows = [(k, v, checksum(k, v)) for k, v in ((k, _properties_text(p)) for k, p in items.items())]
        if self._db is not None and rows:
            self._write("INSERT OR REPLACE INTO properties VALUES (?, ?, ?, ?)", [(*row, self.day) for row in rows])

    def get_properties_bundle(self, key: str, count: int) -> list[ImageProperties] | None:
        """The ``count`` images' properties stored under a bundle key (keys.properties_bundle_key), or None."""
        text = self.get_blob(key) if count else None
        if text is None:
            return None
        try:
            return _bundle_from_text(text, count)
        except (ValueError, TypeError):
            return None   # malformed: measured or read image by image, and stored again

    def put_properties_bundle(self, key: str, items: list[ImageProperties]) -> None:
        """Store a category's properties under its bundle key (written with the other blobs, on close)."""
        if items:
            self.put_blob(key, ",".join(map(_properties_text, items)))

    def _get_checked(self, table: str, keys: Iterable[str], parse: Callable[[Any], T],
                     parse_json: bool = True) -> dict[str, T]:
        """The valid entries of a checksummed table (``parse``, of the JSON value or of the text, raises
        ValueError or TypeError on a bad one)."""
        if self._db is None:
            return {}
        found: dict[str, T] = {}
        old: list[str] = []
        keys = list(keys)
        try:
            for chunk, marks in _chunks(keys):
                rows = self._db.execute(
                    f"SELECT key, value, checksum, used FROM {table} WHERE key IN ({marks})", chunk)
                for key, value, check, used in rows:
                    if check != checksum(key, value):
                        continue  # damaged, or not this key's value: recompute
                    try:
                        found[key] = parse(json.loads(value) if parse_json else value)
                    except (ValueError, TypeError):
                        continue  # malformed entry: recompute, never trust
                    if used != self.day:
                        old.append(key)
        except sqlite3.DatabaseError as exc:
            self._disable(f"the prediction cache {self.path} is unreadable ({exc})")
            return {}
        self._stamp(table, old)
        return found

    def put_many(self, items: Mapping[str, Prediction]) -> None:
        """Store predictions in one transaction (errors such as corrupt images are never cached)."""
        rows = [(k, v, checksum(k, v)) for k, v in ((k, json.dumps(p.to_json())) for k, p in items.items()
                                                     if p.error is None)]
        if self._db is None or not rows:
            return
        self._write("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?)", [(*row, self.day) for row in rows])

    def _stamp(self, table: str, keys: list[str]) -> None:
        """Mark rows just read as used today (one transaction; none when all were used today already)."""
        if self._db is None or not keys:
            return
        column = _LASTING[table]
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for chunk, marks in _chunks(keys):
                    self._db.execute(f"UPDATE {table} SET used=? WHERE {column} IN ({marks})", [self.day, *chunk])
        except sqlite3.Error:
            # Bookkeeping only: unstamped rows look older and may be pruned sooner. What was read is
            # still good, so a cache that cannot take this write (a lock held too long) stays in use.
            pass

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """One transaction: all rows or none (Ctrl-C in the middle rolls it back)."""
        assert self._db is not None
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            self._disable(f"cannot write the prediction cache {self.path} ({exc})")

    def get_digests(self, stats: Mapping[str, Stat]) -> dict[str, str]:
        """SHA-256 of the files whose stat is exactly the one recorded with it."""
        if self._db is None or not stats:
            return {}
        paths = list(stats)
        found: dict[str, str] = {}
        old: list[str] = []
        try:
            for chunk, marks in _chunks(paths):
                for path, *stat, sha, used in self._db.execute(
                        "SELECT path, size, mtime_ns, ctime_ns, inode, device, sha256, used FROM files "
                        f"WHERE path IN ({marks})", chunk):
                    if tuple(stat) == tuple(stats[path]) and isinstance(sha, str) and _HEX64.match(sha):
                        found[path] = sha
                        if used != self.day:
                            old.append(path)
        except sqlite3.DatabaseError as exc:
            self._disable(f"the prediction cache {self.path} is unreadable ({exc})")
            return {}
        self._stamp("files", old)
        return found

    def put_digests(self, digests: Mapping[str, tuple[Stat, str]]) -> None:
        """Record each file's SHA-256 with the stat it had when it was read."""
        if self._db is not None and digests:
            self._write("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(path, *stat, sha, self.day) for path, (stat, sha) in digests.items()])

    def get_model(self, recipe: str) -> str | None:
        """The fingerprint recorded for a model recipe, if any."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT fingerprint, used FROM models WHERE recipe=?", (recipe,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._disable(f"the prediction cache {self.path} is unreadable ({exc})")
            return None
        if not (row and isinstance(row[0], str) and _HEX64.match(row[0])):
            return None
        if row[1] != self.day:
            self._stamp("models", [recipe])
        return row[0]

    def put_model(self, recipe: str, fingerprint: str) -> None:
        """Record the fingerprint of the model a recipe builds."""
        if self._db is not None:
            self._write("INSERT OR REPLACE INTO models VALUES (?, ?, ?)", [(recipe, fingerprint, self.day)])

    def get_run(self, run: str, suite: str) -> dict[str, str] | None:
        """What put_run recorded for this run and suite, if anything."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM runs WHERE run=? AND suite=?", (run, suite)).fetchone()
            value = json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError):
            return None
        ok = isinstance(value, dict) and all(isinstance(value.get(k), str) for k in ("env", "model", "device"))
        return value if ok and _HEX64.match(value["env"]) and _HEX64.match(value["model"]) else None

    def put_run(self, run: str, suite: str, value: dict[str, str]) -> None:
        """Record a run's model key for a suite (and forget other runs': they are over, or need not it)."""
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM runs WHERE run != ?", (run,))
                self._db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (run, suite, json.dumps(value)))
        except sqlite3.Error as exc:
            self._disable(f"cannot write the prediction cache {self.path} ({exc})")

    def get_blob(self, key: str) -> str | None:
        """A memoised value (thread-safe), or None."""
        with self._lock:
            if key in self._blobs:
                return self._blobs[key]
            if self._db is None:
                return None
            try:
                row = self._db.execute("SELECT value, checksum, used FROM blobs WHERE key=?", (key,)).fetchone()
            except sqlite3.Error:
                return None
            if not (row and row[1] == checksum(key, row[0])):
                return None
            if row[2] != self.day:
                self._blobs_read.add(key)   # stamped by close(), in one transaction
        return row[0]

    def put_blob(self, key: str, value: str) -> None:
        """Memoise a value (thread-safe); written when the cache is closed."""
        with self._lock:
            self._blobs[key] = value

    def close(self) -> None:
        """Write memoised blobs, stamp the ones read, and close the database."""
        if self._db is not None:
            if self._blobs:
                self._write("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)",
                            [(k, v, checksum(k, v), self.day) for k, v in self._blobs.items()])
                self._blobs.clear()
            self._stamp("blobs", list(self._blobs_read))
            self._blobs_read.clear()
            if self._db is not None:
                self._db.close()
                self._db = None

    def prune(self, max_age: int) -> int:
        """Drop the rows no run has written or read for more than ``max_age`` days; how many went.

        At most once a day per cache file (the day is recorded in ``meta``), so a rerun pays one
        read for it. Dropping is never a risk to correctness: a dropped row is recomputed when next
        needed, and a prune that cannot be done (the file locked too long) is simply tried by a later
        run. The space is reused by later rows; the file is compacted only when more than half of it
        is free, and only if no other process has it open.
        """
        if self._db is None or max_age <= 0:
            return 0
        try:
            row = self._db.execute("SELECT value FROM meta WHERE name='pruned'").fetchone()
            if row is not None and row[0] == str(self.day):
                return 0
            dropped = 0
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for table in _LASTING:
                    dropped += self._db.execute(f"DELETE FROM {table} WHERE used < ?", (self.day - max_age,)).rowcount
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('pruned', ?)", (str(self.day),))
        except sqlite3.Error:
            return 0
        try:
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            if dropped and free * 2 > pages:
                self._db.execute("VACUUM")
        except sqlite3.Error:
            pass   # busy (another run has it open): the free pages are reused all the same
        return dropped
