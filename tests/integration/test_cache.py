"""Nothing stale is ever used: whatever changes a prediction is re-inferred, whichever shortcut a rerun takes.

test_inference.py covers a changed image, model code, model arguments, preprocessing, preprocess
callable and label set. These cover the rest of the key (precision, library versions, weights
files, a synthetic transform) and the two shortcuts a rerun takes: the stat-keyed digest memo
(an image rewritten behind an unchanged-looking stat) and the model-recipe memo that lets a rerun
skip building a file-determined model (torchvision + weights, TorchScript, a factory with
defined_by:). Ctrl-C mid-run is test_hardening_runs.py's run-ctrl-c case.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from conftest import inferred_line as counts
from conftest import write_images
from safetensors.torch import save_file

from pytest_edgecases.inference import device as device_module
from pytest_edgecases.inference import digests, keys, models, predict

SUITE = """
suite: colours
labels: [red, blue]
model: {model}
preprocess: {{resize: [{size}, {size}]}}
defaults: {{min_accuracy: 0.0}}
categories:
  - name: clean
    images: data/clean/
  - name: dark
    images: data/dark/
"""


def predictions(path: Path) -> dict[tuple[str, str], tuple]:
    doc = json.loads(path.read_text())
    return {(c["category"], e["path"]): (e["predicted"], e["confidence"]) for c in doc["categories"]
            for e in c["examples"]}


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """Every model models.load_model builds in this test, by its suite's model kind."""
    built: list[str] = []
    real = models.load_model

    def counting(suite, device, hook=None):
        built.append(suite.model.kind if suite.model else "hook")
        return real(suite, device, hook)

    monkeypatch.setattr(models, "load_model", counting)
    return built


SETTINGS_MODEL = """
import torch


class Net(torch.nn.Module):
    def __init__(self, act="relu", temperature=1.0):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.act = torch.nn.ReLU() if act == "relu" else torch.nn.Tanh()
        self.temperature = temperature
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[4.0, 0.0, -4.0], [-4.0, 0.0, 4.0]]))
            self.fc.bias.copy_(torch.tensor([-1.0, 1.0]))

    def forward(self, x):
        return self.act(self.fc(x.mean(dim=(2, 3)))) / self.temperature


def build(**kwargs):
    return Net(**kwargs)
"""


@pytest.mark.parametrize("args", ["{act: tanh}", "{temperature: 0.5}"])
def test_a_setting_outside_the_weights_is_inferred_again(tiny_project, pytester, args):
    """Same code, same weights, another activation or temperature: different answers, so a different key."""
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    suite = tiny_project(SUITE.format(model='{factory: "settingsmodel:build"}', size=8))
    assert counts(pytester.runpytest("--edgecases", "--edgecases-results=a.json")) == (24, 24, 0)
    suite.write_text(suite.read_text().replace('"settingsmodel:build"}', f'"settingsmodel:build", args: {args}}}'))
    assert counts(pytester.runpytest("--edgecases", "--edgecases-results=b.json")) == (24, 24, 0)
    assert predictions(pytester.path / "a.json") != predictions(pytester.path / "b.json")


def squeezenet_weights(path: Path, seed: int) -> None:
    import torchvision

    torch.manual_seed(seed)
    state = torchvision.models.squeezenet1_1(num_classes=2).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))


def test_a_precision_change_is_inferred_again(tiny_project, pytester):
    tiny_project()
    assert counts(pytester.runpytest("--edgecases")) == (24, 24, 0)
    assert counts(pytester.runpytest("--edgecases", "--edgecases-precision=bf16")) == (24, 24, 0)
    assert counts(pytester.runpytest("--edgecases", "--edgecases-precision=bf16")) == (24, 0, 24)
    assert counts(pytester.runpytest("--edgecases")) == (24, 0, 24)   # fp32's entries are still there


