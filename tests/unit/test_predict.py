"""inference/predict.py: the thread plan, the bounded decode window (no image tensor outlives its batch),
channels_last on the CPU. (The timings themselves are benchmarks/bench.py's job.)"""
from __future__ import annotations

import time
import weakref

import pytest
import torch

from pytest_edgecases.images import decode_rgb
from pytest_edgecases.inference import predict, preprocess
from pytest_edgecases.inference.runner import Job
from pytest_edgecases.suite import Preprocess


@pytest.mark.parametrize("device, cores, plan", [
    ("cpu", 1, (2, 1)), ("cpu", 2, (2, 1)), ("cpu", 4, (4, 2)), ("cpu", 16, (4, 14)),
    ("cuda", 2, (2, None)), ("cuda:1", 16, (16, None)), ("mps", 8, (8, None)), ("cuda", 96, (32, None)),
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


def test_many_decode_threads_still_hold_at_most_four_batches(tmp_path, solid_image, monkeypatch):
    """On an accelerator every core decodes (up to 32 threads); the images decoded ahead stay within four
    batches, not two batches per thread."""
    monkeypatch.setattr(predict, "thread_plan", lambda device, cores=None: (16, None))
    jobs = [Job(key=str(i), file=solid_image(tmp_path / f"{i}.png", (i, 0, 0), size=12)) for i in range(96)]
    suite = type("S", (), {"dir": tmp_path, "display": "s.yaml"})()
    pre = Tracked(preprocess.Preprocessor(Preprocess(resize=(8, 8)), suite))   # type: ignore[arg-type]
    most = 0
    for _ in predict.predict(jobs, Model().eval(), pre, torch.device("cpu"), n_labels=2, batch_size=4):
        time.sleep(0.01)   # a slow forward pass: the decode threads fill the window meanwhile
        most = max(most, pre.live())
    assert 4 < most <= 4 * 4


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
