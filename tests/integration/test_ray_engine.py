"""--edgecases-engine=ray on a local Ray instance (two CPUs, started once for the module: it takes seconds):
the local engine's verdicts and keys, each image inferred once, other bytes on a worker refused, a raising
batch failing only its examples; and, without Ray, a usage error naming the extra."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.project import colour_categories, inferred_line, suite_yaml

ray = pytest.importorskip("ray")
# Imported here, not first in a pytester run: those runs evict what they import (tests/conftest.py says why).
from pytest_edgecases.errors import EdgecasesError  # noqa: E402
from pytest_edgecases.inference import ray_engine  # noqa: E402
from pytest_edgecases.inference.runner import Job  # noqa: E402

RAY = ("--edgecases", "--edgecases-engine=ray", "--edgecases-ray-actors=2")

#: Real categories and a synthetic one with two levels: 12 + 12 + 2 × 12 inputs.
NOISY = "  - name: noisy\n    from: clean\n    transform: {gaussian_noise: {sigma: [0.05, 0.4]}}\n"

#: The tiny model, raising on any batch that holds a green image.
GREEN_CRASH = '''
from tinymodel import Net


class Crash(Net):
    def forward(self, x):
        if (x[:, 1].mean(dim=(1, 2)) > 0.5).any():
            raise RuntimeError("green overflows the colour head")
        return super().forward(x)


def build():
    return Crash()
'''

#: The tiny model whose building, on a Ray worker (not in the driver's process), changes an image the
#: driver has hashed: the worker reads other bytes than the driver's key was made from.
REWRITING = '''
import os
from pathlib import Path

from tinymodel import Net


def build(driver_pid=0):
    if os.getpid() != driver_pid:
        data = Path(__file__).parent / "data"
        (data / "clean/red/000.png").write_bytes((data / "clean/blue/000.png").read_bytes())
    return Net()
'''


#: The counting model, asleep in each actor's second batch (SLOW_MODEL_SECONDS, default 60 s): Ctrl-C lands
#: while both actors are busy, after their first batches have come back.
SLOW_ON_RAY = '''
import os
import time

from countmodel import CountingNet


class Slow(CountingNet):
    batches = 0

    def forward(self, x):
        Slow.batches += 1
        if Slow.batches >= 2:
            time.sleep(float(os.environ.get("SLOW_MODEL_SECONDS", "60")))
        return super().forward(x)


def build(bias=0.0):
    return Slow(bias)
'''


#: A model initialised at random each time it is built (no seed): each actor's differs from the driver's.
RANDOM_MODEL = '''
import torch


def build():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
'''


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local Ray instance for the module; the runs in it find it (ray_engine.connect) and use it."""
    with ray_engine.quiet():
        ray.init(num_cpus=2, include_dashboard=False, runtime_env=ray_engine.runtime_env(), logging_level="ERROR",
                 log_to_driver=False)
    yield
    ray.shutdown()


def examples(path: Path) -> dict[tuple[str, str], dict]:
    doc = json.loads(path.read_text())
    return {(c["category"], e["path"]): e for c in doc["categories"] for e in c["examples"]}


def test_same_verdicts_and_keys_as_the_local_engine_each_image_inferred_once(tiny_project, pytester, forward_log):
    suite = tiny_project(factory="countmodel:build")
    suite.write_text(suite.read_text() + NOISY)
    on_ray = pytester.runpytest(*RAY, "--edgecases-batch-size=5", "--edgecases-results=ray.json")
    on_ray.assert_outcomes(passed=3, failed=1)
    assert inferred_line(on_ray) == (48, 48, 0)
    assert sum(forward_log()) == 48            # every input once, in batches of at most 5, over two actors
    assert max(forward_log()) <= 5
    on_ray.stdout.fnmatch_lines(["*48 inferred, 0 from cache, on cpu (Ray) in *"])

    logged = len(forward_log())
    local = pytester.runpytest("--edgecases", "--edgecases-no-cache", "--edgecases-results=local.json")
    local.assert_outcomes(passed=3, failed=1)
    ray_rows, local_rows = examples(pytester.path / "ray.json"), examples(pytester.path / "local.json")
    assert ray_rows.keys() == local_rows.keys() and len(ray_rows) == 48
    for key, row in ray_rows.items():
        other = local_rows[key]
        assert (row["predicted"], row["correct"], row["status"]) == (other["predicted"], other["correct"],
                                                                      other["status"]), key
        assert [label for label, _ in row["top"]] == [label for label, _ in other["top"]]
        assert all(abs(p - q) < 1e-6 for (_, p), (_, q) in zip(row["top"], other["top"], strict=True))

    # The Ray run's cache entries are the local engine's: keyed alike, nothing inferred again.
    assert sum(forward_log()[logged:]) == 48   # (the local engine infers all: it was told not to use the cache)
    logged = len(forward_log())
    cached = pytester.runpytest("--edgecases")
    cached.assert_outcomes(passed=3, failed=1)
    assert inferred_line(cached) == (48, 0, 48)
    assert len(forward_log()) == logged


