"""inference/predfiles.py and inference/shard.py: reading, checking, matching and writing predictions files;
which shard an input belongs to (issue 16)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.inference import predfiles
from pytest_edgecases.inference.predfiles import Row, Wanted
from pytest_edgecases.inference.shard import Shard, parse_shard
from pytest_edgecases.prediction import Prediction

LABELS = ("red", "blue", "green")


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def csv_file(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def match(path: Path, wanted: list[Wanted], labels=LABELS, suite: str = "s") -> predfiles.Matched:
    return predfiles.load([path], [path.name]).match(suite, labels, wanted)


def test_probabilities_become_top_k_in_the_suites_label_order(tmp_path):
    path = csv_file(tmp_path, f"key,blue,green,red\n{key(1)},0.2,0.1,0.7\n")
    matched = match(path, [Wanted(key(1), None, "")])
    assert matched.predictions == {0: Prediction(top=((0, 0.7), (1, 0.2), (2, 0.1)))}


def test_logits_are_softmaxed_where_kind_says_so(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"key": key(1), "kind": "logits", "red": 2.0, "blue": 0.0, "green": -1000.0}) + "\n")
    (pred,) = match(path, [Wanted(key(1), None, "")]).predictions.values()
    assert pred.index == 0 and pred.confidence == pytest.approx(1 / (1 + 2.718281828459045 ** -2))


@pytest.mark.parametrize("row, message", [
    ("nan,0.5,0.5", "p.csv:2: a label's value is empty or NaN"),
    (",0.5,0.5", "p.csv:2: a label's value is empty or NaN"),
    ("-0.1,0.6,0.5", "p.csv:2: a probability is negative"),
    ("1.2,0.0,0.0", "p.csv:2: a probability is greater than 1"),
    ("0.5,0.3,0.1", "p.csv:2: the probabilities sum to 0.9, not 1 (± 0.001)"),
    ("0.5,abc,0.5", "p.csv:2: column 'blue' holds 'abc', not a number"),
])
def test_values_that_are_no_probabilities_are_refused(tmp_path, row, message):
    path = csv_file(tmp_path, f"key,red,blue,green\n{key(1)},{row}\n")
    with pytest.raises(EdgecasesError) as info:
        match(path, [Wanted(key(1), None, "")])
    assert str(info.value).startswith(message)


def test_a_kind_other_than_probabilities_or_logits_is_refused(tmp_path):
    path = csv_file(tmp_path, f"key,kind,red,blue,green\n{key(1)},,1,0,0\n{key(2)},scores,1,0,0\n")
    with pytest.raises(EdgecasesError, match="p.csv:3: kind 'scores' is neither probabilities nor logits"):
        match(path, [Wanted(key(1), None, ""), Wanted(key(2), None, "")])


def test_a_sum_within_the_tolerance_and_an_error_row_are_accepted(tmp_path):
    path = csv_file(tmp_path, f"key,red,blue,green,error\n{key(1)},0.5,0.3,0.2005,\n{key(2)},,,,cannot decode\n")
    got = match(path, [Wanted(key(1), None, ""), Wanted(key(2), None, "")]).predictions
    assert got[0].index == 0 and got[1] == Prediction(error="cannot decode")


def test_a_missing_or_an_extra_label_column_is_refused(tmp_path):
    missing = csv_file(tmp_path, f"key,red,blue\n{key(1)},0.5,0.5\n")
    with pytest.raises(EdgecasesError, match="no column for label 'green' of suite s"):
        match(missing, [Wanted(key(1), None, "")])
    extra = csv_file(tmp_path, f"key,red,blue,green,purple\n{key(1)},0.5,0.5,0,0\n", "extra.csv")
    with pytest.raises(EdgecasesError, match="extra.csv:2: column 'purple' is not a label of suite s"):
        match(extra, [Wanted(key(1), None, "")])


def test_duplicate_keys_must_agree(tmp_path):
    same = csv_file(tmp_path, f"key,red,blue,green\n{key(1)},1,0,0\n{key(1)},1,0,0\n")
    assert match(same, [Wanted(key(1), None, "")]).predictions[0].index == 0
    other = csv_file(tmp_path, f"key,red,blue,green\n{key(1)},1,0,0\n{key(1)},0,1,0\n", "other.csv")
    with pytest.raises(EdgecasesError, match=r"other.csv:3: key \w+… appears again with other values "
                                             r"\(first at other.csv:2\)"):
        predfiles.load([other], ["other.csv"])
    # Across files too.
    with pytest.raises(EdgecasesError, match=r"other.csv:3: key .* appears again with other values \(first at p.csv:2"):
        predfiles.load([same, other], ["p.csv", "other.csv"])


def test_empty_and_truncated_parquet_files_are_refused(tmp_path):
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    with pytest.raises(EdgecasesError, match="empty.parquet: not a readable Parquet file"):
        predfiles.load([empty], ["empty.parquet"])
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"key": [key(n) for n in range(100)], "red": [1.0] * 100, "blue": [0.0] * 100,
                             "green": [0.0] * 100}), whole)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[:-40])
    with pytest.raises(EdgecasesError, match="cut.parquet: not a readable Parquet file"):
        predfiles.load([cut], ["cut.parquet"])
    none = tmp_path / "none.parquet"
    pq.write_table(pa.table({"key": pa.array([], pa.string()), "red": pa.array([], pa.float64())}), none)
    with pytest.raises(EdgecasesError, match="none.parquet: the predictions file holds no rows"):
        predfiles.load([none], ["none.parquet"])
    text = tmp_path / "text.parquet"
    pq.write_table(pa.table({"key": [key(1)], "red": ["high"]}), text)
    with pytest.raises(EdgecasesError, match="label column 'red' holds string, not numbers"):
        predfiles.load([text], ["text.parquet"])


def test_a_truncated_json_lines_file_names_its_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"key": key(1), "red": 1, "blue": 0, "green": 0}) + '\n{"key": "ab", "red"')
    with pytest.raises(EdgecasesError, match="p.jsonl:2: not JSON"):
        predfiles.load([path], ["p.jsonl"])


def test_a_row_needs_a_key_or_a_path_and_sha256(tmp_path):
    with pytest.raises(EdgecasesError, match="no key column"):
        predfiles.load([csv_file(tmp_path, "red,blue\n1,0\n")], ["p.csv"])
    with pytest.raises(EdgecasesError, match="p.csv:3: the row has neither a key nor both path and sha256"):
        predfiles.load([csv_file(tmp_path, f"key,path,sha256,red\n{key(1)},,,1\n,a.png,,1\n")], ["p.csv"])


def test_rows_by_path_match_the_bytes_and_a_changed_image_is_stale(tmp_path):
    path = csv_file(tmp_path, "path,sha256,red,blue,green\nimg/a.png,AAAA,1,0,0\nimg/b.png,bbbb,0,1,0\n")
    got = match(path, [Wanted(key(1), "img/a.png", "aaaa"), Wanted(key(2), "img/b.png", "cccc"),
                       Wanted(key(3), None, "bbbb")])
    assert list(got.predictions) == [0]
    assert got.stale == [predfiles.Stale("img/b.png", "p.csv:3")]


def test_a_suite_column_keeps_rows_to_their_suite(tmp_path):
    path = csv_file(tmp_path, f"key,suite,red,blue,green,cat\n{key(1)},a,1,0,0,\n{key(1)},b,,,,1\n")
    loaded = predfiles.load([path], ["p.csv"])
    assert loaded.match("a", LABELS, [Wanted(key(1), None, "")]).predictions[0].index == 0
    assert loaded.match("b", ("cat",), [Wanted(key(1), None, "")]).predictions[0] == Prediction(top=((0, 1.0),))
    assert loaded.match("c", LABELS, [Wanted(key(1), None, "")]).predictions == {}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_what_is_written_reads_back_as_the_same_predictions(tmp_path, suffix):
    labels = tuple(f"l{n}" for n in range(8))
    preds = [Prediction(top=((3, 0.5), (1, 0.25), (0, 0.125), (7, 0.0625), (2, 0.03125))),
             Prediction(error="cannot decode: truncated"), Prediction(top=((0, 1.0), (1, 0.0), (2, 0.0),
                                                                           (3, 0.0), (4, 0.0)))]
    rows = [Row("s", labels, key(n), p, "0123456789abcdef") for n, p in enumerate(preds)]
    rows.append(Row("t", ("x", "y"), key(0), Prediction(top=((1, 0.75), (0, 0.25)))))
    path = tmp_path / f"out{suffix}"
    predfiles.write(path, rows)
    loaded = predfiles.load([path], [path.name])
    matched = loaded.match("s", labels, [Wanted(key(n), None, "") for n in range(3)])
    assert [matched.predictions[n] for n in range(3)] == preds
    assert matched.models == {"0123456789abcdef"}
    assert loaded.match("t", ("x", "y"), [Wanted(key(0), None, "")]).predictions[0] == rows[3].prediction
    assert not list(tmp_path.glob(".*partial"))


def test_expand_names_globs_and_refuses_what_matches_nothing(tmp_path):
    for name in ("b.parquet", "a.parquet", "c.txt"):
        (tmp_path / "parts").mkdir(exist_ok=True)
        (tmp_path / "parts" / name).write_text("")
    assert [p.name for p in predfiles.expand(["parts/*.parquet"], tmp_path)] == ["a.parquet", "b.parquet"]
    with pytest.raises(ValueError, match="'none/\\*.csv' matches no file"):
        predfiles.expand(["none/*.csv"], tmp_path)
    with pytest.raises(ValueError, match="'c.txt' is not a predictions file"):
        predfiles.expand(["parts/*"], tmp_path)


@pytest.mark.parametrize("text", ["3/2", "0/2", "x", "1/0", "2", "-1/2", ""])
def test_a_shard_is_k_of_n(text):
    with pytest.raises(ValueError, match="must be K/N"):
        parse_shard(text)


def test_shards_split_every_input_once_and_evenly():
    assert parse_shard(" 2 / 4 ") == Shard(2, 4)
    keys = [key(n) for n in range(20_000)]
    shards = [Shard(k, 4) for k in (1, 2, 3, 4)]
    sizes = [sum(1 for k in keys if s.holds(k)) for s in shards]
    assert sum(sizes) == len(keys)
    assert all(sum(s.holds(k) for s in shards) == 1 for k in keys[:500])
    assert max(sizes) - min(sizes) < 0.05 * len(keys) / 4


@pytest.mark.parametrize("model, message", [
    ("{predictions: p.txt}", "suite.yaml:3: model.predictions 'p.txt' must be a .parquet, .csv or .jsonl file"),
    ("{predictions: gone.csv}", "suite.yaml:3: model.predictions 'gone.csv' does not exist"),
    ("{predictions: ../out.csv}", "suite.yaml:3: model.predictions '../out.csv' resolves outside the project root"),
    ("{predictions: p.csv, weights: w.pt}", "suite.yaml:3: a predictions file is no model to build; remove weights:"),
])
def test_a_suites_predictions_file_is_checked_when_the_suite_is_read(tmp_path, model, message):
    from pytest_edgecases.suite import load_suite

    root = tmp_path / "project"
    (root / "img" / "red").mkdir(parents=True)
    (root / "p.csv").write_text("key,red\n")
    (root / "suite.yaml").write_text(f"suite: s\nlabels: [red, blue]\nmodel: {model}\n"
                                     "categories:\n  - name: c\n    images: img/\n")
    with pytest.raises(EdgecasesError) as info:
        load_suite(root / "suite.yaml", root)
    assert str(info.value).startswith(message)
