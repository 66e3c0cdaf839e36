"""The prediction cache in runs: what a rerun takes from it, that nothing stale is ever taken, and the
cache file over time. (The store itself, unit by unit: tests/unit/test_store.py; the cache-key inputs are
pytest_edgecases/inference/keys.py.)

A prediction is served from the cache only while every input of its key is unchanged: the image, the
model (code, arguments, weights, defined_by files), preprocessing, the label set, precision, library
versions, a synthetic transform. Two shortcuts a rerun takes are checked too: the stat-keyed digest memo
(an image rewritten behind an unchanged-looking stat) and the model-recipe memo that lets a rerun skip
building a file-determined model (torchvision + weights, TorchScript, a factory with defined_by:). Ctrl-C
mid-run is test_hardening_runs.py's run-ctrl-c case; xdist workers sharing the cache, test_speed.py's.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from support.project import inferred_line, model_suite, write_images
from support.store import stamps

from pytest_edgecases.inference import digests, keys, predict


def predictions(path: Path) -> dict[tuple[str, str], tuple]:
    doc = json.loads(path.read_text())
    return {(c["category"], e["path"]): (e["predicted"], e["confidence"]) for c in doc["categories"]
            for e in c["examples"]}


# -- served from the cache between runs, and only while the image, model and preprocessing are the same --


def test_cache_between_runs(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    first = pytester.runpytest("--edgecases")
    first.assert_outcomes(passed=1, failed=1)
    assert inferred_line(first) == (24, 24, 0)

    rerun = pytester.runpytest("--edgecases")
    rerun.assert_outcomes(passed=1, failed=1)
    assert inferred_line(rerun) == (24, 0, 24)
    assert sum(forward_log()) == 24

    # --edgecases-no-cache neither reads nor writes the cache.
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-no-cache")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 0, 24)


def test_no_cache_run_writes_no_cache(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-no-cache")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_a_changed_image_alone_is_inferred_again(tiny_project, pytester, forward_log, solid_image):
    tiny_project(factory="countmodel:build")
    pytester.runpytest("--edgecases")
    solid_image(pytester.path / "data/dark/red/000.png", (250, 0, 0), size=16)
    result = pytester.runpytest("--edgecases")
    assert inferred_line(result) == (24, 1, 23)


def test_a_changed_model_or_preprocessing_infers_everything_again(tiny_project, pytester, forward_log):
    suite = tiny_project(factory="countmodel:build")
    pytester.runpytest("--edgecases")
    text = suite.read_text()
    suite.write_text(text.replace("bias: 1.0", "bias: 0.0"))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(passed=2)          # and the verdicts are the new model's
    assert inferred_line(result) == (24, 24, 0)
    suite.write_text(text.replace("bias: 1.0", "bias: 0.0").replace("resize: [8, 8]", "resize: [4, 4]"))
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_cache_dir_option(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-cache-dir=preds")
    assert (pytester.path / "preds" / "predictions.sqlite").is_file()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-cache-dir=preds")
    assert inferred_line(result) == (24, 0, 24)


def test_a_changed_label_set_is_not_served_from_the_cache(tiny_project, pytester, forward_log):
    suite = tiny_project(factory="countmodel:build")
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)
    # The model still has two outputs: with three labels it no longer fits the suite.
    suite.write_text(suite.read_text().replace("[red, blue]", "[red, blue, green]"))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*the model returned (24, 2) for a batch of 24; expected (24, 3)*"])


HELPER_MODEL = '''
import torch


def features(x):
    return x.mean(dim=(2, 3)){tweak}


class Block(torch.nn.Module):
    def forward(self, x):
        return features(x)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[4.0, 0.0, -4.0], [-4.0, 0.0, 4.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.block(x))


def build():
    return Net()
'''


@pytest.mark.parametrize("edit", ["helper function", "parent class"])
def test_a_changed_model_code_is_inferred_again(tiny_project, pytester, forward_log, edit):
    """Same weights, other code: the model's own classes and modules are part of the cache key."""
    if edit == "helper function":
        model, factory = pytester.path / "helpermodel.py", "helpermodel:build"
        model.write_text(HELPER_MODEL.format(tweak=""))
        changed = HELPER_MODEL.format(tweak=" * torch.tensor([0.0, 1.0, 1.0])  # red channel lost")
    else:   # countmodel's class only subclasses tinymodel.Net, whose forward changes
        model, factory = pytester.path / "tinymodel.py", "countmodel:build"
        changed = None
    suite = tiny_project(factory=factory)
    suite.write_text(suite.read_text().replace("args: {bias: 1.0}", "args: {}"))
    pytester.runpytest("--edgecases").assert_outcomes(passed=2)
    if changed is None:
        changed = model.read_text().replace("return self.fc(x.mean(dim=(2, 3)))",
                                            "return self.fc(x.mean(dim=(2, 3)) * torch.tensor([0.0, 1.0, 1.0]))")
    model.write_text(changed)
    result = pytester.runpytest("--edgecases")
    assert inferred_line(result) == (24, 24, 0)
    result.assert_outcomes(failed=2)   # without red, every red image reads as blue


