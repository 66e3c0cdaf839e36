"""Inference: once per session, batched, cached between runs, shared under xdist, and numerically right."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import inferred_line
from PIL import Image
from torchvision.transforms.v2 import functional as TF

#: Two more categories over images that clean and dark already hold.
SHARED = """
  - name: clean_again
    images: data/clean/
  - name: listed
    manifest: listed.csv
    min_accuracy: 0.0
"""


def colours(tiny_project, extra: str = "") -> Path:
    """tiny_project's suite, its model logging batch sizes (forward_log), with ``extra`` categories."""
    suite = tiny_project(factory="countmodel:build")
    suite.write_text(suite.read_text() + extra)
    return suite


def test_each_image_is_inferred_once_even_when_categories_share_it(tiny_project, pytester, forward_log):
    colours(tiny_project, SHARED)
    (pytester.path / "listed.csv").write_text("path,label\ndata/clean/red/000.png,red\ndata/dark/red/001.png,red\n"
                                              "data/dark/blue/002.png,blue\n")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    assert sum(forward_log()) == 24            # 12 clean + 12 dark, however many categories use them
    assert inferred_line(result) == (24, 24, 0)


def test_deselected_categories_are_not_inferred(tiny_project, pytester, forward_log):
    colours(tiny_project)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-k", "clean")
    result.assert_outcomes(passed=1, deselected=1)
    assert sum(forward_log()) == 12
    assert inferred_line(result) == (12, 12, 0)


def test_one_batch_by_default_and_batch_size_option(tiny_project, pytester, forward_log):
    colours(tiny_project)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    assert forward_log() == [24]
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-batch-size=10")
    assert forward_log()[1:] == [10, 10, 4]


def test_cache_between_runs(tiny_project, pytester, forward_log):
    colours(tiny_project)
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
    colours(tiny_project)
    assert inferred_line(pytester.runpytest("--edgecases", "--edgecases-no-cache")) == (24, 24, 0)
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_a_changed_image_alone_is_inferred_again(tiny_project, pytester, forward_log, solid_image):
    colours(tiny_project)
    pytester.runpytest("--edgecases")
    solid_image(pytester.path / "data/dark/red/000.png", (250, 0, 0), size=16)
    result = pytester.runpytest("--edgecases")
    assert inferred_line(result) == (24, 1, 23)


def test_a_changed_model_or_preprocessing_infers_everything_again(tiny_project, pytester, forward_log):
    suite = colours(tiny_project)
    pytester.runpytest("--edgecases")
    text = suite.read_text()
    suite.write_text(text.replace("bias: 1.0", "bias: 0.0"))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(passed=2)          # and the verdicts are the new model's
    assert inferred_line(result) == (24, 24, 0)
    suite.write_text(text.replace("bias: 1.0", "bias: 0.0").replace("resize: [8, 8]", "resize: [4, 4]"))
    assert inferred_line(pytester.runpytest("--edgecases")) == (24, 24, 0)


def test_cache_dir_option(tiny_project, pytester, forward_log):
    colours(tiny_project)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-cache-dir=preds")
    assert (pytester.path / "preds" / "predictions.sqlite").is_file()
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-cache-dir=preds")
    assert inferred_line(result) == (24, 0, 24)


def example_verdicts(path: Path) -> dict[tuple[str, str], tuple]:
    doc = json.loads(path.read_text())
    return {(c["category"], e["path"]): (e["predicted"], round(e["confidence"], 6), e["correct"], e["status"])
            for c in doc["categories"] for e in c["examples"]}


