"""Bad input gets an error naming the file and line, never a traceback from deep inside."""
from __future__ import annotations

import os
import re
import textwrap

import pytest
from support.project import PASSING_MODEL, SuiteProject, suite_yaml

#: Lines 1-4: suite, labels, model (the tiny model, no bias), preprocess.
HEAD = suite_yaml(model=PASSING_MODEL, defaults=None, categories="")


#: A category on lines 5-7, after HEAD.
CLEAN = "categories:\n  - name: clean\n    images: data/clean/\n"


def assert_clean(result: pytest.RunResult) -> None:
    """No traceback, and no frame from an installed library."""
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out
    assert not re.search(r'File ".*site-packages', out)
    assert "INTERNALERROR" not in out


def collect_error(pytester: pytest.Pytester, *lines: str) -> None:
    """Run; expect the suite to fail collection with these lines in its error."""
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    result.stdout.fnmatch_lines(["*ERROR collecting *", *lines])
    assert_clean(result)


@pytest.mark.parametrize("body, lines", [
    pytest.param("categories:\n  - name: clean\n    images: [data/clean/\n", [
        "edgecases.yaml:8: YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence, started on line 7)"], id="syntax"),
    pytest.param("categories:\n\t- name: clean\n", [
        "edgecases.yaml:6: YAML syntax error: found character that cannot start any token",
        "  hint: YAML indentation must use spaces, not tabs"], id="tabs"),
    pytest.param("labels: [red]\ncategories:\n  - {name: clean, images: data/clean/}\n", [
        "edgecases.yaml:5: duplicate key 'labels' (first on line 2)", "  hint: remove one of them"],
        id="duplicate-key"),
    pytest.param(CLEAN + "    min_acuracy: 0.9\n", [
        "edgecases.yaml:8: unknown key 'min_acuracy' in a category (did you mean 'min_accuracy'?)",
        "  hint: valid keys: name, description, *"], id="unknown-key"),
    pytest.param("defualts: {min_accuracy: 0.9}\ncategories:\n  - {name: clean, images: data/clean/}\n", [
        "edgecases.yaml:5: unknown key 'defualts' in the suite (did you mean 'defaults'?)"], id="unknown-top-key"),
    pytest.param(CLEAN + "    min_accuracy: high\n", [
        "edgecases.yaml:8: min_accuracy must be a number between 0 and 1, got str 'high'"], id="wrong-type"),
    pytest.param(CLEAN + "    max_failures: {hihg: 0}\n", [
        "edgecases.yaml:8: max_failures level 'hihg' is not a severity (did you mean 'high'?)"],
        id="wrong-severity-level"),
    pytest.param(CLEAN + "    severity: critical\n", [
        "edgecases.yaml:8: severity must be one of low, medium, high, got str 'critical'"], id="bad-severity"),
    pytest.param("categories: {clean: data/clean/}\n", [
        "edgecases.yaml:5: categories must be a non-empty list"], id="categories-not-a-list"),
    pytest.param("categories:\n  - name: clean\n    images: data/cleen/\n", [
        "edgecases.yaml:7: images folder 'data/cleen' does not exist",
        "  hint: images: names a folder with one sub-folder per label (ImageFolder layout)"], id="missing-folder"),
    pytest.param("categories:\n  - name: clean\n    images: /etc/\n", [
        "edgecases.yaml:7: images '/etc/' is absolute"], id="absolute-path"),
    pytest.param("categories:\n  - name: clean\n    images: ../../\n", [
        "edgecases.yaml:7: images '../../' resolves outside the project root *"], id="dotdot-escape"),
    pytest.param(CLEAN + "    group_by: camera\n", [
        "edgecases.yaml:8: group_by 'camera' is not a manifest column of category 'clean'"], id="group-by-no-column"),
    pytest.param("categories:\n  - name: clean\n    images: data/clean/\n  - name: clean\n    images: data/dark/\n", [
        "edgecases.yaml:8: duplicate category name 'clean' (first on line 6)"], id="duplicate-category"),
])
def test_suite_errors_name_file_and_line(tiny_project, pytester, body, lines):
    tiny_project(HEAD + body)
    collect_error(pytester, *lines)


