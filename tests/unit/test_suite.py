"""suite.py: a suite file and its manifests parsed into dataclasses, and every validation error with its line."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from support.project import SuiteProject, suite_yaml

from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.suite import load_suite


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with data/clean/{red,blue}/0.png and 1.png: enough to parse a suite (nothing is inferred)."""
    SuiteProject(tmp_path).images("data/clean", {"red": 2, "blue": 2}, size=4, name="{}.png")
    return tmp_path


#: The shortest suite header (lines 1-2: labels, model) and one category (lines 3-5): the line numbers the
#: expected messages name.
HEAD = suite_yaml(suite=None, model="{factory: 'tinymodel:build'}", preprocess=None, defaults=None, categories="")
CLEAN = "categories:\n  - name: clean\n    images: data/clean/\n"


def parse(project: Path, text: str, name: str = "edgecases.yaml"):
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_suite(path, project)


def suite_error(project: Path, text: str, name: str = "edgecases.yaml") -> str:
    with pytest.raises(EdgecasesError) as info:
        parse(project, text, name)
    return str(info.value)


def test_a_full_suite_parses(project):
    (project / "m.csv").write_text("path,label,severity,camera\ndata/clean/red/0.png,red,high,a\n"
                                   "data/clean/blue/1.png,blue,,b\n")
    suite = parse(project, """\
suite: road-signs
labels: [red, blue]
model: {factory: "signs.model:build", args: {width: 2, sizes: [1, 2]}}
preprocess: {resize: [8, 6], center_crop: 4, mean: [0.5, 0.5, 0.5], std: [0.25]}
defaults: {severity: low, min_accuracy: 0.9, max_failures: {high: 0}}
categories:
  - name: clean
    description: "  Bright  "
    images: data/clean/
  - name: cams
    manifest: m.csv
    severity: high
    min_accuracy: 0.8
    max_failures: {medium: 3}
    group_by: camera
    max_group_gap: 0.1
    gate: lower_bound
    min_examples: 2
""")
    assert suite.name == "road-signs" and suite.labels == ("red", "blue")
    assert (suite.model.kind, suite.model.target, suite.model.line) == ("factory", "signs.model:build", 3)
    assert dict(suite.model.args) == {"width": 2, "sizes": (1, 2)}
    assert (suite.preprocess.resize, suite.preprocess.center_crop) == ((8, 6), (4, 4))
    assert suite.preprocess.std == (0.25, 0.25, 0.25)
    clean, cams = suite.categories
    assert (clean.description, clean.severity, clean.line) == ("Bright", "low", 7)
    assert [e.path for e in clean.examples] == ["data/clean/blue/0.png", "data/clean/blue/1.png",
                                                "data/clean/red/0.png", "data/clean/red/1.png"]
    assert clean.examples[0].file == str(project / "data/clean/blue/0.png")
    assert clean.thresholds.min_accuracy == 0.9 and clean.thresholds.max_failures == (("high", 0),)
    th = cams.thresholds
    assert (th.min_accuracy, th.gate, th.min_examples, th.max_group_gap) == (0.8, "lower_bound", 2, 0.1)
    assert th.max_failures == (("high", 0), ("medium", 3))
    assert cams.severity == "high"
    assert [(e.path, e.label, e.severity, e.meta("camera"), e.line) for e in cams.examples] == [
        ("data/clean/red/0.png", "red", "high", "a", 2), ("data/clean/blue/1.png", "blue", None, "b", 3)]


def test_defaults_are_optional(project):
    suite = parse(project, HEAD + CLEAN)
    cat = suite.categories[0]
    assert (suite.name, cat.severity, cat.thresholds.min_accuracy, cat.thresholds.min_examples) == (
        "edgecases", "medium", None, 1)
    assert parse(project, HEAD + "defaults: {}\n" + CLEAN).categories[0].severity == "medium"


def test_suite_name_defaults_to_the_file_name(project):
    suite = parse(project, HEAD + CLEAN.replace("data/", "../data/"), "suites/road.edgecases.yaml")
    assert suite.name == "road" and suite.display == "suites/road.edgecases.yaml"
    assert suite.categories[0].examples[0].path == "../data/clean/blue/0.png"


def test_labels_from_a_file(project):
    (project / "labels.txt").write_text("# classes\nred\n\nblue\n")
    assert parse(project, HEAD.replace("[red, blue]", "labels.txt") + CLEAN).labels == ("red", "blue")