def test_xdist_same_verdicts_and_each_image_inferred_once_in_all(tiny_project, pytester, forward_log, tmp_path,
                                                                  monkeypatch):
    """Without a prediction cache, workers share the run's predictions through a temp file.

    (With the cache, they share the cache file under the same lock; one subprocess run is
    slow enough on two cores that only this, the xdist-specific path, is run.)
    """
    monkeypatch.setenv("TMPDIR", str(tmp_path))   # where the workers share their run's files
    colours(tiny_project, SHARED)
    (pytester.path / "listed.csv").write_text("path,label\ndata/clean/red/000.png,red\ndata/dark/red/001.png,red\n")
    plain = pytester.runpytest("--edgecases", "--edgecases-no-cache", "--edgecases-results=plain.json")
    plain.assert_outcomes(passed=3, failed=1)
    forward_log_before = len(forward_log())

    result = pytester.runpytest_subprocess("--edgecases", "-n", "2", "--edgecases-no-cache",
                                           "--edgecases-results=xdist.json")
    result.assert_outcomes(passed=3, failed=1)
    assert sum(forward_log()[forward_log_before:]) == 24
    assert example_verdicts(pytester.path / "xdist.json") == example_verdicts(pytester.path / "plain.json")
    # The table is printed once, by the controller, with every category.
    result.stdout.fnmatch_lines(["*= edge cases =*", "category *", "clean *passed", "dark *FAILED",
                                 "clean_again *passed", "listed *passed"])
    assert result.stdout.str().count("= edge cases =") == 1
    assert list(tmp_path.glob("pytest-edgecases-*")) == []   # and they are gone at the end


#: A position- and channel-sensitive model over 3 labels, with fixed random weights.
REF_MODEL = '''
import torch


class Ref(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 4, 3)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def build():
    return Ref()
'''

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def test_accuracy_and_confidences_match_a_plain_pytorch_loop(pytester):
    """The plugin's numbers equal those of the loop a user would write over the same files.

    The loop decodes with PIL (.convert("RGB")), resizes the decoded image with torchvision's v2
    bilinear antialiased resize, scales by 1/255 and normalises: the order torchvision's classic
    ImageFolder pipelines use (Resize before ToTensor), which is the plugin's order too.
    """
    rng = np.random.default_rng(7)
    labels = ["a", "b", "c"]
    rows = ["path,label"]
    files = []
    for i in range(18):
        h, w = int(rng.integers(9, 40)), int(rng.integers(9, 40))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        mode, ext = [("RGB", "png"), ("L", "png"), ("RGBA", "png"), ("P", "png"), ("RGB", "jpg"), ("RGB", "bmp")][i % 6]
        if mode == "P":
            image = image.quantize(16)
        elif mode != "RGB":
            image = image.convert(mode)
        path = pytester.path / "data" / f"{i:02d}.{ext}"
        path.parent.mkdir(exist_ok=True)
        image.save(path)
        label = labels[int(rng.integers(0, 3))]
        rows.append(f"data/{path.name},{label}")
        files.append((path, label))
    (pytester.path / "data.csv").write_text("\n".join(rows) + "\n")
    (pytester.path / "refmodel.py").write_text(REF_MODEL)
    (pytester.path / "edgecases.yaml").write_text(f"""
labels: [a, b, c]
model: {{factory: "refmodel:build"}}
preprocess: {{resize: [8, 6], mean: {MEAN}, std: {STD}}}
categories:
  - name: noise
    manifest: data.csv
""")
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-batch-size=5",
                       "--edgecases-results=out.json").assert_outcomes(passed=1)
    doc = json.loads((pytester.path / "out.json").read_text())
    [category] = doc["categories"]
    got = {e["path"]: (e["predicted"], e["confidence"]) for e in category["examples"]}

    namespace: dict = {}
    exec(REF_MODEL, namespace)
    model = namespace["build"]().eval()
    correct = 0
    with torch.no_grad():
        for path, label in files:
            image = Image.open(path).convert("RGB")
            image = TF.resize(image, [8, 6], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
            x = TF.pil_to_tensor(image).float() / 255
            x = TF.normalize(x, MEAN, STD)
            probs = torch.softmax(model(x[None]), dim=1)[0]
            index = int(probs.argmax())
            predicted, confidence = got[f"data/{path.name}"]
            assert predicted == labels[index], path.name
            assert confidence == pytest.approx(float(probs[index]), abs=1e-5), path.name
            correct += labels[index] == label
    assert len(got) == len(files)
    assert category["n_correct"] == correct
    assert category["accuracy"] == pytest.approx(correct / len(files))
    assert 0 < correct < len(files)   # the check means something only if the labels are mixed


def test_a_changed_label_set_is_not_served_from_the_cache(tiny_project, pytester, forward_log):
    suite = colours(tiny_project)
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
