"""The JSON Schemas shipped for editors agree with the plugin's own validation.

Every suite and annotation the project shows (the example suite, its reviews, the YAML blocks in
README.md and docs/) must validate against the schema *and* load with the plugin's parser; every
document in the table of bad ones must be refused by both. The key sets in the schemas must equal
the key tuples in suite.py and annotations.py, and the schema's `transform:` grammar is generated
from the transforms registry (`python tests/unit/test_schema.py` regenerates it), so they cannot drift apart.

Schema side, documents are read as an editor's YAML 1.2 language server reads them: dates stay
strings (PyYAML would turn `2026-11-20` into a date, which is not a JSON type). Each document is
checked with a draft 2020-12 validator and a draft-07 one, because VS Code's YAML extension
validates with draft-07 semantics: the schemas use only keywords both drafts understand alike.
"""
from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from PIL import Image

import pytest_edgecases
import pytest_edgecases.annotations as annotations_module
import pytest_edgecases.suite as suite_module
from pytest_edgecases.annotations import load_annotations
from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.explain_spec import METHODS
from pytest_edgecases.suite import load_suite

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(pytest_edgecases.__file__).parent / "schema"
SUITE_SCHEMA = json.loads((SCHEMA_DIR / "suite.schema.json").read_text(encoding="utf-8"))
ANNOTATION_SCHEMA = json.loads((SCHEMA_DIR / "annotation.schema.json").read_text(encoding="utf-8"))
SCHEMAS = {"suite": SUITE_SCHEMA, "annotation": ANNOTATION_SCHEMA}
SHA = "ab" * 32


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader without the YAML 1.1 timestamp type, as an editor's language server reads."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def schema_errors(kind: str, text: str) -> list[str]:
    """Schema errors for a YAML text; draft 2020-12 and draft-07 must agree on whether there are any."""
    doc = yaml.load(text, Loader=_Yaml12Loader)
    found = []
    for validator in (Draft202012Validator, Draft7Validator):
        checker = validator(SCHEMAS[kind], format_checker=validator.FORMAT_CHECKER)
        found.append(sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in checker.iter_errors(doc)))
    assert bool(found[0]) == bool(found[1]), f"draft 2020-12 and draft-07 disagree: {found}"
    return found[0]


# --------------------------------------------------------------------------------------------
# Projects for the plugin side: the files a document names, made up so that it can load.

def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (120, 60, 30)).save(path)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _labels(doc: dict, base: Path) -> list[str]:
    raw = doc.get("labels")
    if isinstance(raw, list):
        return [str(x) for x in raw]
    if isinstance(raw, str):
        file = base / raw
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text("a\nb\n", encoding="utf-8")
        return [s.strip() for s in file.read_text(encoding="utf-8").splitlines() if s.strip() and s[0] != "#"]
    return ["a", "b"]


def _files_or_folders(base: Path, entries: Any) -> None:
    """A path or list of paths: a folder where it ends in / or has no suffix, else a file."""
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, str):
            if entry.endswith("/") or not Path(entry).suffix:
                (base / entry).mkdir(parents=True, exist_ok=True)
            else:
                _touch(base / entry)


def scaffold(doc: Any, base: Path) -> None:
    """Create every file and folder a suite document names (images, manifests, weights, reviews)."""
    if not isinstance(doc, dict):
        return
    labels = _labels(doc, base)
    model = doc.get("model")
    if isinstance(model, dict):
        for key in ("weights", "torchscript"):
            if isinstance(model.get(key), str):
                _touch(base / model[key])
        _files_or_folders(base, model.get("defined_by"))
    _files_or_folders(base, doc.get("annotations"))
    categories = doc.get("categories")
    for cat in categories if isinstance(categories, list) else []:
        if not isinstance(cat, dict):
            continue
        if isinstance(cat.get("images"), str):
            for label in labels:
                _png(base / cat["images"] / label / "0000.png")
        if isinstance(cat.get("manifest"), str):
            manifest = base / cat["manifest"]
            folder = manifest.with_suffix("")
            group = cat.get("group_by") if isinstance(cat.get("group_by"), str) else None
            manifest.parent.mkdir(parents=True, exist_ok=True)
            with manifest.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["path", "label", "severity"] + ([group] if group else []))
                for i, label in enumerate(labels * 2):
                    image = folder / f"{i:04d}.png"
                    _png(image)
                    row = [image.relative_to(base).as_posix(), label, "high" if i % 2 else ""]
                    writer.writerow(row + (["a" if i % 2 else "b"] if group else []))