def test_a_worker_reading_other_bytes_is_refused_naming_the_file(tiny_project, pytester):
    pytester.makepyfile(rewriting=REWRITING)
    tiny_project(suite_yaml(model=f'{{factory: "rewriting:build", args: {{driver_pid: {os.getpid()}}}}}',
                            categories=colour_categories()))
    result = pytester.runpytest(*RAY)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*data/clean/red/000.png: a Ray worker read other bytes than this machine for "
                                 "this image (sha256 *", "*hint: the workers must see the driver's files at the "
                                 "same paths, unchanged: a shared file system (docs/scaling.md)"])
    # Nothing was cached under the changed image's key: the local engine infers it afresh.
    again = pytester.runpytest("--edgecases")
    assert inferred_line(again)[1] > 0


def test_a_worker_building_another_model_is_refused(tiny_project, pytester):
    """A factory whose weights are random each time it runs: the actors' models are not the driver's."""
    pytester.makepyfile(randommodel=RANDOM_MODEL)
    tiny_project(suite_yaml(model='{factory: "randommodel:build"}', categories=colour_categories()))
    result = pytester.runpytest(*RAY)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: a Ray worker built another model than this machine (its "
                                 "fingerprint differs)*"])


def test_a_raising_batch_fails_only_its_examples(tiny_project, pytester, solid_image):
    pytester.makepyfile(crash=GREEN_CRASH)
    tiny_project(suite_yaml(model='{factory: "crash:build"}', categories=colour_categories()))
    solid_image(pytester.path / "data/dark/red/000.png", (0, 220, 0), size=16)
    result = pytester.runpytest(*RAY, "--edgecases-batch-size=4", "--edgecases-results=ray.json")
    result.assert_outcomes(passed=1, failed=1)
    rows = examples(pytester.path / "ray.json")
    errors = {path: row["error"] for (_, path), row in rows.items() if row["error"]}
    assert "data/dark/red/000.png" in errors and len(errors) <= 4    # one batch of at most 4
    assert set(errors.values()) == {"the model raised RuntimeError: green overflows the colour head"}
    assert all(row["predicted"] for (_, path), row in rows.items() if path not in errors)


def test_ctrl_c_keeps_the_batches_that_came_back(tiny_project, pytester, forward_log, monkeypatch):
    pytester.makepyfile(slowmodel=SLOW_ON_RAY)
    tiny_project(factory="slowmodel:build")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(ray_engine.__file__).parents[2]),
                                                      os.environ.get("PYTHONPATH", "")]))
    cache = pytester.path / ".cache"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *RAY, "-p", "no:cacheprovider", "--edgecases-batch-size=2",
                             f"--edgecases-cache-dir={cache}"], cwd=pytester.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180   # a cold start: torch, Ray, two actors
    while cached_rows(cache / "predictions.sqlite") < 2:   # a batch came back and is cached
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0] if proc.poll() else "slow"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    try:
        out = proc.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"pytest still running 60 s after Ctrl-C:\n{proc.communicate()[0]}")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "Traceback" not in out, out

    kept = cached_rows(cache / "predictions.sqlite")
    monkeypatch.setenv("SLOW_MODEL_SECONDS", "0")
    again = pytester.runpytest("--edgecases", f"--edgecases-cache-dir={cache}")
    again.assert_outcomes(passed=1, failed=1)
    assert inferred_line(again) == (24, 24 - kept, kept)


def cached_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return db.execute("SELECT count(*) FROM predictions").fetchone()[0]
        except sqlite3.OperationalError:   # the table is not there yet
            return 0