def test_image_folders_skip_hidden_and_non_image_files(project):
    (project / "data/clean/red/.hidden.png").write_bytes(b"")
    (project / "data/clean/red/notes.txt").write_text("x")
    (project / "data/clean/.cache").mkdir()
    nested = project / "data/clean/red/night"
    nested.mkdir()
    Image.new("RGB", (4, 4)).save(nested / "9.PNG")
    paths = [e.path for e in parse(project, HEAD + CLEAN).categories[0].examples]
    assert paths == ["data/clean/blue/0.png", "data/clean/blue/1.png", "data/clean/red/0.png",
                     "data/clean/red/1.png", "data/clean/red/night/9.PNG"]


@pytest.mark.parametrize("text, message", [
    ("", "edgecases.yaml:1: the suite file is empty"),
    ("- a\n- b\n", "edgecases.yaml:1: a suite file must be a mapping (key: value lines), got a list"),
    (HEAD, "edgecases.yaml:1: missing required key 'categories'"),
    ("labels: [red]\n" + CLEAN, "edgecases.yaml:1: labels must name at least two classes"),
    ("labels: [red, blue, red]\n" + CLEAN, "edgecases.yaml:1: duplicate label 'red'"),
    ("labels: [red, [blue]]\n" + CLEAN, "edgecases.yaml:1: each label must be a non-empty string, got a list"),
    ("labels: classes.txt\n" + CLEAN, "edgecases.yaml:1: labels file 'classes.txt' does not exist"),
    ("labels: {red: 1}\n" + CLEAN, "edgecases.yaml:1: labels must be a list or a path to a text file, got a mapping"),
    ("suite: ''\n" + HEAD + CLEAN, "edgecases.yaml:1: suite must be a non-empty name"),
    ("labels: [red, blue]\nmodel: {factory: a:b, torchvision: resnet18}\n" + CLEAN,
     "edgecases.yaml:2: model needs exactly one of factory:, torchvision: or torchscript:"),
    ("labels: [red, blue]\nmodel: {factory: build_model}\n" + CLEAN,
     "edgecases.yaml:2: model.factory 'build_model' is not an import path"),
    ("labels: [red, blue]\nmodel: {factory: a:b, weights: w.onnx}\n" + CLEAN,
     "edgecases.yaml:2: model.weights 'w.onnx' must be .safetensors or a .pt/.pth state dict"),
    ("labels: [red, blue]\nmodel: {factory: a:b, weights: w.pt}\n" + CLEAN,
     "edgecases.yaml:2: model weights 'w.pt' do not exist"),
    ("labels: [red, blue]\nmodel: {factory: a:b, args: [1]}\n" + CLEAN,
     "edgecases.yaml:2: model.args must be a mapping (key: value lines), got a list"),
    ("labels: [red, blue]\nmodel: {factory: a:b, wieghts: w.pt}\n" + CLEAN,
     "edgecases.yaml:2: unknown key 'wieghts' in model (did you mean 'weights'?)"),
    (HEAD + "preprocess: {resize: [0, 8]}\n" + CLEAN,
     "edgecases.yaml:3: preprocess.resize must be N or [height, width] in pixels (1..8192), got a list"),
    (HEAD + "preprocess: {mean: [0.5, 0.5, 0.5]}\n" + CLEAN,
     "edgecases.yaml:3: preprocess needs both mean and std, or neither"),
    (HEAD + "preprocess: {mean: [0.5, 0.5, 0.5], std: [0.2, 0, 0.2]}\n" + CLEAN,
     "edgecases.yaml:3: preprocess.std must be a list of 3 positive numbers (one per RGB channel)"),
    (HEAD + "preprocess: {rezise: 8}\n" + CLEAN,
     "edgecases.yaml:3: unknown key 'rezise' in preprocess (did you mean 'resize'?)"),
    (HEAD + "preprocess: transform\n" + CLEAN, "edgecases.yaml:3: preprocess 'transform' is not an import path"),
    (HEAD + "defaults: {severity: hihg}\n" + CLEAN,
     "edgecases.yaml:3: severity must be one of low, medium, high, got str 'hihg' (did you mean 'high'?)"),
    (HEAD + "defaults: {min_accuracy: 90}\n" + CLEAN,
     "edgecases.yaml:3: min_accuracy must be a number between 0 and 1, got int 90"),
    (HEAD + "defaults: {min_accuracy: [0.9, 0.8]}\n" + CLEAN,
     "edgecases.yaml:3: min_accuracy is a list, but only a synthetic category with several levels takes one value"),
    (HEAD + "defaults: {gate: lower}\n" + CLEAN,
     "edgecases.yaml:3: gate must be one of point, lower_bound, got str 'lower'"),
    (HEAD + "defaults: {min_examples: 0}\n" + CLEAN, "edgecases.yaml:3: min_examples must be at least 1"),
    (HEAD + "defaults: {max_failures: {high: -1}}\n" + CLEAN,
     "edgecases.yaml:3: max_failures.high must be a whole number >= 0, got int -1"),
    (HEAD + "defaults: {max_failures: {high: 0.5}}\n" + CLEAN,
     "edgecases.yaml:3: max_failures.high must be a whole number >= 0, got float 0.5"),
    (HEAD + "defaults: {max_failures: true}\n" + CLEAN,
     "edgecases.yaml:3: max_failures must be a mapping (key: value lines), got bool True"),
    (HEAD + "defaults: {description: x}\n" + CLEAN, "edgecases.yaml:3: unknown key 'description' in defaults"),
    (HEAD + "review: {confidence_below: 2}\n" + CLEAN,
     "edgecases.yaml:3: review.confidence_below must be a number between 0 and 1, got int 2"),
    (HEAD + "annotations: reviews/\n" + CLEAN, "edgecases.yaml:3: annotations 'reviews/' does not exist"),
    (HEAD + "categories: []\n", "edgecases.yaml:3: categories must be a non-empty list"),
    (HEAD + "categories:\n  - clean\n", "edgecases.yaml:4: each category must be a mapping (key: value lines)"),
    (HEAD + "categories:\n  - name: low light\n    images: data/clean/\n",
     "edgecases.yaml:4: category name must be letters, digits, '_', '-' or '.', got str 'low light'"),
    (HEAD + "categories:\n  - images: data/clean/\n",
     "edgecases.yaml:4: category name must be letters, digits, '_', '-' or '.', got nothing"),
    (HEAD + "categories:\n  - name: clean\n    images: data/clean/\n    manifest: m.csv\n",
     "edgecases.yaml:4: category 'clean' needs exactly one of images:, manifest: or from:"),
    (HEAD + "categories:\n  - name: clean\n",
     "edgecases.yaml:4: category 'clean' needs exactly one of images:, manifest: or from:"),
    (HEAD + "categories:\n  - name: clean\n    images: data/clean/red/0.png\n",
     "edgecases.yaml:5: images folder 'data/clean/red/0.png' is a file, not a folder"),
    (HEAD + "categories:\n  - name: clean\n    images: 3\n", "edgecases.yaml:5: images must be a path (a string)"),
    (HEAD + "categories:\n  - name: clean\n    images: data/clean/\n    description: [a]\n",
     "edgecases.yaml:6: description must be text, got a list"),
    (HEAD + "categories:\n  - name: clean\n    images: data/clean/\n    transform: {blur: 1}\n",
     "edgecases.yaml:6: category 'clean' has transform: but no from:"),
    (HEAD + "categories:\n  - name: clean\n    manifest: m.csv\n", "edgecases.yaml:5: manifest 'm.csv' does not exist"),
])
def test_suite_validation(project, text, message):
    assert suite_error(project, text).startswith(message)