def suite_for_annotation(doc: dict, base: Path) -> Path:
    """Write a suite holding every image an annotation document names, with the labels it uses."""
    labels: list[str] = []
    images: dict[str, set[str]] = {}          # category -> ImageFolder roots
    for entry in doc.get("examples") or []:
        path = Path(entry["image"])
        root, folder_label = path.parent.parent.as_posix(), path.parent.name
        images.setdefault(entry.get("category") or path.parent.parent.name, set()).add(root)
        for value in [folder_label, entry.get("label"), entry.get("predicted")] + list(entry.get("accept") or []):
            if value not in (None, "") and str(value) not in labels:
                labels.append(str(value))
        _png(base / path)
    labels += [x for x in ("other", "another") if len(labels) < 2]
    categories = []
    for name, roots in images.items():
        assert len(roots) == 1, f"category {name} has images under several folders: {roots}"
        categories.append({"name": name, "images": roots.pop() + "/"})
    suite = {"suite": "scaffold", "labels": labels, "annotations": "reviews/", "categories": categories}
    (base / "reviews").mkdir(exist_ok=True)
    (base / "edgecases.yaml").write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return base / "edgecases.yaml"


def plugin_loads_suite(text: str, base: Path) -> None:
    """Scaffold what the suite names, then parse it with the plugin (raises EdgecasesError if refused)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    scaffold(doc, base)
    path = base / "edgecases.yaml"
    path.write_text(text, encoding="utf-8")
    load_suite(path, base)


def plugin_loads_annotation(text: str, base: Path, suite_path: Path | None = None) -> None:
    """Parse an annotation document with the plugin, against suite_path or a suite made for it."""
    if suite_path is None:
        suite_path = suite_for_annotation(yaml.safe_load(text), base)
    review = suite_path.parent / "reviews" / "review.yaml"
    review.parent.mkdir(parents=True, exist_ok=True)
    review.write_text(text, encoding="utf-8")
    load_annotations(load_suite(suite_path, base))


# --------------------------------------------------------------------------------------------
# Every example in the repository.

def _doc_blocks() -> list[tuple[str, str, str]]:
    """(id, kind, text) of every YAML block in README.md and docs/*.md that is a whole suite or annotation file."""
    out = []
    for md in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        for match in re.finditer(r"^```ya?ml[^\n]*\n(.*?)^```", text, re.M | re.S):
            body = match.group(1)
            try:
                doc = yaml.safe_load(body)
            except yaml.YAMLError:
                continue
            if not isinstance(doc, dict):
                continue
            line = text[: match.start()].count("\n") + 1
            if "labels" in doc and "categories" in doc:
                out.append((f"{md.name}:{line}", "suite", body))
            elif "examples" in doc and set(doc) <= set(annotations_module.FILE_KEYS):
                out.append((f"{md.name}:{line}", "annotation", body))
    return out


DOC_BLOCKS = _doc_blocks()


def test_docs_show_suites_and_annotations() -> None:
    """The collection below is not vacuous: the guide's suite and the reviewer's guide's fields are found."""
    kinds = {(name.split(":")[0], kind) for name, kind, _ in DOC_BLOCKS}
    assert {("guide.md", "suite"), ("README.md", "suite"), ("reviewing.md", "annotation")} <= kinds


@pytest.mark.parametrize("name,kind,text", DOC_BLOCKS, ids=[b[0] for b in DOC_BLOCKS])
def test_doc_examples_validate_and_load(name: str, kind: str, text: str, tmp_path: Path) -> None:
    """Each suite or annotation shown in the docs validates against its schema and loads with the plugin."""
    assert schema_errors(kind, text) == []
    if kind == "suite":
        plugin_loads_suite(text, tmp_path)
    else:
        plugin_loads_annotation(text, tmp_path)


def test_example_suite_validates_and_loads() -> None:
    """example_suite/edgecases.yaml and every review in example_suite/reviews/ pass both checks."""
    suite_file = REPO / "example_suite" / "edgecases.yaml"
    assert schema_errors("suite", suite_file.read_text(encoding="utf-8")) == []
    suite = load_suite(suite_file, REPO)
    reviews = sorted((REPO / "example_suite" / "reviews").glob("*.yaml"))
    assert reviews and set(reviews) <= set(suite.annotation_files)
    for review in reviews:
        assert schema_errors("annotation", review.read_text(encoding="utf-8")) == [], review.name
    assert load_annotations(suite)


def test_review_queue_stub_is_an_annotation_once_filled(tmp_path: Path) -> None:
    """The queue the plugin writes is refused while unfilled (reviewer: "") and accepted once a name is in."""
    import datetime as dt

    from pytest_edgecases.review_queue import render_queue

    entry = {"image": "data/day/red/0000.png", "category": "day", "label": "red", "predicted": "blue",
             "confidence": 0.93051, "sha256": SHA, "reason": "unreviewed failure, high severity"}
    queue = render_queue("lamps", [entry], dt.date(2026, 11, 23))
    assert any("reviewer" in e for e in schema_errors("annotation", queue))
    filled = queue.replace('reviewer: ""', "reviewer: alice").replace("verdict:  ", "verdict: incorrect  ")
    assert schema_errors("annotation", filled) == []
    project = tmp_path
    plugin_loads_suite(yaml.safe_dump(BASE_SUITE, sort_keys=False), project)
    plugin_loads_annotation(filled, project, project / "edgecases.yaml")
    with pytest.raises(EdgecasesError, match="reviewer must be a name"):
        plugin_loads_annotation(queue, project, project / "edgecases.yaml")


# --------------------------------------------------------------------------------------------
# Good and bad documents, judged by both.

BASE_SUITE: dict[str, Any] = {
    "suite": "lamps",
    "labels": ["red", "green", "blue"],
    "model": {"factory": "lamp_model:build", "weights": "models/lamps.safetensors"},
    "preprocess": {"resize": [32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    "defaults": {"severity": "medium", "min_accuracy": 0.9, "max_failures": {"high": 0}},
    "annotations": "reviews/",
    "review": {"confidence_below": 0.6},
    "categories": [
        {"name": "day", "description": "Daylight", "images": "data/day/"},
        {"name": "night", "manifest": "data/night.csv", "severity": "high", "group_by": "camera",
         "max_group_gap": 0.2, "min_accuracy": 0.8, "gate": "lower_bound", "min_examples": 2},
    ],
}

BASE_ANNOTATION: dict[str, Any] = {
    "reviewer": "alice",
    "date": "2026-11-23",
    "examples": [
        {"image": "data/day/red/0000.png", "verdict": "incorrect", "predicted": "blue", "severity": "high",
         "comment": "Dim red read as blue.", "waiver": {"reason": "retrain", "until": "2026-12-31"}, "sha256": SHA},
    ],
}

Mutation = Callable[[dict], Any]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets doc[a][b]... for path "a.b" (integers index lists)."""
    def apply(doc: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    apply.path = path.replace(".", "/")  # type: ignore[attr-defined]
    return apply


def _del(path: str) -> Mutation:
    """A mutation that deletes doc[a][b]... for path "a.b"."""
    def apply(doc: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = doc
        for key in parents:
            node = node[key]
        del node[last]
    apply.path = path.replace(".", "/")  # type: ignore[attr-defined]
    return apply


def _at(mutation: Mutation, path: str) -> Mutation:
    """The same mutation, expected to be refused at path (where the problem shows, not where the edit was)."""
    mutation.path = path  # type: ignore[attr-defined]
    return mutation


def assert_refused_at(errors: list[str], mutation: Mutation) -> None:
    """The schema refuses the document where it was changed (or at an enclosing mapping), not elsewhere."""
    assert errors, "the schema accepts it"
    changed = mutation.path  # type: ignore[attr-defined]
    places = [e.split(": ", 1)[0] for e in errors]
    assert any(changed == place or changed.startswith(place + "/") or place.startswith(changed + "/")
               or place == "" for place in places), f"refused elsewhere than {changed}: {errors}"


def _all(*mutations: Mutation) -> Mutation:
    def apply(doc: dict) -> None:
        for mutation in mutations:
            mutation(doc)
    return apply


GOOD_SUITES: list[tuple[str, Mutation]] = [
    ("as is", _all()),
    ("labels from a file", _set("labels", "labels.txt")),
    ("integer labels", _all(_set("labels", [0, 1, 2]),
                            _set("categories", [{"name": "digits", "images": "data/digits/"}]))),
    ("no model (conftest hook)", _del("model")),
    ("model: null", _set("model", None)),
    ("torchvision with args", _set("model", {"torchvision": "resnet18", "args": {"num_classes": 3}})),
    ("torchscript", _set("model", {"torchscript": "models/lamps.ts.pt"})),
    (".pt weights", _set("model.weights", "models/lamps.pt")),
    ("factory defined_by folders and files", _set("model.defined_by", ["models/", "models/lamps.pt"])),
    ("factory defined_by one path", _set("model.defined_by", "models/")),
    ("preprocess callable", _set("preprocess", "lamp_model:transform")),
    ("resize N and a crop", _set("preprocess", {"resize": 40, "center_crop": [32, 28]})),
    ("one mean and std for all channels", _set("preprocess", {"mean": [0.5], "std": [0.25]})),
    ("no preprocess", _del("preprocess")),
    ("max_failures as a number", _set("defaults.max_failures", 3)),
    ("max_failures any + null lifts a default", _set("categories.1.max_failures", {"any": 4, "high": None})),
    ("threshold null lifts a default", _set("categories.0.min_accuracy", None)),
    ("baseline thresholds", _set("defaults", {"max_accuracy_drop": 0.05, "max_new_failures": 0,
                                               "max_regressions": 1})),
    ("empty defaults", _set("defaults", None)),
    ("annotations as a list", _set("annotations", ["reviews/", "extra-review.yaml"])),
    ("no review section", _del("review")),
    ("gate point", _set("categories.0.gate", "point")),
    ("suite name omitted", _del("suite")),
    ("synthetic levels with per-level thresholds",
     _set("categories.1", {"name": "blur", "from": "day", "transform": {"gaussian_blur": {"sigma": [0.5, 1, 2]}},
                           "min_accuracy": [0.95, 0.85, None], "max_failures": [{"high": 0}, 2, {"any": 5}]})),
    ("synthetic shorthand", _set("categories.1", {"name": "jpeg", "from": "day", "transform": {"jpeg": [30, 10]}})),
    ("synthetic composition", _set("categories.1", {"name": "dusk", "from": "day", "transform": [
        {"brightness": [0.5, 0.3]}, {"gaussian_noise": {"sigma": [0.03, 0.06]}}]})),
    ("synthetic colours and choices", _set("categories.1", {"name": "tilt", "from": "data/day/", "transform": [
        {"perspective": {"tilt": 30, "axis": ["vertical", "horizontal"], "fill": ["#000000", [255, 255, 255]]}},
        {"occlusion": {"area": 0.1, "patches": 3, "fill": [40, 40, 40]}}, {"downscale": {"scale": 0.5,
                                                                                          "upsample": "nearest"}}]})),
]

BAD_SUITES: list[tuple[str, Mutation, str]] = [
    ("unknown top-level key", _set("sutie", "x"), "unknown key 'sutie'"),
    ("missing labels", _del("labels"), "missing required key 'labels'"),
    ("missing categories", _del("categories"), "missing required key 'categories'"),
    ("empty suite name", _set("suite", " "), "suite must be a non-empty name"),
    ("one label", _set("labels", ["red"]), "at least two"),
    ("duplicate label", _set("labels", ["red", "red"]), "duplicate label"),
    ("boolean label", _set("labels", ["red", True]), "non-empty string"),
    ("labels a mapping", _set("labels", {"red": 1}), "labels must be a list"),
    ("two model kinds", _set("model.torchvision", "resnet18"), "exactly one of factory"),
    ("no model kind", _set("model", {"weights": "models/lamps.safetensors"}), "exactly one of factory"),
    ("factory not an import path", _set("model.factory", "lamp_model.build"), "not an import path"),
    ("unknown model key", _set("model.weigths", "x.pt"), "unknown key 'weigths'"),
    ("weights of the wrong kind", _set("model.weights", "models/lamps.onnx"), "must be .safetensors"),
    ("absolute weights path", _set("model.weights", "/models/lamps.pt"), "is absolute"),
    ("torchscript with weights", _set("model", {"torchscript": "models/lamps.ts.pt", "weights": "models/lamps.pt"}),
     "carries its weights"),
    ("torchscript with args", _set("model", {"torchscript": "models/lamps.ts.pt", "args": {"n": 1}}), "takes no args"),
    ("args not a mapping", _set("model.args", [1, 2]), "model.args must be a mapping"),
    ("defined_by empty", _set("model.defined_by", []), "model.defined_by is empty"),
    ("defined_by a number", _set("model.defined_by", 3), "model.defined_by must be a path"),
    ("defined_by absolute", _set("model.defined_by", ["/models/"]), "is absolute"),
    ("torchvision with defined_by", _set("model", {"torchvision": "resnet18", "defined_by": "models/"}),
     "determined by its files already"),
    ("torchscript with defined_by", _set("model", {"torchscript": "models/lamps.ts.pt", "defined_by": "models/"}),
     "determined by its files already"),
    ("resize 0", _set("preprocess.resize", 0), "preprocess.resize must be"),
    ("resize with 3 numbers", _set("preprocess.resize", [32, 32, 3]), "preprocess.resize must be"),
    ("resize as text", _set("preprocess.resize", "32"), "preprocess.resize must be"),
    ("center_crop too big", _set("preprocess.center_crop", 9000), "preprocess.center_crop must be"),
    ("mean without std", _del("preprocess.std"), "both mean and std"),
    ("std not positive", _set("preprocess.std", [0.25, 0, 0.25]), "preprocess.std must be"),
    ("two means", _set("preprocess.mean", [0.5, 0.5]), "preprocess.mean must be"),
    ("unknown preprocess key", _set("preprocess.normalize", True), "unknown key 'normalize'"),
    ("preprocess text not an import path", _set("preprocess", "normalize"), "not an import path"),
    ("defaults a list", _set("defaults", [1]), "defaults must be a mapping"),
    ("unknown defaults key", _set("defaults.min_acuracy", 0.9), "unknown key 'min_acuracy'"),
    ("bad severity", _set("defaults.severity", "critical"), "severity must be one of"),
    ("severity null", _set("categories.1.severity", None), "severity must be one of"),
    ("min_accuracy above 1", _set("defaults.min_accuracy", 1.5), "min_accuracy must be a number between 0 and 1"),
    ("min_accuracy as a percentage", _set("defaults.min_accuracy", "90%"), "min_accuracy must be a number"),
    ("max_failures level not a severity", _set("defaults.max_failures", {"severe": 1}), "not a severity"),
    ("max_failures negative", _set("defaults.max_failures", {"high": -1}), "whole number >= 0"),
    ("max_failures fractional", _set("defaults.max_failures", 1.5), "max_failures must be a mapping"),
    ("max_failures null", _set("categories.0.max_failures", None), "max_failures must be a mapping"),
    ("bad gate", _set("categories.0.gate", "upper_bound"), "gate must be one of"),
    ("min_examples 0", _set("categories.0.min_examples", 0), "at least 1"),
    ("max_regressions fractional", _set("defaults.max_regressions", 0.5), "max_regressions must be a whole number"),
    ("max_group_gap negative", _set("categories.1.max_group_gap", -0.1), "max_group_gap must be a number"),
    ("max_accuracy_drop as text", _set("defaults.max_accuracy_drop", "5 points"), "max_accuracy_drop must be"),
    ("max_new_failures negative", _set("defaults.max_new_failures", -1), "max_new_failures must be"),
    ("annotations a number", _set("annotations", 5), "annotations must be a path"),
    ("absolute annotations path", _set("annotations", "/reviews/"), "is absolute"),
    ("home-relative path", _set("annotations", "~/reviews/"), "is absolute"),
    ("review not a mapping", _set("review", 0.6), "review must be a mapping"),
    ("unknown review key", _set("review", {"threshold": 0.6}), "unknown key 'threshold'"),
    ("confidence_below above 1", _set("review.confidence_below", 60), "between 0 and 1"),
    ("confidence_below null", _set("review.confidence_below", None), "between 0 and 1"),
    ("categories empty", _set("categories", []), "non-empty list"),
    ("categories a mapping", _set("categories", {"day": {"images": "data/day/"}}), "non-empty list"),
    ("category not a mapping", _set("categories", ["day"]), "each category must be a mapping"),
    ("unknown category key", _set("categories.0.image", "data/day/"), "unknown key 'image'"),
    ("category without a name", _del("categories.0.name"), "category name must be"),
    ("category name with a space", _set("categories.0.name", "low light"), "category name must be"),
    ("images and manifest", _set("categories.0.manifest", "data/night.csv"), "exactly one of images:"),
    ("no images, manifest or from", _del("categories.0.images"), "exactly one of images:"),
    ("transform without from", _set("categories.0.transform", {"gaussian_blur": 2}), "has transform: but no from:"),
    ("from without transform", _set("categories.1", {"name": "blur", "from": "day"}), "has from: but no transform:"),
    ("real category with per-level thresholds", _set("categories.0.min_accuracy", [0.9, 0.8]),
     "only a synthetic category"),
    ("description not text", _set("categories.0.description", 5), "description must be text"),
    ("group_by not text", _set("categories.1.group_by", ["camera"]), "group_by must be text"),
    ("absolute images path", _set("categories.0.images", "/data/day/"), "is absolute"),
    ("images not a string", _set("categories.0.images", ["data/day/"]), "images must be a path"),
    ("unknown transform op", _set("categories.1", {"name": "b", "from": "day", "transform": {"gausian_blur": 2}}),
     "unknown transform 'gausian_blur'"),
    ("two ops in one mapping", _set("categories.1", {"name": "b", "from": "day",
                                                     "transform": {"brightness": 0.3, "gaussian_noise": 0.05}}),
     "exactly one key"),
    ("empty transform list", _set("categories.1", {"name": "b", "from": "day", "transform": []}), "empty list"),
    ("transform a string", _set("categories.1", {"name": "b", "from": "day", "transform": "blur"}),
     "transform must be a mapping"),
    ("sigma out of range", _set("categories.1", {"name": "b", "from": "day", "transform": {"gaussian_blur": -1}}),
     "gaussian_blur.sigma must be a number greater than 0"),
    ("empty level list", _set("categories.1", {"name": "b", "from": "day", "transform": {"jpeg": []}}),
     "empty list of levels"),
    ("fractional jpeg quality", _set("categories.1", {"name": "b", "from": "day", "transform": {"jpeg": 20.5}}),
     "jpeg.quality must be a whole number"),
    ("unknown op parameter", _set("categories.1", {"name": "b", "from": "day",
                                                   "transform": {"gaussian_blur": {"sigmaa": 2}}}),
     "has no parameter 'sigmaa'"),
    ("primary parameter missing", _set("categories.1", {"name": "b", "from": "day",
                                                        "transform": {"occlusion": {"patches": 3}}}),
     "occlusion requires 'area'"),
    ("bad choice", _set("categories.1", {"name": "b", "from": "day",
                                         "transform": {"downscale": {"scale": 0.5, "upsample": "lanczos"}}}),
     "downscale.upsample must be one of"),
    ("colour channel out of range",
     _set("categories.1", {"name": "b", "from": "day", "transform": {"occlusion": {"area": 0.1, "fill": [0, 0, 300]}}}),
     "occlusion.fill must be a colour"),
    ("colour not hex", _set("categories.1", {"name": "b", "from": "day",
                                             "transform": {"rotation": {"angle": 15, "fill": "black"}}}),
     "rotation.fill must be a colour"),
    ("composition step not a mapping", _set("categories.1", {"name": "b", "from": "day",
                                                             "transform": [{"brightness": 0.3}, "gaussian_noise"]}),
     "each transform must be a mapping"),
]


def _suite_text(mutation: Mutation) -> str:
    doc = copy.deepcopy(BASE_SUITE)
    mutation(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def _project(base: Path, doc: Any = None) -> Path:
    """The base suite's files (or those doc names), plus the extra ones the good variants name."""
    (base / "labels.txt").write_text("# the lamp colours\nred\ngreen\nblue\n", encoding="utf-8")
    scaffold(BASE_SUITE if doc is None else doc, base)
    for extra in ("models/lamps.ts.pt", "models/lamps.pt", "extra-review.yaml"):
        _touch(base / extra)
    return base


@pytest.mark.parametrize("name,mutation", GOOD_SUITES, ids=[c[0] for c in GOOD_SUITES])
def test_good_suites_pass_both(name: str, mutation: Mutation, tmp_path: Path) -> None:
    """Valid variants of a suite are accepted by the schema and by the plugin."""
    text = _suite_text(mutation)
    assert schema_errors("suite", text) == []
    _project(tmp_path, yaml.safe_load(text))
    (tmp_path / "edgecases.yaml").write_text(text, encoding="utf-8")
    load_suite(tmp_path / "edgecases.yaml", tmp_path)


@pytest.mark.parametrize("name,mutation,message", BAD_SUITES, ids=[c[0] for c in BAD_SUITES])
def test_bad_suites_fail_both(name: str, mutation: Mutation, message: str, tmp_path: Path) -> None:
    """Each bad suite is refused by the schema and by the plugin, with the plugin's message naming the problem."""
    text = _suite_text(mutation)
    assert_refused_at(schema_errors("suite", text), mutation)
    _project(tmp_path)
    (tmp_path / "edgecases.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(EdgecasesError) as excinfo:
        load_suite(tmp_path / "edgecases.yaml", tmp_path)
    assert message in str(excinfo.value)
    assert excinfo.value.path == "edgecases.yaml"


GOOD_ANNOTATIONS: list[tuple[str, Mutation]] = [
    ("as is", _all()),
    ("reviewer per entry", _all(_del("reviewer"), _set("examples.0.reviewer", "bob"))),
    ("blank stub fields", _set("examples.0", {"image": "data/day/red/0000.png", "verdict": None, "severity": None,
                                              "comment": "", "confidence": 0.93, "sha256": SHA})),
    ("corrected label and accepted answers", _set("examples.0", {"image": "data/day/red/0000.png", "label": "green",
                                                                 "accept": ["blue"], "verdict": "ambiguous"})),
    ("accept as one label", _set("examples.0.accept", "green")),
    ("category named", _set("examples.0.category", "day")),
    ("upper-case sha256", _set("examples.0.sha256", SHA.upper())),
    ("no date", _del("date")),
    ("no examples", _set("examples", [])),
    ("examples: null", _set("examples", None)),
]

BAD_ANNOTATIONS: list[tuple[str, Mutation, str]] = [
    ("unknown top-level key", _set("reviewers", ["alice"]), "unknown key 'reviewers'"),
    ("unfilled queue (reviewer blank)", _set("reviewer", ""), "reviewer must be a name"),
    ("reviewer a number", _set("reviewer", 7), "reviewer must be a name"),
    ("no reviewer anywhere", _at(_del("reviewer"), "examples/0"), "who reviewed this?"),
    ("date not ISO", _set("date", "23/11/2026"), "is not a date"),
    ("impossible date", _set("date", "2026-02-30"), "is not a date"),
    ("date a number", _set("date", 20261123), "date must be a date"),
    ("examples a mapping", _set("examples", {"image": "data/day/red/0000.png"}), "examples must be a list"),
    ("entry a string", _set("examples", ["data/day/red/0000.png"]), "each entry must be a mapping"),
    ("entry without image", _del("examples.0.image"), "each entry needs image:"),
    ("unknown entry key", _set("examples.0.verdit", "correct"), "unknown key 'verdit'"),
    ("bad verdict", _set("examples.0.verdict", "wrong"), "verdict 'wrong' is not one of"),
    ("bad severity", _set("examples.0.severity", "critical"), "severity 'critical' is not one of"),
    ("label a boolean", _set("examples.0.label", True), "is not one of"),
    ("category a number", _set("examples.0.category", 5), "is not in category"),
    ("accept a mapping", _set("examples.0.accept", {"green": 1}), "accept must be a list"),
    ("short sha256", _set("examples.0.sha256", "9f2c"), "sha256 must be 64 hex digits"),
    ("waiver as text", _set("examples.0.waiver", "until december"), "waiver must be a mapping"),
    ("waiver without until", _del("examples.0.waiver.until"), "a waiver needs until"),
    ("waiver without reason", _del("examples.0.waiver.reason"), "a waiver needs a reason"),
    ("waiver with a blank reason", _set("examples.0.waiver.reason", " "), "a waiver needs a reason"),
    ("unknown waiver key", _set("examples.0.waiver.expires", "2026-12-31"), "unknown waiver key 'expires'"),
    ("waiver until not a date", _set("examples.0.waiver.until", "soon"), "is not a date"),
]


def _annotation_text(mutation: Mutation) -> str:
    doc = copy.deepcopy(BASE_ANNOTATION)
    mutation(doc)
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize("name,mutation", GOOD_ANNOTATIONS, ids=[c[0] for c in GOOD_ANNOTATIONS])
def test_good_annotations_pass_both(name: str, mutation: Mutation, tmp_path: Path) -> None:
    """Valid variants of an annotation file are accepted by the schema and by the plugin."""
    text = _annotation_text(mutation)
    assert schema_errors("annotation", text) == []
    _project(tmp_path)
    (tmp_path / "edgecases.yaml").write_text(yaml.safe_dump(BASE_SUITE), encoding="utf-8")
    plugin_loads_annotation(text, tmp_path, tmp_path / "edgecases.yaml")


@pytest.mark.parametrize("name,mutation,message", BAD_ANNOTATIONS, ids=[c[0] for c in BAD_ANNOTATIONS])
def test_bad_annotations_fail_both(name: str, mutation: Mutation, message: str, tmp_path: Path) -> None:
    """Each bad annotation file is refused by the schema and by the plugin, which names the problem."""
    text = _annotation_text(mutation)
    assert_refused_at(schema_errors("annotation", text), mutation)
    _project(tmp_path)
    (tmp_path / "edgecases.yaml").write_text(yaml.safe_dump(BASE_SUITE), encoding="utf-8")
    with pytest.raises(EdgecasesError) as excinfo:
        plugin_loads_annotation(text, tmp_path, tmp_path / "edgecases.yaml")
    assert message in str(excinfo.value)
    assert excinfo.value.path == "reviews/review.yaml"


# --------------------------------------------------------------------------------------------
# The schemas and the parsers name the same keys and values.

def _props(schema: dict, ref: str | None = None) -> set[str]:
    node = schema if ref is None else schema["$defs"][ref]
    return set(node["properties"])


def test_suite_schema_keys_match_the_parser() -> None:
    """Every key tuple of suite.py is exactly the set of properties at its place in the schema."""
    s = SUITE_SCHEMA
    assert _props(s) == set(suite_module.SUITE_KEYS)
    assert set(s["required"]) == {"categories"} and s["then"]["required"] == ["labels"]   # labels: but with huggingface:
    assert _props(s, "model") == set(suite_module.MODEL_KEYS)
    assert _props(s, "preprocess") == set(suite_module.PREPROCESS_KEYS)
    assert _props(s, "defaults") == set(suite_module.DEFAULT_KEYS)
    assert _props(s, "category") == set(suite_module.CATEGORY_KEYS)
    assert _props(s, "review") == set(suite_module.REVIEW_KEYS)
    explain = next(v for v in s["$defs"]["explain"]["oneOf"] if v.get("type") == "object")
    assert set(explain["properties"]) == set(suite_module.EXPLAIN_KEYS)
    assert set(explain["properties"]["method"]["enum"]) == set(METHODS) | {"auto"}
    assert set(suite_module.THRESHOLD_KEYS) <= _props(s, "defaults") & _props(s, "category")
    for where in ("max_failures", "failure_limits"):
        assert _props(s, where) == set(suite_module.SEVERITIES) | {"any"}
    assert set(s["$defs"]["severity"]["enum"]) == set(suite_module.SEVERITIES)
    assert set(s["$defs"]["gate"]["enum"]) == set(suite_module.GATES) | {None}


def test_annotation_schema_keys_match_the_parser() -> None:
    """Every key tuple of annotations.py is exactly the set of properties at its place in the schema."""
    a = ANNOTATION_SCHEMA
    assert _props(a) == set(annotations_module.FILE_KEYS)
    assert _props(a, "entry") == set(annotations_module.ENTRY_KEYS)
    entry = a["$defs"]["entry"]["properties"]
    assert set(entry["waiver"]["properties"]) == set(annotations_module.WAIVER_KEYS)
    assert set(entry["verdict"]["enum"]) == set(annotations_module.VERDICTS) | {"", None}
    assert set(entry["severity"]["enum"]) == set(suite_module.SEVERITIES) | {"", None}


def test_schemas_are_valid_and_packaged() -> None:
    """Both files are valid draft 2020-12 (and draft-07) schemas, and pyproject ships them."""
    for schema in SCHEMAS.values():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
        Draft7Validator.check_schema(schema)
    assert '"schema/*.json"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# transform: the grammar of docs/transforms.md, generated from the transforms registry.

def _value_schema(param: Any) -> dict:
    """One parameter's value, or a non-empty list of values (levels), as the registry validates it."""
    if param.kind == "choice":
        return {"anyOf": [{"enum": list(param.choices)},
                          {"type": "array", "minItems": 1, "items": {"enum": list(param.choices)}}]}
    if param.kind == "rgb":
        colour = {"$ref": "#/$defs/colour"}
        return {"anyOf": [colour, {"type": "array", "minItems": 1, "items": colour}]}
    one: dict[str, Any] = {"type": "integer" if param.kind == "int" else "number"}
    for bound, value, is_open in (("minimum", param.low, param.low_open), ("maximum", param.high, param.high_open)):
        if value is not None:
            one[("exclusiveM" + bound[1:]) if is_open else bound] = value
    return {"type": [one["type"], "array"], **{k: v for k, v in one.items() if k != "type"}, "minItems": 1,
            "items": one}


def build_transform_defs() -> dict[str, Any]:
    """The `$defs` entries for `transform:`, made from pytest_edgecases.transforms.OPS."""
    from pytest_edgecases.transforms import OPS

    defs: dict[str, Any] = {
        "transform": {
            "description": "Synthetic category: {op: parameters}, or a list of them applied in order (a composition). "
                           "A list of values for a parameter gives one test item per level; all such lists in one "
                           "transform are zipped and must have the same length. See docs/transforms.md.",
            "type": ["object", "array"],
            "minItems": 1,
            "items": {"$ref": "#/$defs/transform_step"},
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {name: {"$ref": f"#/$defs/transform_{name}"} for name in OPS},
        },
        "transform_step": {
            "description": "One op: a mapping with exactly one key, the op name.",
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {name: {"$ref": f"#/$defs/transform_{name}"} for name in OPS},
        },
        "colour": {
            "description": "An RGB colour: [r, g, b], whole numbers 0 to 255, or a quoted '#rrggbb'.",
            "type": ["array", "string"],
            "minItems": 3,
            "maxItems": 3,
            "items": {"type": "integer", "minimum": 0, "maximum": 255},
            "pattern": "^\\s*#[0-9a-fA-F]{6}\\s*$",
        },
    }
    for name, spec in OPS.items():
        primary = spec.param(spec.primary)
        shorthand = _value_schema(primary)
        params = {p.name: {"description": f"{p.meaning} ({p.unit}): {p.valid}"
                                          + ("" if p.required else f"; default {_default_text(p.default)}"),
                           **_value_schema(p)} for p in spec.params}
        mapping = {"type": "object", "required": [spec.primary], "additionalProperties": False, "properties": params}
        description = (f"{name}: {spec.simulates}. A value (or a list of levels) for {spec.primary}, or a mapping "
                       "of its parameters: " + "; ".join(p.describe() for p in spec.params) + ".")
        if "anyOf" in shorthand:
            defs[f"transform_{name}"] = {"description": description, "anyOf": [shorthand, mapping]}
        else:
            # Number keywords apply to numbers, items to lists, the rest to mappings: one schema, direct errors.
            defs[f"transform_{name}"] = {"description": description, "type": shorthand["type"] + ["object"],
                                         **{k: v for k, v in shorthand.items() if k != "type"},
                                         **{k: v for k, v in mapping.items() if k != "type"}}
    return defs


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(_default_text, value)) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_json(value: Any, indent: str = "") -> str:
    """JSON with two-space indents, and any array or object that fits in 100 columns on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= 100 or not isinstance(value, (dict, list)) or not value:
        return flat + ("" if indent else "\n")
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {format_json(v, inner).lstrip()}" for k, v in value.items()]
        text = "{\n" + ",\n".join(items) + f"\n{indent}}}"
    else:
        text = "[\n" + ",\n".join(inner + format_json(v, inner) for v in value) + f"\n{indent}]"
    return text + ("" if indent else "\n")


def test_schema_files_are_canonically_formatted() -> None:
    """Hand edits and regeneration give the same bytes, so a diff shows only real changes."""
    for name in ("suite.schema.json", "annotation.schema.json"):
        text = (SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert text == format_json(json.loads(text)), f"reformat {name}: python tests/unit/test_schema.py"


def test_transform_schema_matches_the_registry() -> None:
    """The schema's transform ops and parameters are exactly those of pytest_edgecases.transforms.OPS."""
    expected = build_transform_defs()
    actual = {key: SUITE_SCHEMA["$defs"].get(key) for key in expected}
    assert actual == expected, "out of date: regenerate with `python tests/unit/test_schema.py`"
    assert SUITE_SCHEMA["$defs"]["category"]["properties"]["transform"] == {"$ref": "#/$defs/transform"}


if __name__ == "__main__":
    # Regenerate the transform part of suite.schema.json after a change to the transforms registry.
    path = SCHEMA_DIR / "suite.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["$defs"] = {k: v for k, v in schema["$defs"].items() if not (k.startswith("transform") or k == "colour")}
    schema["$defs"].update(build_transform_defs())
    schema["$defs"]["category"]["properties"]["transform"] = {"$ref": "#/$defs/transform"}
    path.write_text(format_json(schema), encoding="utf-8")
    other = SCHEMA_DIR / "annotation.schema.json"
    other.write_text(format_json(json.loads(other.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {path} and {other}")
