"""The models people have: timm, Hugging Face, torch.export and ONNX, each giving the numbers its library gives.

Tiny models are built here with random weights and saved as each library saves them; a suite then
runs each through the plugin, and every example's top-1 and probability must match the library's
own preprocessing and forward pass on the same image (within 1e-5; ONNX within 1e-4). The bad
inputs the issue lists are each a clear error naming file and line (the second half of this file).
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")   # torch.onnx.export's exporter

LABELS = ["cat", "dog"]


class SmallCNN(torch.nn.Module):
    """A CNN small enough to export in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3)
        self.head = torch.nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).relu().mean((2, 3)))


class ChannelsLast(torch.nn.Module):
    """A model that takes N×H×W×3 images (as TensorFlow-born models do): not what the plugin feeds."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.permute(0, 3, 1, 2))


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """Every model saved as its library saves it, in one folder copied into each test's project."""
    out = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    net = timm.create_model("test_resnet", pretrained=False, num_classes=2).eval()
    timm.models.save_for_hf(net, str(out / "timm_dir"), safe_serialization=True)
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(out / "timm_resnet.safetensors"))
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64,
                                    id2label={0: "cat", 1: "dog"}, label2id={"cat": 0, "dog": 1})
    transformers.ViTForImageClassification(config).save_pretrained(out / "hf_vit")
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out / "hf_vit")
    cnn = SmallCNN().eval()
    example = (torch.randn(2, 3, 16, 16),)
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(cnn, example, dynamic_shapes=({0: batch},)), str(out / "cnn.pt2"))
    torch.export.save(torch.export.export(cnn, (torch.randn(1, 3, 16, 16),)), str(out / "cnn_batch1.pt2"))
    torch.onnx.export(cnn, example, str(out / "cnn.onnx"), input_names=["images"], output_names=["logits"],
                      dynamic_shapes=({0: batch},), dynamo=True)
    torch.onnx.export(cnn, (torch.randn(1, 3, 16, 16),), str(out / "cnn_batch1.onnx"), input_names=["images"],
                      output_names=["logits"], dynamo=True)
    torch.onnx.export(ChannelsLast(cnn).eval(), (torch.randn(1, 16, 16, 3),), str(out / "nhwc.onnx"),
                      input_names=["images"], dynamo=True)
    return out


def noise_images(root: Path) -> list[Path]:
    """Random-noise images of several sizes: probabilities then differ from image to image."""
    rng = np.random.default_rng(0)
    files = []
    for label in LABELS:
        for i, (w, h) in enumerate([(40, 30), (30, 44), (16, 16)]):
            path = root / "data" / "clean" / label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
            files.append(path)
    return files


def project(root: Path, saved: Path, model: str, *, labels: str = "labels: [cat, dog]",
            preprocess: str = "", name: str = "edgecases.yaml") -> Path:
    (root / "models").mkdir(exist_ok=True)
    for entry in saved.iterdir():
        target = root / "models" / entry.name
        if not target.exists():
            (shutil.copytree if entry.is_dir() else shutil.copy)(entry, target)
    noise_images(root)
    suite = root / name
    suite.write_text(f"suite: {name.split('.')[0]}\n{labels}\nmodel: {model}\n{preprocess}\n"
                     "defaults: {min_accuracy: 0.0}\ncategories:\n  - name: clean\n    images: data/clean/\n")
    return suite


def run(pytester, *extra: str) -> dict:
    result = pytester.runpytest("--edgecases", "--edgecases-device=cpu", "--edgecases-results=out.json", *extra)
    assert result.ret == 0, result.stdout.str()
    return json.loads((pytester.path / "out.json").read_text())


def plugin_answers(doc: dict) -> dict[str, tuple[str, float]]:
    return {e["path"]: (e["predicted"], e["confidence"]) for c in doc["categories"] for e in c["examples"]}


def check(doc: dict, reference, root: Path, tolerance: float) -> None:
    """Each example's top-1 and probability against ``reference(PIL image) -> logits (1, 2)``."""
    answers = plugin_answers(doc)
    assert len(answers) == 6
    for path, (predicted, confidence) in answers.items():
        with torch.inference_mode():
            probs = torch.softmax(reference(Image.open(root / path).convert("RGB")).float(), dim=1)[0]
        top = int(probs.argmax())
        assert predicted == LABELS[top], path
        assert confidence == pytest.approx(float(probs[top]), abs=tolerance), path


def run_info(doc: dict) -> dict:
    return doc["categories"][0]["run"]


def timm_reference(model):
    config = timm.data.resolve_model_data_config(model)
    transform = timm.data.create_transform(**config, is_training=False)
    return lambda image: model(transform(image)[None])


@pytest.mark.parametrize("model", ["{timm: test_resnet, weights: models/timm_resnet.safetensors}",
                                   "{timm: models/timm_dir}"])
