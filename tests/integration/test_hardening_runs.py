"""Issue 9, continued: runs that go wrong around the suite rather than in it.

Ctrl-C, a full disk, a read-only project, several sessions at once, and the same run twice. Each
test is one case of docs/what-happens-when.md (the @case line says what the page says). Subprocesses
only where a real process is the point (a signal, concurrent sessions); everything else runs in-process.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from support.project import inferred_line
from test_hardening import HEAD, SUITE, Project, assert_clean

import pytest_edgecases
from pytest_edgecases import files

#: Where this checkout's plugin lives: subprocesses must import it, not another installed copy.
PACKAGE_ROOT = Path(pytest_edgecases.__file__).resolve().parent.parent
#: The tiny model with a bias that makes the dark red images fail: results with failures in them.
FAILING = SUITE.replace('"tinymodel:build"', '"tinymodel:build", args: {bias: 1.0}')
#: Case id -> (the input, what happens), for the docs page.
RUNS: dict[str, tuple[str, str]] = {}


def case(id: str, given: str, outcome: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a test as a case of the corpus."""
    def register(test: Callable[..., Any]) -> Callable[..., Any]:
        RUNS[id] = (given, outcome)
        return test
    return register


def pytest_process(root: Path, *args: str) -> subprocess.Popen[str]:
    """pytest --edgecases in a child process, importing this checkout's plugin."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.Popen([sys.executable, "-m", "pytest", "--edgecases", "-p", "no:cacheprovider", *args], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen[str], timeout: float) -> str:
    """Its output; a child still running after ``timeout`` seconds is a hang: killed, and the test fails."""
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"pytest still running after {timeout}s:\n{proc.communicate()[0]}")


def same_results(path: Path) -> dict[str, Any]:
    """A results file without what differs between two runs of the same thing: when it ran, how long it took,
    and how many predictions came from the cache rather than the model."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    for category in doc["categories"]:
        for key in ("date", "seconds", "inferred", "cached"):
            category["run"].pop(key)
    return doc


def intact(cache: Path) -> None:
    """The prediction cache is a sound SQLite file."""
    with contextlib.closing(sqlite3.connect(cache)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
            tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny colour project; dark red images fail (bias 1.0), so results hold failures."""
    p = Project(pytester, monkeypatch, tmp_path_factory.mktemp("outside"))
    p.suite(FAILING)
    return p


# -- Ctrl-C ---------------------------------------------------------------------------------------------

#: conftest's counting model (each batch's size to forward.log); from its third batch on it sleeps
#: (SLOW_MODEL_SECONDS, default 60 s), so that Ctrl-C lands in the user's code however late the test sends it.
SLOW_MODEL = '''
import os
import time

from countmodel import CountingNet


class Slow(CountingNet):
    batches = 0

    def forward(self, x):
        out = super().forward(x)   # logged
        Slow.batches += 1
        if Slow.batches >= 3:
            time.sleep(float(os.environ.get("SLOW_MODEL_SECONDS", "60")))
        return out


def build(bias=0.0):
    return Slow(bias)
'''


@case("run-ctrl-c", "Ctrl-C (SIGINT) while the model is inferring",
      "pytest stops within seconds with its interrupted status (2): a KeyboardInterrupt line, no traceback, "
      "nothing of ours in it, no results or report half-written; the batches finished before it are cached "
      "and the next run completes with the right verdicts")
def test_ctrl_c_during_inference(project: Project, monkeypatch: pytest.MonkeyPatch,
                                 forward_log: Callable[[], list[int]]) -> None:
    project.write("slowmodel.py", SLOW_MODEL)
    project.suite(FAILING.replace("tinymodel:build", "slowmodel:build"))
    proc = pytest_process(project.root, "--edgecases-cache-dir=.cache", "--edgecases-batch-size=2",
                          "--edgecases-results=results.json", "--edgecases-report=report.html")
    deadline = time.monotonic() + 120   # a cold start imports torch
    while len(forward_log()) < 3:   # two batches done, the third asleep
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0] if proc.poll() else "slow"
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out = finish(proc, timeout=60)
    assert time.monotonic() - sent < 15, "not prompt"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "slowmodel.py" in out, out   # where the model was: the user's code
    for unwanted in ("Traceback", "site-packages", "pytest_edgecases", "INTERNALERROR"):
        assert unwanted not in out, out
    assert project.written() == {".cache"} and not list(project.root.glob(".*.tmp"))
    intact(project.root / ".cache/predictions.sqlite")

    monkeypatch.setenv("SLOW_MODEL_SECONDS", "0")
    result = project.run()
    result.assert_outcomes(passed=1, failed=1)
    # The two batches finished before Ctrl-C were cached; the one it interrupted was not.
    assert inferred_line(result) == (12, 8, 4)
    assert [e["correct"] for e in project.results()["dark"]["examples"]] == [True] * 3 + [False] * 3
    # And what came from that cache is what the model says now.
    project.run("--edgecases-no-cache", "--edgecases-results=fresh.json")
    assert same_results(project.root / "results.json") == same_results(project.root / "fresh.json")


# -- a full disk ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (needs root and the right to mount: skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; run-disk-full-simulated covers the same outcome")
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); run-disk-full-simulated covers it")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    """Write until the disk is full."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@case("run-disk-full", "report, results, Markdown and cache on a disk that is full (a 512 KiB tmpfs)",
      "the run completes with the same verdicts and exit status; one note per output that could not be "
      "written and one for the cache; the previous report and results are left whole; the cache is not "
      "thrown away, and once there is room again the next run reads all of it")
