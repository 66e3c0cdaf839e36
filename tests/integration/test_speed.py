"""What keeps inference fast and flat: the thread plan, the bounded decode window, the digest memo,
and pytest kept out of image folders. (The timings themselves are benchmarks/bench.py's job.)"""
from __future__ import annotations

import weakref
from pathlib import Path

import pytest
import torch

from pytest_edgecases.images import decode_rgb
from pytest_edgecases.inference import predict, preprocess
from pytest_edgecases.inference.runner import Job
from pytest_edgecases.suite import Preprocess


@pytest.mark.parametrize("device, cores, plan", [
    ("cpu", 1, (2, 1)), ("cpu", 2, (2, 1)), ("cpu", 4, (4, 2)), ("cpu", 16, (4, 14)),
    ("cuda", 2, (2, None)), ("cuda:1", 16, (4, None)), ("mps", 8, (4, None)),
])
def test_thread_plan(device, cores, plan):
    """On the CPU, decode threads and torch's threads share the cores; on an accelerator torch is left alone."""
    assert predict.thread_plan(torch.device(device), cores) == plan


class Tracked:
    """A Preprocessor whose every image tensor is watched through a weak reference."""

    def __init__(self, pre: preprocess.Preprocessor):
        self.pre = pre
        self.alive: dict[str, weakref.ref] = {}
        self.spec = pre.spec
        self.custom = None

    def __call__(self, image):
        tensor = self.pre(image)
        self.alive[f"{id(tensor)}"] = weakref.ref(tensor)
        return tensor

    def finish(self, batch, device):
        return self.pre.finish(batch, device)

    def live(self) -> int:
        return sum(ref() is not None for ref in self.alive.values())


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.threads: list[int] = []

    def forward(self, x):
        self.threads.append(torch.get_num_threads())
        return self.conv(x).mean(dim=(2, 3))


def test_no_image_tensor_outlives_its_batch_and_threads_are_restored(tmp_path, solid_image):
    jobs = [Job(key=str(i), file=solid_image(tmp_path / f"{i}.png", (i, 0, 0), size=12)) for i in range(40)]
    suite = type("S", (), {"dir": tmp_path, "display": "s.yaml"})()
    pre = Tracked(preprocess.Preprocessor(Preprocess(resize=(8, 8)), suite))   # type: ignore[arg-type]
    model = Model().eval()
    before = torch.get_num_threads()
    decode, torch_threads = predict.thread_plan(torch.device("cpu"))
    window = max(2, decode) * 4
    seen = 0
    for batch in predict.predict(jobs, model, pre, torch.device("cpu"), n_labels=2, batch_size=4):
        seen += len(batch)
        # Only images still waiting in the decode window are alive: none of a batch already predicted.
        assert pre.live() <= min(window, len(jobs) - seen), (seen, pre.live())
    assert seen == 40 and pre.live() == 0
    assert set(model.threads) == {torch_threads}
    assert torch.get_num_threads() == before
    # Closing the generator early (Ctrl-C, a model error) restores them too.
    it = predict.predict(jobs, model, pre, torch.device("cpu"), n_labels=2, batch_size=4)
    next(it)
    it.close()
    assert torch.get_num_threads() == before


def test_cpu_inference_uses_channels_last_with_the_same_numbers(tmp_path, solid_image):
    files = [solid_image(tmp_path / f"{i}.png", (i * 20, 255 - i * 20, 90), size=10) for i in range(6)]
    jobs = [Job(key=str(i), file=f) for i, f in enumerate(files)]
    suite = type("S", (), {"dir": tmp_path, "display": "s.yaml"})()
    pre = preprocess.Preprocessor(Preprocess(resize=(8, 8), mean=(0.5,) * 3, std=(0.25,) * 3), suite)  # type: ignore
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 3)).eval()
    with torch.no_grad():
        x = torch.stack([pre(decode_rgb(f.read_bytes())) for f in files]).float() / 255
        probs = torch.softmax(model((x - 0.5) / 0.25), dim=1)
    got = {}
    for batch in predict.predict(jobs, model, pre, torch.device("cpu"), n_labels=3, batch_size=4):
        got.update(batch)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    for i in range(6):
        assert got[str(i)].index == int(probs[i].argmax())
        assert got[str(i)].confidence == pytest.approx(float(probs[i].max()), abs=1e-5)


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


def test_only_images_is_conservative(tmp_path):
    from pytest_edgecases.files import only_images
    from pytest_edgecases.suite import IMAGE_SUFFIXES

    def check(path: Path) -> bool:
        return only_images(path, IMAGE_SUFFIXES, {})

    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/1.PNG").touch()
    (tmp_path / "a/.DS_Store").touch()
    assert check(tmp_path / "a")
    (tmp_path / "a/b/labels.csv").touch()
    assert not check(tmp_path / "a")
    (tmp_path / "c").mkdir()
    (tmp_path / "c/1.jpg").touch()
    (tmp_path / "c/link").symlink_to(tmp_path / "a")
    assert not check(tmp_path / "c")
    assert not check(tmp_path / "missing")


@pytest.mark.parametrize("size", [(40, 40), (37, 23), (23, 37), (8, 8), (5, 9)])
@pytest.mark.parametrize("spec", [
    Preprocess(resize=(16,)), Preprocess(resize=(12, 20)), Preprocess(resize=(37, 23)),
    Preprocess(center_crop=(10, 10)), Preprocess(center_crop=(9, 30)), Preprocess(center_crop=(41, 50)),
    Preprocess(resize=(19,), center_crop=(17, 17)), Preprocess(resize=(8, 8), center_crop=(12, 6)), Preprocess(),
])
def test_preprocessing_without_torchvision_is_torchvisions(size, spec, tmp_path):
    """The engine resizes and crops with Pillow (importing torchvision costs seconds): the same pixels."""
    import numpy as np
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    rng = np.random.default_rng(sum(size))
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    expected = image
    if spec.resize is not None:
        expected = TF.resize(expected, list(spec.resize), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    if spec.center_crop is not None:
        expected = TF.center_crop(expected, list(spec.center_crop))
    suite = type("S", (), {"dir": tmp_path, "display": "s.yaml"})()
    got = preprocess.Preprocessor(spec, suite)(image)   # type: ignore[arg-type]
    assert torch.equal(got, TF.pil_to_tensor(expected))
    assert got.dtype == torch.uint8 and got.shape[0] == 3


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


def test_paused_gc_restores_the_collector_whatever_happens():
    """Bulk steps pause automatic collection; it is back on afterwards, after an error too, and a
    collector the user turned off stays off."""
    import gc

    from pytest_edgecases.gcpolicy import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():              # nested: the inner one leaves it to the outer
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("a step failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_run_leaves_the_collector_on(tiny_project, pytester):
    """Collection, judging and the outputs pause it; none of them leaves it off, pass or fail."""
    import gc

    tiny_project()
    pytester.runpytest("--edgecases", "--edgecases-results=out.json")
    assert gc.isenabled()
    (pytester.path / "edgecases.yaml").write_text("suite: [broken\n")
    pytester.runpytest("--edgecases")
    assert gc.isenabled()


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