def test_a_timm_model_gives_timms_numbers_with_its_own_preprocessing(pytester, saved, model):
    project(pytester.path, saved, model)
    doc = run(pytester)
    net = timm.create_model("test_resnet", pretrained=False, num_classes=2).eval()
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(saved / "timm_resnet.safetensors")))
    check(doc, timm_reference(net), pytester.path, 1e-5)


def hf_reference(folder: Path):
    model = transformers.AutoModelForImageClassification.from_pretrained(folder, local_files_only=True).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True, use_fast=False)
    return lambda image: model(**processor(images=image, return_tensors="pt")).logits


def test_a_hugging_face_model_gives_transformers_numbers_with_labels_from_id2label(pytester, saved):
    project(pytester.path, saved, "{huggingface: models/hf_vit}", labels="")
    doc = run(pytester)
    check(doc, hf_reference(saved / "hf_vit"), pytester.path, 1e-5)


def torchvision_like(image: Image.Image, size: int = 16, std: float = 0.25) -> torch.Tensor:
    """A declared preprocess as torchvision does it: resize to size x size, scale to [0, 1], normalise."""
    import torchvision.transforms.v2 as T

    pipeline = T.Compose([T.Resize([size, size]), T.PILToTensor(), T.ToDtype(torch.float32, scale=True),
                          T.Normalize([0.5] * 3, [std] * 3)])
    return pipeline(image)[None]


DECLARED = "preprocess: {resize: [16, 16], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}"


@pytest.mark.parametrize("file", ["cnn.pt2", "cnn_batch1.pt2"])
def test_an_exported_program_gives_its_own_numbers(pytester, saved, file):
    """Exported with a batch Dim or for batches of one (run slice by slice): the same numbers."""
    project(pytester.path, saved, f"{{exported: models/{file}}}", preprocess=DECLARED)
    doc = run(pytester)
    program = torch.export.load(str(saved / "cnn.pt2")).module()
    check(doc, lambda image: program(torchvision_like(image)), pytester.path, 1e-5)


@pytest.mark.parametrize("file", ["cnn.onnx", "cnn_batch1.onnx"])
def test_an_onnx_file_gives_onnxruntimes_numbers(pytester, saved, file):
    """With a batch dimension or exported for batches of one (run slice by slice): the same numbers."""
    project(pytester.path, saved, f"{{onnx: models/{file}}}", preprocess=DECLARED)
    doc = run(pytester)
    session = ort.InferenceSession(str(saved / "cnn.onnx"), providers=["CPUExecutionProvider"])
    check(doc, lambda image: torch.from_numpy(session.run(None, {"images": torchvision_like(image).numpy()})[0]),
          pytester.path, 1e-4)


def test_the_resolved_preprocessing_is_in_the_run_info_and_a_suites_preprocess_overrides_it(pytester, saved):
    project(pytester.path, saved, "{huggingface: models/hf_vit}", labels="")
    own = run_info(run(pytester))["preprocess"]
    assert own.startswith("the model's own: ViTImageProcessor") and '"height": 32' in own
    assert "(use_fast=False)" in own and "Fast " not in own   # pinned: the PIL processor whatever the default
    project(pytester.path, saved, "{huggingface: models/hf_vit}", labels="",
            preprocess="preprocess: {resize: [32, 32], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}")
    doc = run(pytester)
    overridden = run_info(doc)["preprocess"]
    assert overridden.startswith("the suite's preprocess: resize=(32, 32)") and "overrides the model's own" in overridden
    # The suite's declaration is what ran: the same numbers as resize + rescale + normalise by hand.
    model = transformers.AutoModelForImageClassification.from_pretrained(saved / "hf_vit").eval()
    check(doc, lambda image: model(torchvision_like(image, size=32, std=0.5)).logits, pytester.path, 1e-5)


def inferred(result) -> dict[str, tuple[int, int]]:
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(
        r"edgecases: (\w+): \d+ images, (\d+) inferred, (\d+) from cache", result.stdout.str())}


RECORD_IMPORTS = """
import sys


def pytest_unconfigure(config):
    heavy = sorted(m for m in ("torch", "timm", "transformers", "onnxruntime", "torchvision") if m in sys.modules)
    with open("imported.txt", "w") as f:
        f.write(",".join(heavy))
"""