def test_a_library_version_change_is_inferred_again(tiny_project, pytester, monkeypatch):
    tiny_project()
    assert counts(pytester.runpytest("--edgecases")) == (24, 24, 0)
    real = keys.library_versions
    monkeypatch.setattr(keys, "library_versions", lambda: {**real(), "pillow": "0.0.1"})
    assert counts(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_an_image_rewritten_behind_the_same_size_and_mtime_is_hashed_again(tiny_project, pytester, solid_image,
                                                                          monkeypatch):
    """The digest memo compares the whole stat (ctime and inode too), so restoring mtime does not fool it."""
    monkeypatch.setattr(digests, "_RACY_NS", 0)   # memoise files written just now (the test's own)
    reads: list[Path] = []
    real = digests.read_bytes
    monkeypatch.setattr(digests, "read_bytes", lambda path: reads.append(path) or real(path))
    tiny_project()
    assert counts(pytester.runpytest("--edgecases")) == (24, 24, 0)
    assert len(reads) == 24
    assert counts(pytester.runpytest("--edgecases")) == (24, 0, 24)
    assert len(reads) == 24                                           # the rerun read no image to hash it
    image = pytester.path / "data/dark/red/000.png"
    before = os.stat(image)
    other = solid_image(pytester.path / "other.png", (0, 0, 250), size=16).read_bytes()
    assert len(other) == before.st_size and other != image.read_bytes()
    image.write_bytes(other)                                           # same size, other pixels,
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))      # and the old mtime back
    assert counts(pytester.runpytest("--edgecases")) == (24, 1, 23)
    assert reads[24:] == [image.resolve()]


def test_a_file_changed_since_it_was_hashed_is_refused_not_cached(tiny_project, pytester, monkeypatch):
    """Bytes that are not the ones the key was made from never get a prediction under that key."""
    tiny_project()
    real = predict.read_bytes

    def swapped(path):
        data, digest = real(path)
        return (data, "0" * 64) if path.as_posix().endswith("dark/red/000.png") else (data, digest)

    monkeypatch.setattr(predict, "read_bytes", swapped)   # as if the file changed after it was hashed
    result = pytester.runpytest("--edgecases", "--edgecases-results=out.json")
    assert counts(result) == (24, 24, 0)
    doc = json.loads((pytester.path / "out.json").read_text())
    errors = [e for c in doc["categories"] for e in c["examples"] if e["error"]]
    assert [(e["path"], e["error"]) for e in errors] == [
        ("data/dark/red/000.png", "the file changed while the run was using it; run again")]
    monkeypatch.setattr(predict, "read_bytes", real)
    assert counts(pytester.runpytest("--edgecases")) == (24, 1, 23)   # it was not cached


def test_a_changed_weights_file_is_inferred_again_though_a_rerun_skips_building(tiny_project, pytester, builds):
    squeezenet_weights(pytester.path / "net.safetensors", seed=0)
    tiny_project(SUITE.format(model="{torchvision: squeezenet1_1, args: {num_classes: 2}, weights: net.safetensors}",
                              size=32), clean=2, dark=2)
    args = ("--edgecases", "--edgecases-device=cpu", "--edgecases-results=out.json")
    assert counts(pytester.runpytest(*args)) == (8, 8, 0)
    first = predictions(pytester.path / "out.json")
    assert counts(pytester.runpytest(*args)) == (8, 0, 8)
    assert builds == ["torchvision"]                         # the rerun knew the model from its files
    assert predictions(pytester.path / "out.json") == first
    squeezenet_weights(pytester.path / "net.safetensors", seed=1)
    assert counts(pytester.runpytest(*args)) == (8, 8, 0)
    assert builds == ["torchvision"] * 2
    assert predictions(pytester.path / "out.json") != first   # the new weights' answers


