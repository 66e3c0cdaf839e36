"""Issue 21's targets: a light workload, where the plugin's fixed costs show, and 100,000 images.

``light``: 3,000 PNGs at 96 px in 10 categories, torchvision's mobilenet_v3_small from a
``factory:``, batch 64. A cold run against a plain loop that decodes on one thread (the faster of
torch on all cores or on one): the median of --repeat paired rounds, with best against best and the
CPU-time ratio beside it; and a warm rerun with ``defined_by:`` against pytest's own start-up
(``pytest --co`` in an empty folder), best of --repeat interleaved rounds.

``decode``: the plugin's decode path alone on the light workload's images, images per second for 1 to
the machine's cores decode threads (without a GPU, what shows whether decoding scales with cores).

``big`` (``--big``): the small CNN at 32 px on 20,000 and 100,000 generated images: a warm rerun's
time beyond start-up per image, and peak RSS (cold and warm) against the 20,000-image run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path

import workload
from harness import (
    HERE,
    PY,
    Run,
    activate,
    check,
    cold_rounds,
    empty_project,
    load,
    paired_ratios,
    pytest_cmd,
    record,
    run,
    startup_cmd,
)

LIGHT = workload.Shape(3000, 96, 10)
BIG = (workload.Shape(20000, 32, 5), workload.Shape(100000, 32, 5))
HINT = "model built only to identify it"


def _best(runs: list[Run]) -> float:
    return min(r.seconds for r in runs)


def bench_light(work: Path, args: argparse.Namespace) -> None:
    root = workload.build_project(work, LIGHT)
    n, model, batch = LIGHT.n, "light", 64
    activate(root, model, categories=LIGHT.categories)
    cache = root / "cache"
    flags = [f"--edgecases-batch-size={batch}", f"--edgecases-cache-dir={cache}"]
    print(f"\n== light: mobilenet_v3_small (factory) x {n} at {LIGHT.side} px, batch {batch} ({load()})", flush=True)
    plains, colds = cold_rounds(root, model, batch, flags, n, args.repeat)
    best_plain = min(_best(v) for v in plains.values())
    ratio = _best(colds) / best_plain
    # The median of the paired ratios is the figure judged; best against best (rounds apart) is shown with it.
    paired = paired_ratios(plains, colds)
    median = statistics.median(paired)
    others = ", ".join(f"torch on {t} thread(s) {_best(v):.2f}s" for t, v in plains.items())
    cpu = min(r.cpu for r in colds) / min(r.cpu for v in plains.values() for r in v)
    record(f"light x {n}: cold run / plain loop (one decode thread)",
           f"{median:.2f}x (median of {len(colds)} paired rounds: {', '.join(f'{x:.2f}' for x in paired)}; "
           f"best of {len(colds)} {ratio:.2f}x: plugin {_best(colds):.2f}s, plain loop {others}; "
           f"CPU time {cpu:.2f}x)", "<= 1.10x", median <= 1.10)

    bare = check(run(pytest_cmd(*flags), root), "warm run without defined_by")
    record(f"light x {n}: warm rerun without defined_by: says what it costs",
           f"{bare.seconds:.2f}s; " + (next(line.strip() for line in bare.output.splitlines() if HINT in line)
                                        if HINT in bare.output else "NO HINT"), "the hint line", HINT in bare.output)
    activate(root, model, defined_by=True, categories=LIGHT.categories)
    check(run(pytest_cmd(*flags), root), "first run with defined_by")   # builds once, records the recipe
    empty = empty_project(work)
    warms, starts = [], []
    for _ in range(args.repeat):
        starts.append(run(startup_cmd(), empty))
        warms.append(check(run(pytest_cmd(*flags), root), "warm run"))
        assert warms[-1].inferred() == (n, 0, n), warms[-1].output[-2000:]
    limit = _best(starts) + 0.5 + 0.0001 * n
    record(f"light x {n}: warm rerun with defined_by",
           f"{_best(warms):.2f}s (best of {len(warms)}; pytest --co in an empty folder {_best(starts):.2f}s)",
           f"<= {limit:.2f}s: start-up + 0.5s + 0.1 ms/image", _best(warms) <= limit)
    activate(root, model, categories=LIGHT.categories)


def bench_big(work: Path, args: argparse.Namespace) -> None:
    """The small CNN at 32 px on 20,000 and 100,000 images: cold and warm peak RSS, warm time per image."""
    empty = empty_project(work)
    figures: dict[int, dict[str, float]] = {}
    for shape in BIG:
        root = workload.build_project(work, shape)
        n = shape.n
        activate(root, "small32", defined_by=True)
        cache = root / "cache"
        flags = [f"--edgecases-batch-size={args.batch_size}", f"--edgecases-cache-dir={cache}"]
        print(f"\n== big: small CNN x {n} at {shape.side} px ({load()})", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
        cold = check(run(pytest_cmd(*flags), root), "cold run")
        assert cold.inferred() == (n, n, 0), cold.output[-2000:]
        warms, starts = [], []
        for _ in range(args.repeat):
            starts.append(run(startup_cmd(), empty))
            warms.append(check(run(pytest_cmd(*flags), root), "warm run"))
            assert warms[-1].inferred() == (n, 0, n), warms[-1].output[-2000:]
        best = min(warms, key=lambda r: r.seconds)
        figures[n] = {"cold_rss": cold.max_rss_mb, "warm_rss": max(w.max_rss_mb for w in warms),
                      "warm": best.seconds, "start": _best(starts)}
        print(f"  cold {cold.seconds:.1f}s, {cold.max_rss_mb:.0f} MB; warm best {best.seconds:.2f}s, "
              f"{figures[n]['warm_rss']:.0f} MB; pytest start-up {_best(starts):.2f}s ({load()})", flush=True)
    small, large = (figures[s.n] for s in BIG)
    n = BIG[1].n
    per = (large["warm"] - large["start"]) / n * 1000
    record(f"big x {n}: warm rerun beyond start-up, per image",
           f"{per:.3f} ms ({large['warm']:.2f}s - {large['start']:.2f}s start-up, best of {args.repeat})",
           "<= 0.05 ms", per <= 0.05)
    for what, target, limit in (("warm", "< 1.5x", 1.5), ("cold", "< 1.2x (flat)", 1.2)):
        a, b = small[f"{what}_rss"], large[f"{what}_rss"]
        record(f"big: peak RSS, {what} run, {n:,} vs {BIG[0].n:,} images", f"{b / a:.2f}x ({b:.0f} MB vs {a:.0f} MB)",
               target, b / a < limit)


def bench_decode(work: Path, args: argparse.Namespace) -> None:
    """Images per second through the plugin's decode path (predict.prepare) for 1..cores threads."""
    root = workload.build_project(work, LIGHT)
    activate(root, "light", categories=LIGHT.categories)
    cores = len(os.sched_getaffinity(0))
    threads = sorted({1, *range(2, cores + 1, max(1, cores // 4)), cores})
    print(f"\n== decode: {LIGHT.n} PNGs at {LIGHT.side} px, {cores} cores ({load()})", flush=True)
    out = check(run([PY, str(HERE / "decode_rate.py"), str(root), "light.edgecases.yaml", "--threads",
                     ",".join(map(str, threads)), "--repeat", str(args.repeat)], root), "decode rate")
    rates = {int(k): v for k, v in json.loads(out.output.strip().splitlines()[-1]).items()}
    for t, rate in rates.items():
        record(f"decode throughput, {t} thread(s) of {cores} cores", f"{rate:.0f} images/s "
               f"({rate / rates[1]:.2f}x one thread; best of {args.repeat})", "info", None)
