"""What slice discovery costs a warm rerun, with and without image properties: the example suite and 20,000 images.

Slices are on by default only while they cost under 5% of a warm rerun (issue 20). For each project
this runs the suite cold once (inference measures the images' properties as it decodes them), then
``--repeat`` rounds of warm reruns, each round one with ``--edgecases-slices=off``, one with the default
slices, and one with ``--edgecases-slices-properties=on`` (interleaved: the load of a shared machine
drifts), and prints, per project and setting:

  slices' own time in a warm rerun / the warm rerun without them ..... under 5% to be on by default
  (timed inside the run by benchmarks/_slicetimer.py: reading the stored properties, and the search)
  warm rerun with slices / without (wall clock, medians) ............. info: noisy on a shared machine
  the first warm rerun with properties after a cache without them ... info: a one-off decode of every image

The in-run timing is the figure to trust on a busy machine: a wall-clock difference of a few
percent is within the noise of two medians. Usage:

    PYTHONPATH=. python benchmarks/slices.py                    # the example suite and 20,000 images
    PYTHONPATH=. python benchmarks/slices.py --sizes 2000 --repeat 3
    PYTHONPATH=. python benchmarks/slices.py --reuse-cache   # no cold runs where their caches are left
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import workload  # noqa: E402

TIMED = re.compile(r"slices-timer: measure ([\d.]+)s, search ([\d.]+)s")


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Wall time and output of a command (PYTHONPATH: the repository and this folder, for the timer plugin)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE)])
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return seconds, proc.stdout


def timed(output: str) -> tuple[float, float]:
    """Seconds the run spent on slices: (properties read or measured, the search), from _slicetimer."""
    m = TIMED.search(output)
    if not m:
        raise SystemExit("the timer plugin printed nothing:\n" + output[-2000:])
    return float(m[1]), float(m[2])


def bench(name: str, cwd: Path, target: list[str], cache: Path, repeat: int, reuse: bool = False,
          refill: bool = True) -> None:
    base = [sys.executable, "-m", "pytest", "--edgecases", *target, "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", "-p", "_slicetimer", f"--edgecases-cache-dir={cache}", "--edgecases-report=none"]
    if reuse and (cache / "predictions.sqlite").exists():
        print(f"\n== {name}: the cache of an earlier run reused ({load()})", flush=True)
    else:
        shutil.rmtree(cache, ignore_errors=True)
        cold, _ = run(base, cwd)
        print(f"\n== {name}: cold run {cold:.1f}s ({load()})", flush=True)
    run(base, cwd)   # warm once: every cache row stamped today
    # Interleaved, one round of the three settings after another (their order turned each round): on a
    # shared machine the load drifts within minutes, and three blocks of reruns would each see another.
    settings = {"off": ["--edgecases-slices=off"], "slices (the default: no image properties)": [],
                "slices with image properties": ["--edgecases-slices-properties=on"]}
    walls: dict[str, list[float]] = {label: [] for label in settings}
    own: dict[str, list[tuple[float, float]]] = {label: [] for label in settings}
    shares: dict[str, list[float]] = {label: [] for label in settings}
    for round_ in range(repeat):
        labels = list(settings)
        labels = labels[round_ % 3:] + labels[:round_ % 3]
        for label in labels:
            seconds, output = run([*base, *settings[label]], cwd)
            walls[label].append(seconds)
            own[label].append(timed(output) if label != "off" else (0.0, 0.0))
        for label in settings:   # this round's share: its own time over this round's rerun without slices
            shares[label].append(sum(own[label][-1]) / walls["off"][-1])
    off_s = statistics.median(walls["off"])
    for label in list(settings)[1:]:
        measure = [m for m, _ in own[label]]
        search = [s for _, s in own[label]]
        own_s = statistics.median(m + s for m, s in own[label])
        share = statistics.median(shares[label])
        print(f"  [{'PASS' if share < 0.05 else 'over'}] {label}: own time / warm rerun without slices: {share:.1%} "
              f"(median of {repeat} rounds' ratios; medians {own_s:.3f}s of {off_s:.2f}s: properties "
              f"{statistics.median(measure):.3f}s, search {statistics.median(search):.3f}s; on by default under 5%)")
        print(f"  [info] {label}: warm rerun / without slices (wall, medians of {repeat}): "
              f"{statistics.median(walls[label]) / off_s:.3f}x ({statistics.median(walls[label]):.2f}s vs "
              f"{off_s:.2f}s; {load()})", flush=True)
    if not refill:
        return
    db = sqlite3.connect(str(cache / "predictions.sqlite"))
    with db:
        db.execute("DELETE FROM properties")   # as after an upgrade: predictions cached, properties not yet
        db.execute("DELETE FROM blobs WHERE key LIKE 'properties-bundle:%'")   # nor their categories' bundles
    db.close()
    seconds, output = run([*base, "--edgecases-slices-properties=on"], cwd)
    print(f"  [info] first warm rerun after a cache without properties: {seconds:.2f}s, of which measuring "
          f"(decoding every image once) and searching {sum(timed(output)):.2f}s", flush=True)


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pytest-edgecases-bench")
    parser.add_argument("--sizes", default="20000", help="image counts of the synthetic suite, comma-separated")
    parser.add_argument("--side", type=int, default=32,
                        help="the images' side in pixels (a warm rerun decodes none; 32 keeps the cold run short)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-example", action="store_true", help="skip the example suite")
    parser.add_argument("--reuse-cache", action="store_true", help="no cold run where a cache is left from one")
    parser.add_argument("--no-refill", action="store_true", help="skip the rerun that measures every image again")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; {load()}", flush=True)
    if not args.no_example:
        bench("example suite", REPO, ["example_suite/edgecases.yaml"], args.work / "example-cache", args.repeat,
              args.reuse_cache, not args.no_refill)
    for n in (int(s) for s in args.sizes.split(",") if s):
        root = workload.build_project(args.work, workload.Shape(n, args.side))
        for old in root.glob("*.edgecases.yaml"):
            old.unlink()
        model = "small32" if args.side <= 32 else "small"
        (root / f"{model}.edgecases.yaml").write_text(workload.suite_text(model, defined_by=True))
        bench(f"small CNN x {n}", root, [], root / "slices-cache", args.repeat, args.reuse_cache,
              not args.no_refill)


if __name__ == "__main__":
    main()
