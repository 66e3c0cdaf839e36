"""Issue 17's benchmark: the Ray engine (a local Ray instance, two actors) against the local engine, both cold.

The workload is bench.py's: 2,000 PNGs in five categories, the small CNN at 64 px (workload.py). Each round
runs `pytest --edgecases` without a cache twice, as subprocesses on the same cores: the local engine, then
--edgecases-engine=ray --edgecases-ray-actors=2, which starts its own Ray instance (Ray's start-up counts,
as it would in CI). Ray's fixed cost is measured the same way on a 10-image project: the Ray run's time
there less the local engine's. The model logs its batches (BENCH_FORWARD_LOG), so each Ray run also shows
every image inferred once. The figures are medians of --repeat rounds; the load average is printed with
each round (other work on the machine disturbs both engines). Usage:

    PYTHONPATH=. python benchmarks/ray_bench.py [--images 2000] [--repeat 3] [--batch-size 32]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import workload  # noqa: E402

RAY = ("--edgecases-engine=ray", "--edgecases-ray-actors=2")


def cold(root: Path, n: int, batch: int, *engine: str) -> float:
    """Seconds of one cold run (no cache) of the project's suite; checks it inferred each image once."""
    log = root / "forward.log"
    log.unlink(missing_ok=True)
    result = bench.check(bench.run(bench.pytest_cmd("--edgecases-no-cache", f"--edgecases-batch-size={batch}",
                                                    *engine), root, env={"BENCH_FORWARD_LOG": str(log)}),
                         " ".join(engine) or "local engine")
    assert result.inferred() == (n, n, 0), result.output[-2000:]
    assert sum(int(b) for b in log.read_text().split()) == n, "an image was inferred twice, or not at all"
    return result.seconds


def project(work: Path, n: int) -> Path:
    root = workload.build_project(work, n)
    bench.activate(root, "small")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pytest-edgecases-bench")
    args = ap.parse_args()
    work = args.workdir.resolve()
    big, small = project(work, args.images), project(work, 10)
    rounds: list[tuple[float, float, float, float]] = []
    for i in range(args.repeat):
        local, ray = cold(big, args.images, args.batch_size), cold(big, args.images, args.batch_size, *RAY)
        local_10, ray_10 = cold(small, 10, args.batch_size), cold(small, 10, args.batch_size, *RAY)
        rounds.append((local, ray, local_10, ray_10))
        print(f"round {i + 1}: {args.images} images: local {local:.1f}s, Ray {ray:.1f}s; "
              f"10 images: local {local_10:.1f}s, Ray {ray_10:.1f}s ({bench.load()})", flush=True)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    startup = statistics.median(r[3] - r[2] for r in rounds)
    print(f"\nRay (local instance, 2 actors) / local engine, cold, {args.images} images: {ratio:.2f}x "
          f"(median of {len(rounds)} paired rounds; medians: local {statistics.median(r[0] for r in rounds):.1f}s, "
          f"Ray {statistics.median(r[1] for r in rounds):.1f}s)")
    print(f"Ray's start-up cost (10 images, Ray run less local run): {startup:.1f}s")


if __name__ == "__main__":
    main()
