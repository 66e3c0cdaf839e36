"""Reading 100,000 predictions from a Parquet file and judging them (issue 16: under 3 s).

What a judge run does with a predictions file once the examples are keyed: read the file
(inference/predfiles.load), match every example's input key and check its row (match), and judge
each category (verdicts.judge). The plain loop it is set against is what a user would write
without the plugin: pyarrow to Python rows, argmax per row, accuracy per category; it checks
nothing. Both run in this process on the same file, each best of ``--repeat``. Usage:

    python benchmarks/predictions_files.py [--rows 100000] [--labels 10] [--categories 5] [--repeat 3]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pytest_edgecases.gcpolicy import paused_gc  # noqa: E402
from pytest_edgecases.inference import predfiles  # noqa: E402
from pytest_edgecases.suite import Category, Example, Preprocess, Suite, Thresholds  # noqa: E402
from pytest_edgecases.verdicts import Scored, judge  # noqa: E402


def make(work: Path, rows: int, n_labels: int, n_categories: int) -> tuple[Path, Suite, list[list[str]]]:
    """A predictions file of ``rows`` softmax rows, and a suite whose examples it covers (keys per category)."""
    rng = np.random.default_rng(0)
    labels = tuple(f"l{i}" for i in range(n_labels))
    keys = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(rows)]
    logits = rng.normal(size=(rows, n_labels)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    columns = {"key": keys, **{label: probs[:, i] for i, label in enumerate(labels)}}
    path = work / "predictions.parquet"
    pq.write_table(pa.table(columns), path)
    per = rows // n_categories
    categories, category_keys = [], []
    for c in range(n_categories):
        chunk = range(c * per, (c + 1) * per)
        examples = tuple(Example(f"img/{n}.png", work / f"img/{n}.png", labels[n % n_labels]) for n in chunk)
        categories.append(Category(name=f"c{c}", examples=examples, thresholds=Thresholds(min_accuracy=0.5)))
        category_keys.append([keys[n] for n in chunk])
    suite = Suite(name="bench", path=work / "edgecases.yaml", root=work, labels=labels, model=None,
                  preprocess=Preprocess(), categories=tuple(categories))
    return path, suite, category_keys


def plugin(path: Path, suite: Suite, category_keys: list[list[str]]) -> list[float | None]:
    with paused_gc():   # as the session infers and judges
        return _plugin(path, suite, category_keys)


def _plugin(path: Path, suite: Suite, category_keys: list[list[str]]) -> list[float | None]:
    loaded = predfiles.load([path], [path.name])
    wanted = [predfiles.Wanted(k, None, "") for keys in category_keys for k in keys]
    matched = loaded.match(suite.name, suite.labels, wanted)
    out, start = [], 0
    for cat, keys in zip(suite.categories, category_keys, strict=True):
        scored = [Scored(ex, matched.predictions[start + i], "") for i, ex in enumerate(cat.examples)]
        start += len(keys)
        out.append(judge(suite, cat, scored, {}).accuracy)
    return out


def plain(path: Path, suite: Suite, category_keys: list[list[str]]) -> list[float | None]:
    rows = pq.read_table(path).to_pylist()
    labels = list(suite.labels)
    best = {r["key"]: max(labels, key=lambda label, r=r: r[label]) for r in rows}
    return [sum(best[k] == ex.label for k, ex in zip(keys, cat.examples, strict=True)) / len(keys)
            for cat, keys in zip(suite.categories, category_keys, strict=True)]


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--categories", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, suite, keys = make(Path(tmp), args.rows, args.labels, args.categories)
        ours = min(timed(plugin, path, suite, keys) for _ in range(args.repeat))
        loop = min(timed(plain, path, suite, keys) for _ in range(args.repeat))
    assert np.allclose(ours[1], loop[1]), (ours[1], loop[1])   # same accuracies: the same work
    print(f"{args.rows:,} predictions x {args.labels} labels, {args.categories} categories")
    print(f"plugin (read, check, match, judge): {ours[0]:.2f} s   target < 3 s: {'met' if ours[0] < 3 else 'MISSED'}")
    print(f"plain loop (read, argmax, accuracy): {loop[0]:.2f} s   ratio {ours[0] / loop[0]:.2f}")


if __name__ == "__main__":
    main()
