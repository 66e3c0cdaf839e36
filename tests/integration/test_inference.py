"""Inference in runs: once per session, batched, only for selected items, shared under xdist, and numerically
right (against a plain PyTorch loop). What the cache serves between runs: test_cache.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from support.project import inferred_line
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


def test_a_category_run_again_gets_its_verdict_though_its_predictions_were_let_go(tiny_project, pytester, forward_log):
    """A judged category's predictions are dropped (memory); an item run again, as pytest-rerunfailures
    does, gets the same verdict, not 'no prediction'. Categories sharing images keep theirs until both are judged."""
    colours(tiny_project, SHARED)
    (pytester.path / "listed.csv").write_text("path,label\ndata/clean/red/000.png,red\n")
    pytester.makeconftest("""
        def pytest_runtest_call(item):
            item.runtest()   # then pytest runs it once more
    """)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out.json")
    result.assert_outcomes(passed=3, failed=1)
    doc = json.loads((pytester.path / "out.json").read_text())
    judged = {c["category"]: (c["n_examples"], c["n_correct"], c.get("error")) for c in doc["categories"]}
    assert judged == {"clean": (12, 12, None), "dark": (12, 6, None), "clean_again": (12, 12, None),
                      "listed": (1, 1, None)}


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




def test_a_judged_categorys_predictions_go_unless_another_category_still_needs_them():
    """Inferred.forget: keys and properties of the category go; a prediction goes with its last user."""
    from types import SimpleNamespace

    from pytest_edgecases.inference.inferred import Inferred
    from pytest_edgecases.prediction import Prediction

    suite = SimpleNamespace(path=Path("/p/s.yaml"))
    a, b = (SimpleNamespace(test_name=name, examples=[SimpleNamespace(path=p) for p in paths])
            for name, paths in (("a", ["x.png", "y.png"]), ("b", ["x.png"])))
    inferred = Inferred(keys={(suite.path, "a", "x.png"): "kx", (suite.path, "a", "y.png"): "ky",
                              (suite.path, "b", "x.png"): "kx"},
                        predictions={"kx": Prediction(top=((0, 1.0),)), "ky": Prediction(top=((1, 1.0),))})
    inferred.forget(suite, a)
    assert set(inferred.predictions) == {"kx"} and list(inferred.keys) == [(suite.path, "b", "x.png")]
    assert inferred.prediction(suite, b, b.examples[0]).top == ((0, 1.0),)
    inferred.forget(suite, b)
    assert inferred.predictions == {} and inferred.keys == {}
