"""What every benchmark section shares: running a child process with its wall time and peak RSS, the
pytest and plain-loop command lines, the table of targets (bench.py prints it at the end)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import workload  # noqa: E402

PY = sys.executable
LINE = re.compile(r"edgecases: bench: (\d+) images, (\d+) inferred, (\d+) from cache")
rows: list[tuple[str, str, str, bool | None]] = []   # (target, measured, limit, passed)


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    output: str
    code: int
    cpu: float = 0.0   # user + system seconds: on a machine busy with other work, steadier than wall time

    def inferred(self) -> tuple[int, int, int] | None:
        m = LINE.search(self.output)
        return (int(m[1]), int(m[2]), int(m[3])) if m else None


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run a command; wall time and peak RSS (the child and whatever it waited for, as wait4 reports).

    Without PYTHONDONTWRITEBYTECODE, as on a user's machine: otherwise pytest rewrites the asserts of
    every plugin module on every run (0.2 s) instead of once."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full_env = {**base, "PYTHONPATH": str(REPO), **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss / 1024, out, proc.returncode, usage.ru_utime + usage.ru_stime)


def own_rss_mb() -> float:
    """This process's peak RSS: a child's peak below it reads as this (a child's high-water mark starts at
    its parent's), so the benchmark keeps torch out of its own process."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def record(target: str, measured: str, limit: str, passed: bool | None) -> None:
    rows.append((target, measured, limit, passed))
    word = "PASS" if passed else "info" if passed is None else "FAIL"
    print(f"  [{word}] {target}: {measured} (target {limit})", flush=True)


def pytest_cmd(*args: str) -> list[str]:
    return [PY, "-m", "pytest", "--edgecases", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]


def startup_cmd() -> list[str]:
    """Bare pytest: what collecting nothing costs (run in empty_project)."""
    return [PY, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]


def activate(root: Path, model: str, *, defined_by: bool = False, categories: int = 5) -> None:
    """Make ``model``'s suite the project's only suite file."""
    for old in root.glob("*.edgecases.yaml"):
        old.unlink()
    text = workload.suite_text(model, defined_by=defined_by, categories=categories)
    (root / f"{model}.edgecases.yaml").write_text(text)


def plain(root: Path, model: str, batch: int, threads: int, out: Path | None = None) -> Run:
    cmd = [PY, str(HERE / "plain_loop.py"), str(root), model, "--batch-size", str(batch), "--threads", str(threads)]
    return run(cmd + (["--out", str(out)] if out else []), root)


def check(r: Run, what: str) -> Run:
    if r.code not in (0, 1):
        print(r.output[-3000:])
        raise SystemExit(f"{what} failed with exit code {r.code}")
    return r


def empty_project(work: Path) -> Path:
    """A folder with nothing to collect: what pytest costs by itself."""
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    (empty / "pytest.ini").write_text("[pytest]\n")
    return empty


def cold_rounds(root: Path, model: str, batch: int, flags: list[str], n: int, repeat: int
                ) -> tuple[dict[int, list[Run]], list[Run]]:
    """``repeat`` rounds of the plain loop (on every core, and on one) then a cold run (the cache under
    root/cache emptied first): each round's runs share the machine's load of that minute, so a round's
    cold run is compared with that round's faster plain loop (paired_ratios)."""
    cores = len(os.sched_getaffinity(0))
    plains: dict[int, list[Run]] = {cores: [], 1: []} if cores > 1 else {1: []}
    colds: list[Run] = []
    for i in range(repeat):
        for threads in plains:
            plains[threads].append(check(plain(root, model, batch, threads), "plain loop"))
        shutil.rmtree(root / "cache", ignore_errors=True)
        cold = check(run(pytest_cmd(*flags), root), "cold run")
        assert cold.inferred() == (n, n, 0), cold.output[-2000:]
        colds.append(cold)
        print(f"  round {i + 1}: plain {', '.join(f'{t}T {v[-1].seconds:.2f}s' for t, v in plains.items())}; "
              f"cold {cold.seconds:.2f}s, {cold.max_rss_mb:.0f} MB ({load()})", flush=True)
    return plains, colds


def paired_ratios(plains: dict[int, list[Run]], colds: list[Run]) -> list[float]:
    """Each round's cold run over that round's faster plain loop, sorted: on a machine whose load changes
    from minute to minute, their median is steadier than a ratio of medians or of bests."""
    return sorted(c.seconds / min(v[i].seconds for v in plains.values()) for i, c in enumerate(colds))