def test_a_warm_rerun_knows_each_saved_model_from_its_files_and_imports_no_model_code(pytester, saved):
    """Four suites, one per source: the rerun finds every prediction without torch or the libraries; a
    changed processor config (a file of the model) means new predictions."""
    for name, model, pre in [("timm", "{timm: models/timm_dir}", ""), ("hf", "{huggingface: models/hf_vit}", ""),
                             ("exported", "{exported: models/cnn.pt2}", DECLARED),
                             ("onnx", "{onnx: models/cnn.onnx}", DECLARED)]:
        project(pytester.path, saved, model, labels="" if name == "hf" else "labels: [cat, dog]", preprocess=pre,
                name=f"{name}.edgecases.yaml")
    pytester.makeconftest(RECORD_IMPORTS)
    args = ("--edgecases", "--edgecases-device=cpu", "-p", "no:randomly", "--edgecases-results=out.json")
    first = pytester.runpytest_subprocess(*args)
    assert inferred(first) == {name: (6, 0) for name in ("timm", "hf", "exported", "onnx")}, first.stdout.str()
    assert (pytester.path / "imported.txt").read_text() != ""
    answers = plugin_answers(json.loads((pytester.path / "out.json").read_text()))
    warm = pytester.runpytest_subprocess(*args)
    assert inferred(warm) == {name: (0, 6) for name in ("timm", "hf", "exported", "onnx")}, warm.stdout.str()
    assert (pytester.path / "imported.txt").read_text() == ""
    assert plugin_answers(json.loads((pytester.path / "out.json").read_text())) == answers
    doc = json.loads((pytester.path / "out.json").read_text())
    runs = {c["suite"]: c["run"]["preprocess"] for c in doc["categories"]}
    assert runs["hf"].startswith("the model's own: ViTImageProcessor")   # known on the warm run too
    assert runs["timm"].startswith("the model's own: timm data config")
    config = pytester.path / "models" / "hf_vit" / "preprocessor_config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "image_mean": [0.4, 0.4, 0.4]}))
    assert inferred(pytester.runpytest_subprocess(*args))["hf"] == (6, 0)


# -- bad input: each a clear error naming file and line, before anything is written -----------------

def suite_error(root: Path, saved: Path, model: str, labels: str = "labels: [cat, dog]", preprocess: str = "") -> str:
    from pytest_edgecases.errors import EdgecasesError
    from pytest_edgecases.suite import load_suite

    suite = project(root, saved, model, labels=labels, preprocess=preprocess)
    with pytest.raises(EdgecasesError) as info:
        load_suite(suite, root)
    return str(info.value)


def test_a_folder_without_config_json(tmp_path, saved):
    project(tmp_path, saved, "{timm: models/timm_dir}")
    (tmp_path / "models" / "timm_dir" / "config.json").unlink()
    assert suite_error(tmp_path, saved, "{timm: models/timm_dir}").startswith(
        "edgecases.yaml:3: model.timm folder 'models/timm_dir' has no config.json")


def test_pickled_bin_weights_are_refused_where_safetensors_are_required(tmp_path, saved):
    folder = tmp_path / "models" / "hf_vit"
    project(tmp_path, saved, "{huggingface: models/hf_vit}")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    message = suite_error(tmp_path, saved, "{huggingface: models/hf_vit}")
    assert message.startswith("edgecases.yaml:3: model.huggingface folder 'models/hf_vit' holds pytorch_model.bin, "
                              "pickled weights, which could run code when loaded; safetensors are required")
    assert "safe_serialization=True" in message


def test_labels_that_disagree_with_id2label_show_both(tmp_path, saved):
    message = suite_error(tmp_path, saved, "{huggingface: models/hf_vit}", labels="labels: [dog, cat]")
    assert message.startswith("edgecases.yaml:2: labels disagree with the model's id2label at index 0: "
                              "suite ['dog', 'cat'], model ['cat', 'dog']")


def test_a_head_of_another_size_than_the_labels_is_an_error_not_a_new_head(tmp_path, saved):
    assert suite_error(tmp_path, saved, "{huggingface: models/hf_vit}", labels="labels: [cat, dog, fox]").startswith(
        "edgecases.yaml:2: the model has 2 outputs but the suite has 3 labels")
    assert suite_error(tmp_path, saved, "{timm: models/timm_dir}", labels="labels: [a, b, c]").startswith(
        "edgecases.yaml:2: the model has 2 outputs but the suite has 3 labels")


def test_placeholder_labels_are_refused_unless_the_suite_gives_labels(tmp_path, saved):
    project(tmp_path, saved, "{huggingface: models/hf_vit}")
    config = tmp_path / "models" / "hf_vit" / "config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}}))
    assert suite_error(tmp_path, saved, "{huggingface: models/hf_vit}", labels="").startswith(
        "edgecases.yaml:3: the model's id2label holds placeholder names (LABEL_0, LABEL_1, ...), not classes")
    from pytest_edgecases.suite import load_suite

    suite = project(tmp_path, saved, "{huggingface: models/hf_vit}", labels="labels: [cat, dog]")
    assert load_suite(suite, tmp_path).labels == ("cat", "dog")