def test_full_disk(project: Project, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "512k") as disk:
        args = (f"--edgecases-cache-dir={disk}/cache", f"--edgecases-report={disk}/report.html",
                f"--edgecases-results={disk}/results.json", f"--edgecases-markdown={disk}/summary.md")
        project.run(*args).assert_outcomes(passed=1, failed=1)
        before = {name: (disk / name).read_bytes() for name in ("report.html", "results.json", "summary.md")}
        fill(disk)
        result = project.run(*args)
        result.assert_outcomes(passed=1, failed=1)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines([
            f"edgecases: cannot use the prediction cache at {disk}/cache/predictions.sqlite: *; ran without it",
            f"edgecases: could not write the results file {disk}/results.json: No space left on device",
            f"edgecases: could not write the Markdown summary file {disk}/summary.md: No space left on device",
            f"edgecases: could not write the report file {disk}/report.html: No space left on device"])
        assert_clean(project, result)
        assert {name: (disk / name).read_bytes() for name in before} == before
        assert not list(disk.glob(".*.tmp"))
        (disk / "filler").unlink()
        result = project.run(*args)
        assert inferred_line(result) == (12, 0, 12)
        (project.outside_dir / "first.json").write_bytes(before["results.json"])
        assert same_results(disk / "results.json") == same_results(project.outside_dir / "first.json")


class FullDisk:
    """Stands in for the os module in files.py: each temporary file takes 100 bytes, then the disk is full."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fdopen(fd: int, mode: str, encoding: str | None = None) -> "FullFile":
        return FullFile(os.fdopen(fd, mode, encoding=encoding))


class FullFile:
    """A file on a disk with 100 bytes left."""

    def __init__(self, real: io.TextIOWrapper):
        self.real = real

    def write(self, text: str) -> int:
        self.real.write(text[:100])
        self.real.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> "FullFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.real.close()


@case("run-disk-full-simulated", "every output's write failing with ENOSPC after 100 bytes (simulated)",
      "the run completes with the same verdicts; one note per output; the half-written temporary files are "
      "removed and the previous files are left whole")
def test_full_disk_simulated(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("--edgecases-markdown=summary.md", "--edgecases-review-queue=queue.yaml",
            "--edgecases-save-baseline=baseline.json")
    project.run(*args).assert_outcomes(passed=1, failed=1)
    names = ("report.html", "results.json", "summary.md", "queue.yaml", "baseline.json")
    before = {name: (project.root / name).read_bytes() for name in names}
    monkeypatch.setattr(files, "os", FullDisk())
    result = project.run(*args)
    result.assert_outcomes(passed=1, failed=1)
    for what, name in [("results", "results.json"), ("review queue", "queue.yaml"), ("Markdown summary", "summary.md"),
                       ("baseline", "baseline.json"), ("report", "report.html")]:
        result.stdout.fnmatch_lines([f"edgecases: could not write the {what} file {project.root / name}: "
                                     "No space left on device"])
    assert {name: (project.root / name).read_bytes() for name in names} == before
    assert_clean(project, result)


# -- a read-only project --------------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``path`` read-only for real: a read-only bind mount for root (chmod does not stop root), chmod otherwise."""
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
        if mounted.returncode:
            pytest.skip(f"running as root, and cannot bind-mount read-only ({mounted.stderr.strip()})")
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
            monkeypatch.chdir(path)   # the old working directory is the writable folder under the mount
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
    else:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")] if p.is_dir()}
        for folder in modes:
            folder.chmod(0o555)
        try:
            yield
        finally:
            for folder, mode in modes.items():
                folder.chmod(mode)