@pytest.mark.parametrize("model, lines", [
    pytest.param('{factory: "tinymodel:build", defined_by: [tinymodel.py, tinymodle.py]}', [
        "edgecases.yaml:3: model.defined_by 'tinymodle.py' does not exist",
        "  hint: name the model's source files or folders, relative to the suite file"], id="missing"),
    pytest.param('{factory: "tinymodel:build", defined_by: ../}', [
        "edgecases.yaml:3: model.defined_by '../' resolves outside the project root *"], id="escape"),
    pytest.param('{factory: "tinymodel:build", defined_by: []}', [
        "edgecases.yaml:3: model.defined_by is empty", "  hint: list the files or folders *"], id="empty"),
    pytest.param("{torchscript: tinymodel.py, defined_by: tinymodel.py}", [
        "edgecases.yaml:3: a torchscript model is determined by its files already; remove defined_by:"],
        id="not-a-factory"),
])
def test_defined_by_errors(tiny_project, pytester, model, lines):
    tiny_project(HEAD.replace('{factory: "tinymodel:build"}', model) + CLEAN)
    collect_error(pytester, *lines)


def test_label_folder_not_in_label_set(tiny_project, pytester):
    tiny_project(HEAD + CLEAN)
    os.rename(pytester.path / "data/clean/blue", pytester.path / "data/clean/bleu")
    collect_error(pytester, "edgecases.yaml:7: folder 'data/clean/bleu' is not a label (did you mean 'blue'?)",
                  "  hint: each sub-folder of images: must be named after one of the suite's labels")