@pytest.mark.parametrize("model, message", [
    ("{timm: resnet50.a1_in1k}", "edgecases.yaml:3: model.timm 'resnet50.a1_in1k' is a timm model name without "
                                 "weights:, or a folder that does not exist"),
    ("{onnx: models/cnn.pt2}", "edgecases.yaml:3: model.onnx 'models/cnn.pt2' must be an ONNX file, named *.onnx"),
    ("{exported: models/gone.pt2}", "edgecases.yaml:3: model.exported 'models/gone.pt2' does not exist"),
    ("{huggingface: models/cnn.onnx}", "edgecases.yaml:3: model.huggingface 'models/cnn.onnx' is a file, not a folder"),
    ("{onnx: models/cnn.onnx, weights: models/timm_resnet.safetensors}",
     "edgecases.yaml:3: a onnx: model carries its weights; remove weights:"),
    ("{huggingface: models/hf_vit, args: {x: 1}}", "edgecases.yaml:3: a huggingface: model takes no args:"),
])
def test_a_saved_model_declared_wrongly(tmp_path, saved, model, message):
    assert suite_error(tmp_path, saved, model).startswith(message)


def test_a_hugging_face_folder_without_its_processor_needs_a_preprocess(tmp_path, saved):
    project(tmp_path, saved, "{huggingface: models/hf_vit}")
    (tmp_path / "models" / "hf_vit" / "preprocessor_config.json").unlink()
    assert suite_error(tmp_path, saved, "{huggingface: models/hf_vit}").startswith(
        "edgecases.yaml:3: model.huggingface folder 'models/hf_vit' has no preprocessor_config.json")


def no_traceback(result) -> None:
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out and "site-packages" not in out


GOOD = "good.edgecases.yaml"


def two_suites(pytester, saved, bad_model: str, preprocess: str = DECLARED):
    """A suite with ``bad_model`` beside a good one: the bad one fails with its file:line, the other runs."""
    project(pytester.path, saved, "{onnx: models/cnn.onnx}", preprocess=DECLARED, name=GOOD)
    project(pytester.path, saved, bad_model, preprocess=preprocess)
    result = pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    assert re.search(r"edgecases: good: 6 images, 6 inferred", result.stdout.str()), result.stdout.str()
    no_traceback(result)
    return result


def test_an_onnx_file_whose_input_is_not_nchw(pytester, saved):
    result = two_suites(pytester, saved, "{onnx: models/nhwc.onnx}")
    assert ("edgecases.yaml:3: 'models/nhwc.onnx' takes (images: [1, 16, 16, 3]); an image classifier takes one "
            "N×3×H×W input\n  hint: export the model with one NCHW image batch as its input") in result.stdout.str()


STRING_MODEL = """
import torch


class Talker(torch.nn.Module):
    def forward(self, x):
        return "a cat"


def build():
    return Talker()
"""


def test_a_model_that_returns_a_string(pytester, saved):
    (pytester.path / "talker.py").write_text(STRING_MODEL)
    result = two_suites(pytester, saved, '{factory: "talker:build"}')
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: the model returned a str, not logits*",
                                 "*hint: return a tensor of shape (batch, labels)*"])


@pytest.mark.parametrize("model, module, extra", [
    ("{timm: models/timm_dir}", "timm", "timm"),
    ("{huggingface: models/hf_vit}", "transformers", "huggingface"),
    ("{onnx: models/cnn.onnx}", "onnxruntime", "onnx"),
])
def test_an_extra_not_installed_names_the_pip_command(pytester, saved, monkeypatch, model, module, extra):
    import onnxruntime  # noqa: F401  (the good suite's, imported before the bad suite's is hidden)

    project(pytester.path, saved, model, labels="labels: [cat, dog]")
    monkeypatch.setitem(sys.modules, module, None)   # import fails as if it were not installed
    result = pytester.runpytest("--edgecases", "--edgecases-device=cpu")
    out = result.stdout.str()
    assert f"edgecases.yaml:3: a {extra}: model needs the '{module}' package, which cannot be imported" in out
    assert f"  hint: pip install 'pytest-edgecases[{extra}]'" in out
    no_traceback(result)


def test_a_hugging_face_folder_missing_a_weight_is_refused_rather_than_filled_at_random(pytester, saved):
    from safetensors.torch import load_file, save_file

    project(pytester.path, saved, "{onnx: models/cnn.onnx}", preprocess=DECLARED, name=GOOD)   # copies the models
    weights = pytester.path / "models" / "hf_vit" / "model.safetensors"
    state = load_file(str(weights))
    save_file({k: v for k, v in state.items() if not k.startswith("classifier.")}, str(weights))
    result = two_suites(pytester, saved, "{huggingface: models/hf_vit}", preprocess="")
    assert ("edgecases.yaml:3: 'models/hf_vit' lacks weights for 2 tensors of the model (classifier.bias, "
            "classifier.weight); they would be random") in result.stdout.str()