PREPROCESS = '''
import torch
from torchvision.transforms.v2 import functional as TF


def transform(image):
    return TF.to_dtype(TF.pil_to_tensor(TF.resize(image, [4, 4])), torch.float32, scale=True){tweak}
'''


def test_a_preprocess_callable_is_used_and_its_edits_are_inferred_again(tiny_project, pytester, forward_log):
    (pytester.path / "mypre.py").write_text(PREPROCESS.format(tweak=""))
    suite = tiny_project(factory="countmodel:build")
    suite.write_text(suite.read_text().replace("preprocess: {resize: [8, 8]}", "preprocess: mypre:transform"))
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)
    # Swapping red and blue makes every image read as the other colour.
    (pytester.path / "mypre.py").write_text(PREPROCESS.format(tweak="[[2, 1, 0]]"))
    result = pytester.runpytest("--edgecases")
    assert inferred_line(result) == (24, 24, 0)
    result.assert_outcomes(failed=2)


# -- the rest of the key, and the shortcuts a rerun takes ------------------------------------------------


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
    suite = tiny_project(model_suite('{factory: "settingsmodel:build"}', min_accuracy=0.0))
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-results=a.json")) == (24, 24, 0)
    suite.write_text(suite.read_text().replace('"settingsmodel:build"}', f'"settingsmodel:build", args: {args}}}'))
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-results=b.json")) == (24, 24, 0)
    assert predictions(pytester.path / "a.json") != predictions(pytester.path / "b.json")


def squeezenet_weights(path: Path, seed: int) -> None:
    import torchvision

    torch.manual_seed(seed)
    state = torchvision.models.squeezenet1_1(num_classes=2).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))


def test_a_precision_change_is_inferred_again(tiny_project, pytester):
    tiny_project()
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-precision=bf16")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-precision=bf16")) == (24, 0, 24)
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 0, 24)   # fp32's entries are still there


def test_a_library_version_change_is_inferred_again(tiny_project, pytester, monkeypatch):
    tiny_project()
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)
    real = keys.library_versions
    monkeypatch.setattr(keys, "library_versions", lambda: {**real(), "pillow": "0.0.1"})
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_an_image_rewritten_behind_the_same_size_and_mtime_is_hashed_again(tiny_project, pytester, solid_image,
                                                                          monkeypatch):
    """The digest memo compares the whole stat (ctime and inode too), so restoring mtime does not fool it."""
    monkeypatch.setattr(digests, "_RACY_NS", 0)   # memoise files written just now (the test's own)
    reads: list[Path] = []
    real = digests.read_bytes
    monkeypatch.setattr(digests, "read_bytes", lambda path: reads.append(path) or real(path))
    tiny_project()
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)
    assert len(reads) == 24
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 0, 24)
    assert len(reads) == 24                                           # the rerun read no image to hash it
    image = pytester.path / "data/dark/red/000.png"
    before = os.stat(image)
    other = solid_image(pytester.path / "other.png", (0, 0, 250), size=16).read_bytes()
    assert len(other) == before.st_size and other != image.read_bytes()
    image.write_bytes(other)                                           # same size, other pixels,
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))      # and the old mtime back
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 1, 23)
    assert reads[24:] == [str(image.resolve())]


