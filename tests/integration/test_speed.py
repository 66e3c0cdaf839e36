"""What keeps whole runs fast and flat: pytest kept out of image folders, one xdist worker building and
inferring, the garbage collector left on, results let go. (The thread plan, the bounded decode window and
the other units: tests/unit/test_predict.py, test_preprocess.py, test_files.py, test_gcpolicy.py. The
timings themselves are benchmarks/bench.py's job.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

COUNTER = '''
def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".png":
        with open("walked.log", "a") as f:
            f.write(file_path.name + "\\n")
'''


def test_edgecases_keeps_pytest_out_of_folders_of_images_only(tiny_project, pytester):
    """Nothing in a folder of images is a test; walking 20,000 of them costs pytest seconds."""
    tiny_project()
    pytester.makeconftest(COUNTER)
    (pytester.path / "data/clean/blue/notes").mkdir()
    (pytester.path / "data/clean/blue/notes/test_inside.py").write_text("def test_here():\n    pass\n")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)   # the test among the images still runs
    walked = (pytester.path / "walked.log").read_text().split() if (pytester.path / "walked.log").exists() else []
    assert len(walked) == 6                      # data/clean/blue holds a test: walked; the rest is not
    (pytester.path / "walked.log").unlink()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert len((pytester.path / "walked.log").read_text().split()) == 24   # without --edgecases: pytest as ever


#: The tiny model, logging each build and each forward batch (xdist workers share the log files).
LOGGED_MODEL = '''
import os

from tinymodel import Net

HERE = os.path.dirname(os.path.abspath(__file__))


def log(name, text):
    with open(os.path.join(HERE, name), "a") as f:
        f.write(text + "\\n")


class LoggedNet(Net):
    def forward(self, x):
        log("forward.log", str(x.shape[0]))
        return super().forward(x)


def build(bias=0.0):
    log("builds.log", str(os.getpid()))
    return LoggedNet(bias)
'''


def test_under_xdist_with_the_cache_one_worker_builds_and_infers(tiny_project, pytester, monkeypatch, tmp_path):
    """The others wait asleep on the run's lock, then read its predictions without building the model."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    (pytester.path / "loggedmodel.py").write_text(LOGGED_MODEL)
    tiny_project(factory="loggedmodel:build")
    result = pytester.runpytest_subprocess("--edgecases", "-n", "2", "--edgecases-cache-dir=preds",
                                           "--edgecases-results=x.json")
    result.assert_outcomes(passed=1, failed=1)
    assert len((pytester.path / "builds.log").read_text().split()) == 1
    assert sum(int(n) for n in (pytester.path / "forward.log").read_text().split()) == 24
    rerun = pytester.runpytest("--edgecases", "--edgecases-cache-dir=preds")   # and the cache is whole
    rerun.stdout.fnmatch_lines(["edgecases: colours: 24 images, 0 inferred, 24 from cache*"])


def test_a_run_leaves_the_collector_on(tiny_project, pytester):
    """Collection, judging and the outputs pause it; none of them leaves it off, pass or fail."""
    import gc

    tiny_project()
    pytester.runpytest("--edgecases", "--edgecases-results=out.json")
    assert gc.isenabled()
    (pytester.path / "edgecases.yaml").write_text("suite: [broken\n")
    pytester.runpytest("--edgecases")
    assert gc.isenabled()


FREEZE_PROBE = '''
import gc
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    with open("frozen.log", "a") as f:
        f.write(f"{gc.get_freeze_count()}\\n")
'''


def test_a_run_hides_what_lives_to_its_end_from_the_collector(tiny_project, pytester):
    """Once inference is done, before any test runs, the examples, predictions and torch are frozen out
    of the collector's sight (every full collection walked them all: seconds at 100,000 images)."""
    tiny_project()
    pytester.makeconftest(FREEZE_PROBE)
    result = pytester.runpytest_subprocess("--edgecases", "-p", "no:cacheprovider", "--edgecases-no-cache")
    result.assert_outcomes(passed=1, failed=1)
    counts = [int(n) for n in (pytester.path / "frozen.log").read_text().split()]
    assert len(counts) == 2 and min(counts) > 100_000   # torch alone is some 300,000 objects


#: A conftest that watches each category's results through weak references and, as the run closes
#: (after the plugin has let go, before pytest's closing garbage collections), writes how many of
#: each category's are still alive.
WATCHING_CONFTEST = '''
import collections
import weakref
import pytest

watched = collections.defaultdict(list)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):   # firstresult: look, return None, let pytest make it
    result = getattr(item, "result", None)
    if call.when == "call" and result is not None:
        watched[item.name].append(weakref.ref(result))
        watched[item.name].extend(weakref.ref(e) for e in result.examples)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open("alive.txt", "w") as f:
        for name, refs in sorted(watched.items()):
            f.write(f"{name} {len(refs)} {sum(ref() is not None for ref in refs)}\\n")
'''


def test_results_are_let_go_before_pytests_closing_collections(tiny_project, pytester):
    """pytest collects garbage twice as it exits; the results (20,000 examples in a big suite) are
    freed before that, by reference counting, so those passes have little to walk. (pytest keeps
    the last failure's exception for post-mortem debugging, and with it that category's result.)"""
    tiny_project()
    pytester.makeconftest(WATCHING_CONFTEST)
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)
    alive = (pytester.path / "alive.txt").read_text().splitlines()
    assert alive[0] == "clean 13 0" and alive[1].startswith("dark 13 ")


def test_the_decode_benchmark_runs_the_plugins_own_decode_path(tiny_project, pytester):
    """benchmarks/decode_rate.py (bench.py's decode section) times predict.prepare, the decode threads'
    work: it must keep up with the code it measures."""
    tiny_project()
    env = {**os.environ, "PYTHONPATH": str(BENCHMARKS.parent)}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "decode_rate.py"), str(pytester.path), "edgecases.yaml",
                           "--threads", "1,2", "--repeat", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rates = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(rates) == {"1", "2"} and all(rate > 0 for rate in rates.values())