@pytest.mark.filterwarnings("ignore:`torch.jit")   # archives made on purpose
def test_a_changed_torchscript_archive_is_inferred_again(tiny_project, pytester, tiny_net, builds):
    torch.jit.script(tiny_net(1.0)).save(str(pytester.path / "tiny.torchscript"))
    tiny_project(SUITE.format(model="{torchscript: tiny.torchscript}", size=8))
    assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 24, 0)
    assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 0, 24)
    assert builds == ["torchscript"]
    torch.jit.script(tiny_net(0.0)).save(str(pytester.path / "tiny.torchscript"))
    assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 24, 0)


def test_a_factory_defined_by_its_files_is_built_again_only_when_one_changes(tiny_project, pytester, builds):
    """defined_by: lets a rerun skip building a factory's model; any change to a named file, a new file in a
    named folder, the weights or the args builds it again, and changed code is inferred again."""
    pkg = pytester.path / "netpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SETTINGS_MODEL)
    suite = tiny_project(SUITE.format(model='{factory: "netpkg:build", defined_by: [netpkg/]}', size=8))
    args = ("--edgecases", "--edgecases-device=cpu", "--edgecases-results=out.json")
    assert counts(pytester.runpytest(*args)) == (24, 24, 0)
    first = predictions(pytester.path / "out.json")
    assert counts(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"]                              # known from its files: not built
    assert predictions(pytester.path / "out.json") == first

    (pkg / "notes.txt").write_text("a new file in the folder")   # the model is the same, but it must be built
    assert counts(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"] * 2
    (pkg / "__init__.py").write_text(SETTINGS_MODEL.replace("temperature=1.0", "temperature=0.25"))
    assert counts(pytester.runpytest(*args)) == (24, 24, 0)
    assert builds == ["factory"] * 3
    assert predictions(pytester.path / "out.json") != first
    suite.write_text(suite.read_text().replace('defined_by:', 'args: {act: tanh}, defined_by:'))
    assert counts(pytester.runpytest(*args)) == (24, 24, 0)
    assert builds == ["factory"] * 4
    assert counts(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"] * 4


def test_one_new_image_for_a_model_known_from_its_files_is_looked_up_once(tiny_project, pytester, builds,
                                                                         monkeypatch):
    """The model is known from its files, but one image is new: the model is built for that one image,
    and the examples looked up before building are not looked up again (20,000 of them, half a second)."""
    from pytest_edgecases.inference.store import PredictionCache

    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(SUITE.format(model='{factory: "settingsmodel:build", defined_by: settingsmodel.py}', size=8))
    args = ("--edgecases", "--edgecases-device=cpu")
    assert counts(pytester.runpytest(*args)) == (24, 24, 0)
    lookups: list[int] = []
    real = PredictionCache.get_many

    def counting(self, keys):
        keys = list(keys)
        lookups.append(len(keys))
        return real(self, keys)

    monkeypatch.setattr(PredictionCache, "get_many", counting)
    write_images(pytester.path, "data/clean", {"red": 7})   # red/006.png is new
    assert counts(pytester.runpytest(*args)) == (25, 1, 24)
    assert lookups == [25] and builds == ["factory", "factory"]


def test_a_defined_by_folder_linking_out_of_the_project_means_building(tiny_project, pytester, builds,
                                                                        tmp_path_factory):
    """A change behind a link out of the project could not be seen: the model is built every run."""
    pkg = pytester.path / "netpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SETTINGS_MODEL)
    outside = tmp_path_factory.mktemp("outside") / "settings.py"
    outside.write_text("WIDTH = 3\n")
    (pkg / "settings.py").symlink_to(outside)
    tiny_project(SUITE.format(model='{factory: "netpkg:build", defined_by: [netpkg/]}', size=8))
    for _ in range(2):
        assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu"))[0] == 24
    assert builds == ["factory"] * 2


def test_a_factory_without_defined_by_is_always_built(tiny_project, pytester, builds):
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(SUITE.format(model='{factory: "settingsmodel:build"}', size=8))
    for _ in range(2):
        pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    assert builds == ["factory"] * 2


RECORD_TORCH = """
import sys


def pytest_unconfigure(config):
    with open("torch-imported.txt", "w") as f:
        f.write(str("torch" in sys.modules))
"""


def test_a_rerun_of_a_factory_defined_by_its_files_does_not_import_torch(tiny_project, pytester):
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(SUITE.format(model='{factory: "settingsmodel:build", defined_by: settingsmodel.py}', size=8))
    pytester.makeconftest(RECORD_TORCH)
    imported = pytester.path / "torch-imported.txt"
    for expected, torch_imported in [((24, 24, 0), "True"), ((24, 0, 24), "False")]:
        result = pytester.runpytest_subprocess("--edgecases", "--edgecases-device=cpu", "-p", "no:randomly")
        assert counts(result) == expected
        assert imported.read_text() == torch_imported


HOOK = '''
import torchvision


def pytest_edgecases_load_model(suite, device):
    return torchvision.models.squeezenet1_1(num_classes=2)   # not the suite's weights
'''


def test_a_model_hook_is_always_called_even_for_a_model_known_from_its_files(tiny_project, pytester, builds):
    squeezenet_weights(pytester.path / "net.safetensors", seed=0)
    tiny_project(SUITE.format(model="{torchvision: squeezenet1_1, args: {num_classes: 2}, weights: net.safetensors}",
                              size=32), clean=2, dark=2)
    assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (8, 8, 0)
    pytester.makeconftest(HOOK)
    assert counts(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (8, 8, 0)
    assert builds == ["torchvision", "torchvision"]


@pytest.mark.parametrize("platform, gpu_build, nodes, expected", [
    ("linux", True, False, "cpu"),      # a CUDA build on a machine with no GPU device node
    ("linux", True, True, None),
    ("linux", False, True, "cpu"),      # a CPU-only build
    ("linux", None, False, None),       # torch's build cannot be read
    ("win32", True, False, None),
    ("darwin", False, False, None),     # MPS may be there
])
def test_auto_is_taken_for_cpu_without_torch_only_where_no_gpu_can_be_used(monkeypatch, platform, gpu_build, nodes,
                                                                           expected):
    """The recipe shortcut keys predictions by device without asking torch: only when cpu is certain."""
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(device_module, "_torch_gpu_build", lambda: gpu_build)
    monkeypatch.setattr(device_module, "_gpu_device_nodes", lambda: nodes)
    assert device_module.torch_free_device("auto") == expected
    assert device_module.torch_free_device("cpu") == "cpu"
    assert device_module.torch_free_device("cuda:0") is None


def test_gpu_device_nodes_and_torch_build_are_read_without_torch(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "null").touch()
    assert not device_module._gpu_device_nodes(dev, tmp_path / "no-driver")
    for node in ("nvidia0", "kfd", "dxg"):
        (dev / node).touch()
        assert device_module._gpu_device_nodes(dev, tmp_path / "no-driver")
        (dev / node).unlink()
    assert device_module._gpu_device_nodes(dev, tmp_path)                  # /proc/driver/nvidia exists
    assert device_module._gpu_device_nodes(tmp_path / "missing", tmp_path / "no-driver")
    import torch.version

    assert device_module._torch_gpu_build() == (torch.version.cuda is not None or torch.version.hip is not None)


def test_a_changed_transform_is_inferred_again(tiny_project, pytester):
    pytest.importorskip("pytest_edgecases.transforms")
    suite = tiny_project()
    text = suite.read_text()
    suite.write_text(text + "  - name: grey\n    from: clean\n    transform: {brightness: 0.5}\n")
    assert counts(pytester.runpytest("--edgecases")) == (36, 36, 0)
    suite.write_text(text + "  - name: grey\n    from: clean\n    transform: {brightness: 0.3}\n")
    assert counts(pytester.runpytest("--edgecases")) == (36, 12, 24)