def test_a_file_changed_since_it_was_hashed_is_refused_not_cached(tiny_project, pytester, monkeypatch):
    """Bytes that are not the ones the key was made from never get a prediction under that key."""
    tiny_project()
    real = predict.read_bytes

    def swapped(path):
        data, digest = real(path)
        return (data, "0" * 64) if str(path).endswith("dark/red/000.png") else (data, digest)

    monkeypatch.setattr(predict, "read_bytes", swapped)   # as if the file changed after it was hashed
    result = pytester.runpytest("--edgecases", "--edgecases-results=out.json")
    assert inferred_line(result) == (24, 24, 0)
    doc = json.loads((pytester.path / "out.json").read_text())
    errors = [e for c in doc["categories"] for e in c["examples"] if e["error"]]
    assert [(e["path"], e["error"]) for e in errors] == [
        ("data/dark/red/000.png", "the file changed while the run was using it; run again")]
    monkeypatch.setattr(predict, "read_bytes", real)
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 1, 23)   # it was not cached


def test_a_changed_weights_file_is_inferred_again_though_a_rerun_skips_building(tiny_project, pytester, builds):
    squeezenet_weights(pytester.path / "net.safetensors", seed=0)
    tiny_project(model_suite("{torchvision: squeezenet1_1, args: {num_classes: 2}, weights: net.safetensors}",
                             size=32, min_accuracy=0.0), clean=2, dark=2)
    args = ("--edgecases", "--edgecases-device=cpu", "--edgecases-results=out.json")
    assert inferred_line(pytester.runpytest(*args)) == (8, 8, 0)
    first = predictions(pytester.path / "out.json")
    assert inferred_line(pytester.runpytest(*args)) == (8, 0, 8)
    assert builds == ["torchvision"]                         # the rerun knew the model from its files
    assert predictions(pytester.path / "out.json") == first
    squeezenet_weights(pytester.path / "net.safetensors", seed=1)
    assert inferred_line(pytester.runpytest(*args)) == (8, 8, 0)
    assert builds == ["torchvision"] * 2
    assert predictions(pytester.path / "out.json") != first   # the new weights' answers


@pytest.mark.filterwarnings("ignore:`torch.jit")   # archives made on purpose
def test_a_changed_torchscript_archive_is_inferred_again(tiny_project, pytester, tiny_net, builds):
    torch.jit.script(tiny_net(1.0)).save(str(pytester.path / "tiny.torchscript"))
    tiny_project(model_suite("{torchscript: tiny.torchscript}", min_accuracy=0.0))
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 0, 24)
    assert builds == ["torchscript"]
    torch.jit.script(tiny_net(0.0)).save(str(pytester.path / "tiny.torchscript"))
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (24, 24, 0)


