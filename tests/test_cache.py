"""The prediction cache: round trip, never trusting bad entries, surviving a corrupt file."""
from __future__ import annotations

import json
import sqlite3

import pytest

from pytest_edgecases.cache import PredictionCache, checksum
from pytest_edgecases.records import Prediction

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
        db.execute("INSERT INTO predictions VALUES (?, ?, ?)", ("bad", value, checksum("bad", value)))
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
        db.execute("INSERT INTO predictions SELECT 'c', value, checksum FROM predictions WHERE key='b'")
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


def test_prediction_json_round_trip():
    assert Prediction.from_json(json.loads(json.dumps(GOOD.to_json()))) == GOOD
    assert (GOOD.index, GOOD.confidence, GOOD.margin) == (1, 0.75, 0.5)
    assert Prediction(error="x").index is None


def test_a_corrupt_cache_does_not_break_a_run(tiny_project, pytester):
    tiny_project()
    (pytester.path / "preds").mkdir()
    (pytester.path / "preds/predictions.sqlite").write_bytes(b"\x00garbage" * 100)
    result = pytester.runpytest("--edgecases", "--edgecases-cache-dir=preds")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["edgecases: colours: 24 images, 24 inferred, 0 from cache*"])
    rerun = pytester.runpytest("--edgecases", "--edgecases-cache-dir=preds")
    rerun.stdout.fnmatch_lines(["edgecases: colours: 24 images, 0 inferred, 24 from cache*"])
