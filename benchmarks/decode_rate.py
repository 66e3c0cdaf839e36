"""The plugin's decode path alone (read and hash, decode, resize, to a uint8 tensor: what
inference/predict.py runs in its decode threads, here with no digest to compare), in images per second
for a number of threads.

Run by bench.py's ``decode`` section as a child process (it imports torch), so that the figure for
each thread count can be set against the machine's cores. Usage:

    python benchmarks/decode_rate.py PROJECT SUITE --threads 1,2 [--repeat 3]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import time
from pathlib import Path

from pytest_edgecases.inference.predict import prepare
from pytest_edgecases.inference.preprocess import Preprocessor
from pytest_edgecases.inference.runner import Job
from pytest_edgecases.suite import load_suite


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("suite", type=Path)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = args.root.resolve()
    suite = load_suite(root / args.suite, root)
    pre = Preprocessor(suite.preprocess, suite)
    files = sorted({ex.file for cat in suite.categories for ex in cat.examples}, key=str)
    jobs = [Job(str(i), f, None, 0, "", measure=False) for i, f in enumerate(files)]   # as a run without properties
    rates: dict[int, float] = {}
    for threads in (int(t) for t in args.threads.split(",")):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            with cf.ThreadPoolExecutor(max_workers=threads) as pool:
                for prepared in pool.map(lambda job: prepare(job, pre), jobs):
                    assert not isinstance(prepared.value, str), prepared.value
            best = min(best, time.perf_counter() - start)
        rates[threads] = len(jobs) / best
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