def test_a_factory_defined_by_its_files_is_built_again_only_when_one_changes(tiny_project, pytester, builds):
    """defined_by: lets a rerun skip building a factory's model; any change to a named file, a new file in a
    named folder, the weights or the args builds it again, and changed code is inferred again."""
    pkg = pytester.path / "netpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SETTINGS_MODEL)
    suite = tiny_project(model_suite('{factory: "netpkg:build", defined_by: [netpkg/]}', min_accuracy=0.0))
    args = ("--edgecases", "--edgecases-device=cpu", "--edgecases-results=out.json")
    assert inferred_line(pytester.runpytest(*args)) == (24, 24, 0)
    first = predictions(pytester.path / "out.json")
    assert inferred_line(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"]                              # known from its files: not built
    assert predictions(pytester.path / "out.json") == first

    (pkg / "notes.txt").write_text("a new file in the folder")   # the model is the same, but it must be built
    assert inferred_line(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"] * 2
    (pkg / "__init__.py").write_text(SETTINGS_MODEL.replace("temperature=1.0", "temperature=0.25"))
    assert inferred_line(pytester.runpytest(*args)) == (24, 24, 0)
    assert builds == ["factory"] * 3
    assert predictions(pytester.path / "out.json") != first
    suite.write_text(suite.read_text().replace('defined_by:', 'args: {act: tanh}, defined_by:'))
    assert inferred_line(pytester.runpytest(*args)) == (24, 24, 0)
    assert builds == ["factory"] * 4
    assert inferred_line(pytester.runpytest(*args)) == (24, 0, 24)
    assert builds == ["factory"] * 4


def test_one_new_image_for_a_model_known_from_its_files_is_looked_up_once(tiny_project, pytester, builds,
                                                                         monkeypatch):
    """The model is known from its files, but one image is new: the model is built for that one image,
    and the examples looked up before building are not looked up again (20,000 of them, half a second)."""
    from pytest_edgecases.inference.store import PredictionCache

    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(model_suite('{factory: "settingsmodel:build", defined_by: settingsmodel.py}', min_accuracy=0.0))
    args = ("--edgecases", "--edgecases-device=cpu")
    assert inferred_line(pytester.runpytest(*args)) == (24, 24, 0)
    lookups: list[int] = []
    real = PredictionCache.get_many

    def counting(self, keys):
        keys = list(keys)
        lookups.append(len(keys))
        return real(self, keys)

    monkeypatch.setattr(PredictionCache, "get_many", counting)
    write_images(pytester.path, "data/clean", {"red": 7})   # red/006.png is new
    assert inferred_line(pytester.runpytest(*args)) == (25, 1, 24)
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
    tiny_project(model_suite('{factory: "netpkg:build", defined_by: [netpkg/]}', min_accuracy=0.0))
    for _ in range(2):
        assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu"))[0] == 24
    assert builds == ["factory"] * 2


def test_a_factory_without_defined_by_is_always_built_and_the_rerun_says_how_to_skip_that(tiny_project, pytester,
                                                                                        builds):
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(model_suite('{factory: "settingsmodel:build"}', min_accuracy=0.0))
    hint = "edgecases: colours: model built only to identify it (*s): add defined_by: ?settingsmodel.py? to the " \
        "suite's model: section to skip this (docs/performance.md)"   # ? for the brackets: fnmatch reads [] as a class
    first = pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    assert "built only to identify it" not in first.stdout.str()   # it inferred: building was needed
    rerun = pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    assert inferred_line(rerun) == (24, 0, 24)
    rerun.stdout.fnmatch_lines([hint])
    assert builds == ["factory"] * 2


def test_no_build_hint_where_defined_by_would_not_help(tiny_project, pytester):
    """A conftest hook's model (or a preprocess callable) can read anything: no remedy is offered."""
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(model_suite('{factory: "settingsmodel:build"}', min_accuracy=0.0))
    pytester.makeconftest("import settingsmodel\n\n"
                          "def pytest_edgecases_load_model(suite):\n    return settingsmodel.build()\n")
    for _ in range(2):
        result = pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    assert inferred_line(result) == (24, 0, 24)
    assert "built only to identify it" not in result.stdout.str()


RECORD_TORCH = """
import sys


def pytest_unconfigure(config):
    with open("torch-imported.txt", "w") as f:
        f.write(str("torch" in sys.modules))
"""


def test_a_rerun_of_a_factory_defined_by_its_files_does_not_import_torch(tiny_project, pytester):
    (pytester.path / "settingsmodel.py").write_text(SETTINGS_MODEL)
    tiny_project(model_suite('{factory: "settingsmodel:build", defined_by: settingsmodel.py}', min_accuracy=0.0))
    pytester.makeconftest(RECORD_TORCH)
    imported = pytester.path / "torch-imported.txt"
    for expected, torch_imported in [((24, 24, 0), "True"), ((24, 0, 24), "False")]:
        result = pytester.runpytest_subprocess("--edgecases", "--edgecases-device=cpu", "-p", "no:randomly")
        assert inferred_line(result) == expected
        assert imported.read_text() == torch_imported


HOOK = '''
import torchvision


def pytest_edgecases_load_model(suite, device):
    return torchvision.models.squeezenet1_1(num_classes=2)   # not the suite's weights
'''


def test_a_model_hook_is_always_called_even_for_a_model_known_from_its_files(tiny_project, pytester, builds):
    squeezenet_weights(pytester.path / "net.safetensors", seed=0)
    tiny_project(model_suite("{torchvision: squeezenet1_1, args: {num_classes: 2}, weights: net.safetensors}",
                             size=32, min_accuracy=0.0), clean=2, dark=2)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (8, 8, 0)
    pytester.makeconftest(HOOK)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-device=cpu")) == (8, 8, 0)
    assert builds == ["torchvision", "torchvision"]


def test_a_changed_transform_is_inferred_again(tiny_project, pytester):
    pytest.importorskip("pytest_edgecases.transforms")
    suite = tiny_project()
    text = suite.read_text()
    suite.write_text(text + "  - name: grey\n    from: clean\n    transform: {brightness: 0.5}\n")
    assert inferred_line(pytester.runpytest("--edgecases")) == (36, 36, 0)
    suite.write_text(text + "  - name: grey\n    from: clean\n    transform: {brightness: 0.3}\n")
    assert inferred_line(pytester.runpytest("--edgecases")) == (36, 12, 24)


# -- the cache file over time: unused entries pruned, a corrupt file replaced ---------------------------


def test_a_cache_unused_for_weeks_keeps_what_the_run_used(tiny_project, pytester):
    tiny_project()
    args = ("--edgecases", "--edgecases-cache-dir=preds")
    pytester.runpytest(*args).assert_outcomes(passed=1, failed=1)
    with sqlite3.connect(pytester.path / "preds/predictions.sqlite") as db:   # as if last run 40 days ago
        for table in ("predictions", "files", "models", "blobs"):
            db.execute(f"UPDATE {table} SET used = used - 40")
        db.execute("DELETE FROM meta WHERE name='pruned'")
    only_clean = pytester.runpytest(*args, "-k", "clean")
    only_clean.assert_outcomes(passed=1)
    only_clean.stdout.fnmatch_lines(["edgecases: colours: 12 images, 0 inferred, 12 from cache*",
                                     "edgecases: dropped * cache entries no run had used for over 30 days*"])
    both = pytester.runpytest(*args)
    both.stdout.fnmatch_lines(["edgecases: colours: 24 images, 12 inferred, 12 from cache*"])
    assert "dropped" not in both.stdout.str()


def test_under_xdist_the_controller_prunes_after_the_workers_are_done(tiny_project, pytester):
    tiny_project()
    args = ("--edgecases", "--edgecases-cache-dir=preds")
    pytester.runpytest(*args).assert_outcomes(passed=1, failed=1)
    path = pytester.path / "preds/predictions.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE predictions SET used = used - 40")
        db.execute("INSERT INTO predictions SELECT 'unused', value, checksum, used FROM predictions LIMIT 1")
        db.execute("DELETE FROM meta WHERE name='pruned'")
    result = pytester.runpytest_subprocess(*args, "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["edgecases: dropped 1 cache entries no run had used for over 30 days*"])
    assert "unused" not in stamps(path)
    rerun = pytester.runpytest(*args)
    assert inferred_line(rerun) == (24, 0, 24)


def test_a_corrupt_cache_does_not_break_a_run(tiny_project, pytester):
    tiny_project()
    (pytester.path / "preds").mkdir()
    (pytester.path / "preds/predictions.sqlite").write_bytes(b"\x00garbage" * 100)
    result = pytester.runpytest("--edgecases", "--edgecases-cache-dir=preds")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["edgecases: colours: 24 images, 24 inferred, 0 from cache*"])
    rerun = pytester.runpytest("--edgecases", "--edgecases-cache-dir=preds")
    rerun.stdout.fnmatch_lines(["edgecases: colours: 24 images, 0 inferred, 24 from cache*"])