@case("run-read-only-project", "a project folder that cannot be written (a read-only checkout)",
      "the run completes with the right verdicts, without a prediction cache, and says so; the report note "
      "says why it could not be written")
def test_read_only_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.run().assert_outcomes(passed=1, failed=1)
    reference = same_results(project.root / "results.json")
    (project.root / "results.json").unlink()
    (project.root / "report.html").unlink()
    shutil.rmtree(project.root / ".cache")
    with read_only(project.root, monkeypatch):
        # pytest's own cache (and with it ours) is kept; its warning about the same folder is pytest's, not ours.
        result = project.pytester.runpytest("--edgecases", "-W", "ignore::pytest.PytestCacheWarning",
                                            f"--edgecases-results={project.outside_dir}/results.json")
        with pytest.raises(OSError):
            (project.root / "probe").write_text("x")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "edgecases: no prediction cache this run: cannot create it in .pytest_cache (*)",
        f"edgecases: could not write the report file {project.root}/edgecases-report.html: *"])
    assert same_results(project.outside_dir / "results.json") == reference
    assert not (project.root / ".pytest_cache").exists() and not (project.root / "edgecases-report.html").exists()
    assert_clean(project, result)


@case("run-cache-dir-is-a-file", "--edgecases-cache-dir=tinymodel.py/cache (below a file)",
      "the run completes without the cache and says why; nothing is created")
def test_cache_dir_below_a_file(project: Project) -> None:
    result = project.run("--edgecases-cache-dir=tinymodel.py/cache")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"edgecases: no prediction cache this run: cannot create {project.root}/tinymodel.py/"
                                 f"cache: {project.root}/tinymodel.py is a file, not a folder"])
    assert inferred_line(result) == (12, 12, 0)
    assert_clean(project, result)


@case("run-outputs-to-dev-null", "every output pointed at a null device (--edgecases-report=/dev/null and the rest)",
      "the run completes and each output is written into the device; the device is still a device (renaming a "
      "file over it, as root may, would have replaced /dev/null itself)")
def test_outputs_to_a_null_device(project: Project, tmp_path: Path) -> None:
    null = tmp_path / "null.json"   # the name satisfies --edgecases-results, which wants .json or .csv
    try:   # a private copy of /dev/null (a test must not risk the real one); needs root
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError as exc:
        pytest.skip(f"cannot create a device here ({exc.strerror}); non-root runs cannot rename over /dev/null")
    result = project.run(*(f"--edgecases-{what}={null}" for what in ("report", "results", "review-queue",
                                                                     "markdown", "save-baseline")))
    result.assert_outcomes(passed=1, failed=1)
    for what in ("results", "review queue", "Markdown summary", "baseline", "report"):
        result.stdout.fnmatch_lines([f"edgecases: {what} written to {null}"])
    assert stat.S_ISCHR(null.stat().st_mode) and null.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.json"]
    assert_clean(project, result)


# -- several sessions, and the same run again ------------------------------------------------------------


@case("run-concurrent-sessions", "two pytest sessions at once in one project, sharing one cache: -n 2 and -n 4",
      "both complete with the same, correct results, identical to a plain (-n 0) run's; the cache is sound: "
      "a further run reads every prediction from it")