def test_manifest_label_not_in_label_set(tiny_project, pytester):
    (pytester.path / "m.csv").write_text("path,label\ndata/clean/red/000.png,red\ndata/clean/blue/000.png,bleu\n")
    tiny_project(HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n")
    collect_error(pytester, "m.csv:3: label 'bleu' is not in the suite's labels (did you mean 'blue'?)",
                  "  hint: labels: red, blue")


def test_manifest_with_a_missing_image_names_manifest_and_line(tiny_project, pytester):
    (pytester.path / "m.csv").write_text("path,label\ndata/clean/red/000.png,red\ndata/clean/red/999.png,red\n")
    tiny_project(HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n")
    collect_error(pytester, "m.csv:3: image 'data/clean/red/999.png' does not exist",
                  "  hint: paths in a manifest are relative to the suite file's folder")


def test_manifest_path_escaping_the_root(tiny_project, pytester):
    (pytester.path.parent / "outside.png").write_bytes(b"")
    (pytester.path / "m.csv").write_text("path,label\n../outside.png,red\n")
    tiny_project(HEAD + "categories:\n  - name: listed\n    manifest: m.csv\n")
    collect_error(pytester, "m.csv:2: image path '../outside.png' resolves outside the project root")


def test_symlinked_folder_pointing_outside_the_root(tiny_project, pytester, tmp_path_factory, solid_image):
    outside = tmp_path_factory.mktemp("outside")
    solid_image(outside / "red" / "000.png", (200, 0, 0))
    tiny_project(HEAD + "categories:\n  - name: linked\n    images: data/linked/\n")
    (pytester.path / "data/linked").symlink_to(outside, target_is_directory=True)
    collect_error(pytester, "edgecases.yaml:7: images 'data/linked/' resolves outside the project root *",
                  "  hint: keep data inside the project; symlinks out of it are refused too")


def test_symlinked_label_folder_pointing_outside_the_root(tiny_project, pytester, tmp_path_factory, solid_image):
    outside = tmp_path_factory.mktemp("outside")
    solid_image(outside / "000.png", (200, 0, 0))
    tiny_project(HEAD + "categories:\n  - name: linked\n    images: data/linked/\n")
    (pytester.path / "data/linked").mkdir()
    (pytester.path / "data/linked/red").symlink_to(outside, target_is_directory=True)
    collect_error(pytester, "edgecases.yaml:7: image 'data/linked/red/000.png' links outside the project root")


def test_symlinked_image_pointing_outside_the_root(tiny_project, pytester, tmp_path_factory, solid_image):
    outside = solid_image(tmp_path_factory.mktemp("outside") / "secret.png", (200, 0, 0))
    tiny_project(HEAD + CLEAN)
    (pytester.path / "data/clean/red/linked.png").symlink_to(outside)
    collect_error(pytester, "edgecases.yaml:7: image 'data/clean/red/linked.png' links outside the project root")


# -- errors found at inference: the category fails with a message, the session goes on -----------

def item_failures(pytester: pytest.Pytester, passed: int = 0, failed: int = 2) -> pytest.RunResult:
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=passed, failed=failed)
    assert_clean(result)
    return result


TWO_CATEGORIES = """\
categories:
  - name: clean
    images: data/clean/
  - name: dark
    images: data/dark/
"""


MODEL_SOURCES = {
    "raises": "def build():\n    raise ValueError('checkpoint path not configured')\n",
    "syntax": "def build(:\n",
    "three_outputs": "import torch\n\n\ndef build():\n    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), "
                     "torch.nn.Flatten(), torch.nn.Linear(3, 3))\n",
    "crash": "import torch\n\n\nclass Crash(torch.nn.Module):\n    def forward(self, x):\n"
             "        raise RuntimeError('CUDA kernel exploded')\n\n\ndef build():\n    return Crash()\n",
    "lazy": "import torch\n\n\ndef build():\n    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), "
            "torch.nn.Flatten(), torch.nn.LazyLinear(2))\n",
}


@pytest.mark.parametrize("factory, lines", [
    pytest.param("tinymodle:build", [
        "edgecases.yaml:3: model.factory 'tinymodle:build': cannot import tinymodle (No module named 'tinymodle')",
        "  hint: the module must be importable from the suite file's folder or sys.path"], id="import-error"),
    pytest.param("tinymodel:biuld", [
        "edgecases.yaml:3: model.factory 'tinymodel:biuld': tinymodel has no attribute 'biuld'"], id="no-callable"),
    pytest.param("raises:build", [
        "edgecases.yaml:3: building the model failed: ValueError: checkpoint path not configured"],
        id="factory-raises"),
    pytest.param("syntax:build", ["edgecases.yaml:3: building the model failed: SyntaxError: *"],
                 id="syntax-error"),
    pytest.param("three_outputs:build", [
        "edgecases.yaml:3: the model returned (24, 3) for a batch of 24; expected (24, 2): one logit per label",
        "  hint: the model's last layer must have as many outputs as the suite has labels"],
        id="wrong-output-shape"),
    pytest.param("crash:build", ["*the model raised RuntimeError: CUDA kernel exploded*"], id="raises-in-forward"),
    pytest.param("lazy:build", [
        "edgecases.yaml:3: the model has uninitialised parameters (torch.nn.Lazy* modules)",
        "  hint: run one dummy batch through the model where it is built"], id="lazy-parameters"),
])
def test_model_errors_fail_every_category_naming_the_model_line(tiny_project, pytester, factory, lines):
    module = factory.partition(":")[0]
    if module in MODEL_SOURCES:
        (pytester.path / f"{module}.py").write_text(MODEL_SOURCES[module])
    tiny_project(HEAD.replace("tinymodel:build", factory) + TWO_CATEGORIES)
    item_failures(pytester).stdout.fnmatch_lines(lines)


def test_a_corrupt_image_fails_only_its_own_category(tiny_project, pytester):
    tiny_project(HEAD + TWO_CATEGORIES)
    (pytester.path / "data/dark/red/002.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage, not an image")
    result = item_failures(pytester, passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ edge-case category: dark _*",
        "scoring_errors *1 example(s)*0*FAILED*data/dark/red/002.png (*",
        "data/dark/red/002.png *red*—*—*medium*error*"])
    assert "edge-case category: clean" not in result.stdout.str()


def test_bad_annotation_stops_collection_with_a_readable_error(tiny_project, pytester):
    """What the user sees: file, line and the fix, not a traceback; the model is never loaded."""
    tiny_project(suite_yaml(preprocess=None, extra="annotations: reviews/"))
    SuiteProject(pytester.path).write("reviews/alice.yaml", textwrap.dedent("""\
        reviewer: alice
        examples:
          - image: data/dark/red/003.png
            severity: hihg
    """))
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*reviews/alice.yaml:4: severity 'hihg' is not one of low, medium, high "
                                 "(did you mean 'high'?)*"])
    assert "Traceback" not in result.stdout.str() and "inferred" not in result.stdout.str()