@pytest.mark.parametrize(("args", "message"), [
    (("--edgecases-engine=ray",), "ERROR: --edgecases-engine=ray needs Ray: pip install 'pytest-edgecases[ray]'"),
    (("--edgecases-engine=spark",), "ERROR: --edgecases-engine must be local or ray, got 'spark'"),
], ids=["ray-absent", "unknown-engine"])
def test_usage_errors(tiny_project, pytester, monkeypatch, args, message):
    tiny_project()
    monkeypatch.setitem(sys.modules, "ray", None)   # what an environment without the extra has
    result = pytester.runpytest("--edgecases", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(("args", "conftest", "message"), [
    (("--edgecases-ray-gpus-per-actor=1",), None,
     "*edgecases.yaml:3: --edgecases-ray-gpus-per-actor=1, but the Ray cluster has 0 GPUs"),
    ((), "def pytest_edgecases_load_model(suite, device):\n    return None\n",
     "*edgecases.yaml: --edgecases-engine=ray cannot run a model from pytest_edgecases_load_model: a conftest.py "
     "hook runs in this process, not on Ray's workers"),
], ids=["gpus-the-cluster-lacks", "model-from-a-conftest-hook"])
def test_suites_ray_cannot_run_fail_saying_why(tiny_project, pytester, args, conftest, message):
    tiny_project()
    if conftest:
        pytester.makeconftest(conftest)
    result = pytester.runpytest(*RAY, *args)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([message])


@pytest.mark.parametrize("here", ["", "0" * 64], ids=["unreadable-here", "other-bytes-here"])
def test_a_workers_bytes_must_be_the_drivers_even_where_the_driver_read_none(tmp_path, here):
    """A file this machine could not read (its key is unreadable:PATH) that a worker could: the worker's
    prediction would be cached under that key, so it is refused like any other mismatch."""
    image = tmp_path / "a.png"
    job = Job("k", str(image), sha256=here)
    block = ray_engine._table([{"key": "k", "read": "f" * 64, "error": None, "labels": [0], "probs": [1.0]}])
    runner = SimpleNamespace(suite=SimpleNamespace(root=tmp_path))
    with pytest.raises(EdgecasesError, match="a Ray worker read other bytes than this machine") as caught:
        ray_engine.RayRunner._received(runner, block, {"k": job})
    assert ("unreadable" in str(caught.value)) == (here == "")
    assert str(caught.value.path) == "a.png"
    # The driver's own bytes come back as predictions.
    same = ray_engine._table([{"key": "k", "read": "0" * 64, "error": None, "labels": [0], "probs": [1.0]}])
    assert ray_engine.RayRunner._received(runner, same, {"k": Job("k", str(image), sha256="0" * 64)})["k"].top == ((0, 1.0),)


#: A small CNN saved as torch.export and ONNX save it (in a child process: pytester's in-process runs evict
#: torch's submodules, and the ONNX exporter then trips over its own registries).
SAVE_MODELS = """
import sys
import torch

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
example = (torch.randn(2, 3, 8, 8),)
batch = torch.export.Dim("batch")
if sys.argv[1] == "exported":
    torch.export.save(torch.export.export(net, example, dynamic_shapes=({0: batch},)), "net.pt2")
else:
    torch.onnx.export(net, example, "net.onnx", input_names=["images"], dynamic_shapes=({0: batch},), dynamo=True)
"""


@pytest.mark.parametrize("source", ["exported", "onnx"])
def test_saved_model_sources_run_on_the_actors_as_locally(tiny_project, pytester, source):
    """A torch.export program and an ONNX file (the sources without Python code of the user's) load on the
    actors from the shared file system and answer as the local engine does, synthetic level included."""
    if source == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    subprocess.run([sys.executable, "-c", SAVE_MODELS, source], cwd=pytester.path, check=True, capture_output=True)
    model = "{exported: net.pt2}" if source == "exported" else "{onnx: net.onnx}"
    tiny_project(suite_yaml(model=model, defaults="{min_accuracy: 0.0}", categories=colour_categories()) + NOISY)
    # In child processes: loading a saved program imports parts of torch that an in-process run would
    # evict, and torch cannot import them twice (a later ONNX export in this process would fail).
    on_ray = pytester.runpytest_subprocess(*RAY, "--edgecases-no-cache", "--edgecases-results=ray.json")
    assert on_ray.ret == 0, on_ray.stdout.str()
    on_ray.stdout.fnmatch_lines(["*48 inferred, 0 from cache, on cpu (Ray) in *"])
    local = pytester.runpytest_subprocess("--edgecases", "--edgecases-no-cache", "--edgecases-results=local.json")
    assert local.ret == 0, local.stdout.str()
    ray_rows, local_rows = examples(pytester.path / "ray.json"), examples(pytester.path / "local.json")
    assert ray_rows.keys() == local_rows.keys() and len(ray_rows) == 48
    for key, row in ray_rows.items():
        assert row["predicted"] == local_rows[key]["predicted"], key
        assert all(abs(p - q) < 1e-6 for (_, p), (_, q) in zip(row["top"], local_rows[key]["top"], strict=True))