def test_sessions_at_once(project: Project) -> None:
    # The plain run infers by itself (no cache) in this process; the two xdist sessions share a fresh cache.
    project.run("--edgecases-no-cache", "--edgecases-results=results-0.json").assert_outcomes(passed=1, failed=1)
    procs = {n: pytest_process(project.root, "-n", str(n), "--edgecases-cache-dir=.cache",
                               f"--edgecases-results=results-{n}.json", f"--edgecases-report=report-{n}.html")
             for n in (2, 4)}
    outs = {n: finish(proc, timeout=300) for n, proc in procs.items()}
    for n, proc in procs.items():
        assert proc.returncode == pytest.ExitCode.TESTS_FAILED, outs[n]
        assert "1 failed, 1 passed" in outs[n] and "Traceback" not in outs[n] and "site-packages" not in outs[n]
    docs = {n: same_results(project.root / f"results-{n}.json") for n in (0, 2, 4)}
    assert docs[0] == docs[2] == docs[4]
    intact(project.root / ".cache/predictions.sqlite")
    result = project.run()
    assert inferred_line(result) == (12, 0, 12)
    assert same_results(project.root / "results.json") == docs[0]
    assert [e["correct"] for e in project.results()["dark"]["examples"]] == [True] * 3 + [False] * 3


@case("run-twice", "the same run twice (the second from the cache)",
      "byte-identical results files once the run's date, duration and cache counts are set aside")
def test_two_runs_give_identical_results(project: Project) -> None:
    project.run().assert_outcomes(passed=1, failed=1)
    first = json.loads((project.root / "results.json").read_text())
    result = project.run()
    assert inferred_line(result) == (12, 0, 12)
    second = json.loads((project.root / "results.json").read_text())
    changed = {key for a, b in zip(first["categories"], second["categories"], strict=True) for key in a["run"]
               if a["run"][key] != b["run"][key]}
    assert changed <= {"date", "seconds", "inferred", "cached"}
    for doc in (first, second):
        for category in doc["categories"]:
            category["run"] = {k: v for k, v in category["run"].items() if k not in changed}
    dump = lambda doc: json.dumps(doc, indent=1, sort_keys=True, default=str)   # noqa: E731 - as results.py writes
    assert dump(first) == dump(second)


@case("run-broken-suite-beside-a-good-one", "a suite with a YAML error next to a good suite",
      "collection stops (exit status 2) and nothing runs or is written, as for a broken test module; with "
      "--continue-on-collection-errors the good suite runs and its results are written")
def test_a_broken_suite_beside_a_good_one(project: Project) -> None:
    project.write("broken.edgecases.yaml", HEAD + "categories: [\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting broken.edgecases.yaml*",
                                 "broken.edgecases.yaml:7: YAML syntax error: *"])
    assert project.written() == set()
    result = project.run("--continue-on-collection-errors")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    assert sorted(project.results()) == ["clean", "dark"]
    assert_clean(project, result)


# -- the docs page lists every case ----------------------------------------------------------------------

DOCS = PACKAGE_ROOT / "docs" / "what-happens-when.md"


def docs_row(id: str, given: str, outcome: str) -> str:
    """A case as a row of the docs page's tables."""
    cell = lambda text: text.replace("|", "\\|")   # noqa: E731
    return f"| `{id}` | {cell(given)} | {cell(outcome)} |"


def all_cases() -> list[tuple[str, str, str]]:
    """(id, input, what happens) for every case of the corpus, in table order."""
    from test_hardening import DECODE_CASES, RUN_CASES

    return ([(c.id, c.given, c.outcome) for c in RUN_CASES] + [(c.id, c.given, c.outcome) for c in DECODE_CASES]
            + [(id, given, outcome) for id, (given, outcome) in RUNS.items()])


def test_the_docs_page_lists_every_case_with_its_outcome() -> None:
    """docs/what-happens-when.md has one row per case, saying what the test asserts, and no row for a case that
    does not exist."""
    text = DOCS.read_text(encoding="utf-8")
    missing = [docs_row(*c) for c in all_cases() if docs_row(*c) not in text.splitlines()]
    assert missing == [], "\n".join(missing)
    ids = [c[0] for c in all_cases()]
    assert len(ids) == len(set(ids)) >= 40
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.M)
    assert sorted(listed) == sorted(ids)


# Print the rows, to paste into the docs page after changing a case:
#   PYTHONPATH=.:tests python tests/integration/test_hardening_runs.py
if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    for row in all_cases():
        print(docs_row(*row))
