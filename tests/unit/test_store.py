"""inference/store.py, the prediction cache: round trip, never trusting bad entries, surviving a corrupt file,
use stamps and pruning. The cache in whole runs: tests/integration/test_cache.py."""
from __future__ import annotations

import json
import sqlite3

import pytest
from support.store import stamps

from pytest_edgecases.inference.store import PredictionCache, checksum
from pytest_edgecases.prediction import Prediction

GOOD = Prediction(top=((1, 0.75), (0, 0.25)))


def test_round_trip_and_persistence(tmp_path):
    path = tmp_path / "sub" / "predictions.sqlite"
    cache = PredictionCache(path)
    cache.put_many({"k1": GOOD, "k2": Prediction(top=((0, 1.0),))})
    assert cache.get_many(["k1", "k2", "missing"]) == {"k1": GOOD, "k2": Prediction(top=((0, 1.0),))}
    cache.close()
    reopened = PredictionCache(path)
    assert reopened.get_many(["k1"]) == {"k1": GOOD}
    reopened.close()


def test_errors_are_never_cached(tmp_path):
    cache = PredictionCache(tmp_path / "p.sqlite")
    cache.put_many({"bad": Prediction(error="corrupt or truncated image"), "ok": GOOD})
    assert cache.get_many(["bad", "ok"]) == {"ok": GOOD}


def test_more_keys_than_sqlite_binds_at_once(tmp_path):
    cache = PredictionCache(tmp_path / "p.sqlite")
    items = {f"k{i}": Prediction(top=((i % 2, 0.5 + i / 10000),)) for i in range(1200)}
    cache.put_many(items)
    assert cache.get_many(items) == items


def test_no_path_keeps_nothing(tmp_path):
    cache = PredictionCache(None)
    cache.put_many({"k": GOOD})
    assert cache.get_many(["k"]) == {}
    cache.close()


def test_a_corrupt_file_is_moved_aside(tmp_path):
    path = tmp_path / "predictions.sqlite"
    garbage = b"this is not a database, just bytes " * 200
    path.write_bytes(garbage)
    cache = PredictionCache(path)
    assert (tmp_path / "predictions.corrupt").read_bytes() == garbage
    assert cache.get_many(["k"]) == {}
    cache.put_many({"k": GOOD})
    assert cache.get_many(["k"]) == {"k": GOOD}
    cache.close()


@pytest.mark.parametrize("value", [
    "not json", "[]", "{}", '{"top": "x"}', '{"top": [[0]]}', '{"top": [[0, 1]]}', '{"top": [["0", 0.5]]}',
    '{"top": [[0, NaN]]}', '{"top": []}', '{"top": [[0, 0.5]], "error": 3}', '{"top": [[0, 0.5, 0.1]]}',
])
def test_a_malformed_entry_is_ignored(tmp_path, value):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path)
    cache.put_many({"good": GOOD})
    with sqlite3.connect(path) as db:   # with a right checksum: the value itself must be rejected
        db.execute("INSERT INTO predictions VALUES (?, ?, ?, ?)", ("bad", value, checksum("bad", value), cache.day))
    assert cache.get_many(["good", "bad"]) == {"good": GOOD}
    cache.close()


def test_a_damaged_entry_or_one_under_another_key_is_ignored(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path)
    cache.put_many({"a": GOOD, "b": Prediction(top=((0, 0.9), (1, 0.1)))})
    with sqlite3.connect(path) as db:
        # A well-formed value, bit-flipped: still valid JSON, but not what was stored.
        db.execute("UPDATE predictions SET value=replace(value, '0.75', '0.95') WHERE key='a'")
        # b's row copied under another key: the checksum binds a value to its own key.
        db.execute("INSERT INTO predictions SELECT 'c', value, checksum, used FROM predictions WHERE key='b'")
    assert cache.get_many(["a", "b", "c"]) == {"b": Prediction(top=((0, 0.9), (1, 0.1)))}
    cache.close()


def test_a_version_1_cache_is_emptied_not_misread(tmp_path):
    path = tmp_path / "p.sqlite"
    with sqlite3.connect(path) as db:   # the layout before checksums
        db.execute("CREATE TABLE predictions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('schema', '1')")
        db.execute("INSERT INTO predictions VALUES ('k', ?)", (json.dumps(GOOD.to_json()),))
    cache = PredictionCache(path)
    assert cache.get_many(["k"]) == {}
    cache.put_many({"k": GOOD})
    assert cache.get_many(["k"]) == {"k": GOOD}
    cache.close()


def test_another_schema_version_is_emptied(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path)
    cache.put_many({"k": GOOD})
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='0' WHERE name='schema'")
    assert PredictionCache(path).get_many(["k"]) == {}


