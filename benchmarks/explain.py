"""What saliency costs (issue 19: at most 1.3x): the example suite's cold run with --edgecases-explain
against the same run without it.

Cold: a fresh cache folder per run, so every prediction is inferred and every map made. Each run is a
whole `pytest --edgecases example_suite/` process (start-up, collection, inference, report and results
included), the two kinds alternating so that a busy machine slows both alike. Printed: the medians of
wall-clock time and their ratio, the median of the ratios of each alternating pair, and the same for the
CPU time the process used (user + system), which other work on a shared machine disturbs far less than
wall-clock time. Usage (from the repository root):

    python benchmarks/explain.py [--repeat 5] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(explain: bool, device: str, work: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one cold run of the example suite (it exits 1: the showcase fails on purpose)."""
    cache = Path(tempfile.mkdtemp(dir=work))
    args = [sys.executable, "-m", "pytest", "--edgecases", "example_suite/", "-q",
            f"--edgecases-cache-dir={cache}", f"--edgecases-device={device}",
            f"--edgecases-report={work / 'report.html'}", f"--edgecases-results={work / 'results.json'}"]
    if explain:
        args.append("--edgecases-explain")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1) or (explain and "saliency for" not in done.stdout):
        raise SystemExit(f"the run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    opts = parser.parse_args()
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        run(False, opts.device, Path(tmp))   # warm the OS's file cache and Python's bytecode first
        for _ in range(opts.repeat):
            for explain in (False, True):
                times[explain].append(run(explain, opts.device, Path(tmp)))
    print(f"device {opts.device}, {opts.repeat} cold runs each, alternating")
    for index, what in ((0, "wall-clock"), (1, "CPU time")):
        plain = [t[index] for t in times[False]]
        explained = [t[index] for t in times[True]]
        pairs = statistics.median(b / a for a, b in zip(plain, explained, strict=True))
        print(f"{what}: without {statistics.median(plain):.2f}s {[round(t, 2) for t in plain]}")
        print(f"{what}: with    {statistics.median(explained):.2f}s {[round(t, 2) for t in explained]}")
        print(f"{what}: ratio of medians {statistics.median(explained) / statistics.median(plain):.2f}x, "
              f"median of paired ratios {pairs:.2f}x (target: at most 1.3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