@pytest.mark.parametrize("csv, message", [
    ("file,label\ndata/clean/red/0.png,red\n", "m.csv:1: manifest header must include path and label columns"),
    ("path,label,label\ndata/clean/red/0.png,red,red\n", "m.csv:1: manifest header repeats a column name"),
    ("path,label\ndata/clean/red/0.png\n", "m.csv:2: row has 1 cells, the header has 2"),
    ("path,label,severity\ndata/clean/red/0.png,red,severe\n",
     "m.csv:2: severity 'severe' is not one of low, medium, high"),
    ("path,label\ndata/clean/red/0.png,red\n./data/clean/red/0.png,red\n",
     "m.csv:3: image './data/clean/red/0.png' is listed twice (first on line 2)"),
    ("path,label\n/etc/passwd,red\n", "m.csv:2: image path '/etc/passwd' must be relative to the suite file"),
    ("path,label\n\n", "m.csv:1: manifest lists no images"),
    ("path,label\ndata/clean/red/0.png,Red\n", "m.csv:2: label 'Red' is not in the suite's labels (did you mean 'red'?)"),
])
def test_manifest_validation(project, csv, message):
    (project / "m.csv").write_text(csv)
    assert suite_error(project, HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n").startswith(message)


def test_manifest_not_utf8(project):
    (project / "m.csv").write_bytes(b"path,label\ndata/clean/red/0.png,r\xe9d\n")
    assert suite_error(project, HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n").startswith(
        "m.csv: manifest is not valid UTF-8")


def test_manifest_blank_lines_keep_line_numbers(project):
    (project / "m.csv").write_text("path,label\n\ndata/clean/red/0.png,red\n\ndata/clean/red/9.png,red\n")
    assert suite_error(project, HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n").startswith(
        "m.csv:5: image 'data/clean/red/9.png' does not exist")