def test_reads_stamp_the_day_and_a_same_day_rerun_writes_nothing(tmp_path):
    path = tmp_path / "p.sqlite"
    first = PredictionCache(path, day=100)
    first.put_many({"a": GOOD, "b": GOOD})
    first.put_digests({"img.png": ((1, 2, 3, 4, 5), "0" * 64)})
    first.put_model("recipe", "f" * 64)
    first.put_blob("thumb", "data:...")
    first.close()
    later = PredictionCache(path, day=120)
    assert later.get_many(["a"]) == {"a": GOOD}
    assert later.get_digests({"img.png": (1, 2, 3, 4, 5)}) == {"img.png": "0" * 64}
    assert later.get_model("recipe") == "f" * 64
    assert later.get_blob("thumb") == "data:..."
    later.close()
    assert stamps(path) == {"a": 120, "b": 100}
    assert stamps(path, "files", "path") == {"img.png": 120}
    assert stamps(path, "models", "recipe") == {"recipe": 120}
    assert stamps(path, "blobs") == {"thumb": 120}
    again = PredictionCache(path, day=120)
    before = again._db.total_changes
    assert again.get_many(["a", "b"]) == {"a": GOOD, "b": GOOD}   # b is stamped, a is not rewritten
    assert again._db.total_changes - before == 1
    assert again.get_many(["a", "b"]) and again.get_model("recipe") and again.get_blob("thumb")
    again.close()
    assert stamps(path) == {"a": 120, "b": 120}


def test_a_stamp_that_cannot_be_written_does_not_cost_the_cache(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path, day=1)
    cache.put_many({"a": GOOD})
    cache.close()
    cache = PredictionCache(path, day=2)
    cache._db.execute("PRAGMA query_only=1")   # every write now fails, as under a lock held too long
    assert cache.get_many(["a"]) == {"a": GOOD}
    assert cache.disabled_reason is None and cache.get_many(["a"]) == {"a": GOOD}
    cache.close()
    assert stamps(path) == {"a": 1}


def test_prune_drops_what_no_run_used_for_longer_than_the_limit(tmp_path):
    path = tmp_path / "p.sqlite"
    for day, key in ((100, "old"), (109, "edge"), (110, "new")):
        cache = PredictionCache(path, day=day)
        cache.put_many({key: GOOD})
        cache.put_model(f"recipe-{key}", "f" * 64)
        cache.put_digests({f"{key}.png": ((1, 2, 3, 4, 5), "0" * 64)})
        cache.put_blob(f"thumb-{key}", "x")
        cache.close()
    cache = PredictionCache(path, day=140)
    assert cache.get_many(["old"]) == {"old": GOOD}   # read today: kept, however old it was
    # Day 109's row in each of the four tables (31 days unused) and day 100's three not read today.
    assert cache.prune(30) == 7
    assert cache.get_many(["old", "edge", "new"]) == {"old": GOOD, "new": GOOD}
    assert cache.get_model("recipe-edge") is None and cache.get_model("recipe-new") == "f" * 64
    assert cache.get_blob("thumb-edge") is None and cache.get_blob("thumb-new") == "x"
    assert set(stamps(path, "files", "path")) == {"new.png"}
    cache.close()


def test_prune_runs_once_a_day_and_zero_days_keeps_everything(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path, day=10)
    cache.put_many({"a": GOOD})
    cache.close()
    assert PredictionCache(path, day=100).prune(0) == 0
    assert stamps(path) == {"a": 10}
    assert PredictionCache(path, day=100).prune(30) == 1
    cache = PredictionCache(path, day=10)   # a row as old again, the same day as the last prune:
    cache.put_many({"b": GOOD})
    cache.close()
    assert PredictionCache(path, day=100).prune(30) == 0   # not again today
    assert PredictionCache(path, day=101).prune(30) == 1
    assert PredictionCache(None).prune(30) == 0


def test_a_prune_that_cannot_write_is_left_to_a_later_run(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path, day=10)
    cache.put_many({"a": GOOD})
    cache.close()
    blocked = PredictionCache(path, day=100)
    blocked._db.execute("PRAGMA query_only=1")
    assert blocked.prune(30) == 0 and blocked.disabled_reason is None
    blocked.close()
    assert stamps(path) == {"a": 10}
    assert PredictionCache(path, day=100).prune(30) == 1   # the same day: the failed try recorded nothing


def test_prune_gives_the_space_back_when_most_of_the_file_is_dropped(tmp_path):
    path = tmp_path / "p.sqlite"
    cache = PredictionCache(path, day=1)
    cache.put_many({f"k{i}": Prediction(top=((i % 7, 0.5),)) for i in range(5000)})
    cache.close()
    cache = PredictionCache(path, day=2)
    cache.put_many({"kept": GOOD})
    cache.close()
    full = path.stat().st_size
    cache = PredictionCache(path, day=100)
    assert cache.get_many(["kept"]) == {"kept": GOOD}
    assert cache.prune(30) == 5000
    cache.close()
    assert path.stat().st_size < full / 4
    assert PredictionCache(path, day=100).get_many(["kept", "k1"]) == {"kept": GOOD}


def test_prediction_json_round_trip():
    assert Prediction.from_json(json.loads(json.dumps(GOOD.to_json()))) == GOOD
    assert (GOOD.index, GOOD.confidence, GOOD.margin) == (1, 0.75, 0.5)
    assert Prediction(error="x").index is None


