"""`where:` on categories: values, lists, numeric ranges, on manifest and from: categories; every bad input."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.suite import load_suite

ROWS = [  # path, label, camera, lux
    ("a", "red", "dashcam_a", "5"), ("b", "red", "dashcam_b", "12.5"), ("c", "blue", "dashcam_b", "20"),
    ("d", "blue", "phone", "40"), ("e", "red", "dashcam_b", ""),
]


def project(tmp_path: Path, categories: str) -> Path:
    """A suite over a manifest of five images with camera and lux columns, plus an image folder."""
    for name, label, *_ in ROWS:
        (tmp_path / "data").mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / "data" / f"{name}.png")
        (tmp_path / "folder" / label).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / "folder" / label / f"{name}.png")
    (tmp_path / "m.csv").write_text("path,label,camera,lux\n" + "".join(
        f"data/{n}.png,{label},{camera},{lux}\n" for n, label, camera, lux in ROWS))
    suite = tmp_path / "edgecases.yaml"
    suite.write_text("labels: [red, blue]\ncategories:\n" + categories)
    return suite


def paths(tmp_path: Path, categories: str) -> dict[str, list[str]]:
    suite = load_suite(project(tmp_path, categories), tmp_path)
    return {c.test_name: [e.path for e in c.examples] for c in suite.categories}


def error(tmp_path: Path, categories: str) -> str:
    with pytest.raises(EdgecasesError) as info:
        load_suite(project(tmp_path, categories), tmp_path)
    return str(info.value)


@pytest.mark.parametrize("where, kept", [
    ("{camera: dashcam_b}", ["b", "c", "e"]),
    ("{camera: [dashcam_a, phone]}", ["a", "d"]),
    ("{lux: [null, 20]}", ["a", "b"]),            # low end included, high end not; an empty cell never matches
    ("{lux: [12.5, null]}", ["b", "c", "d"]),
    ("{lux: [10, 30], camera: dashcam_b}", ["b", "c"]),
])
def test_where_keeps_the_matching_examples(tmp_path, where, kept):
    found = paths(tmp_path, f"  - {{name: m, manifest: m.csv, where: {where}}}\n")
    assert found == {"m": [f"data/{k}.png" for k in kept]}


def test_where_on_a_synthetic_category_filters_its_source(tmp_path):
    found = paths(tmp_path, "  - {name: m, manifest: m.csv}\n"
                            "  - {name: dim, from: m, where: {camera: dashcam_b}, transform: {brightness: 0.5}}\n")
    assert found["dim"] == ["data/b.png", "data/c.png", "data/e.png"]
    assert len(found["m"]) == 5


@pytest.mark.parametrize("categories, message", [
    ("  - {name: m, manifest: m.csv, where: {camra: x}}\n",
     "edgecases.yaml:3: where: 'camra' is not a manifest column of category 'm' (did you mean 'camera'?); "
     "its columns: camera, lux"),
    ("  - {name: f, images: folder/, where: {camera: x}}\n",
     "edgecases.yaml:3: where: 'camera' is not a manifest column of category 'f'; it has no metadata columns"),
    ("  - {name: m, manifest: m.csv, where: {camera: [1, 2]}}\n",
     "edgecases.yaml:3: where: camera: a range needs numbers, but data/a.png, manifest line 2 has 'dashcam_a'"),
    ("  - {name: m, manifest: m.csv, where: {lux: [20, 10]}}\n",
     "edgecases.yaml:3: where: lux: the range [20, 10] is empty (low must be below high)"),
    ("  - {name: m, manifest: m.csv, where: {camera: nobody}}\n",
     "edgecases.yaml:3: where: selects none of category 'm''s 5 examples"),
    ("  - {name: m, manifest: m.csv, where: {camera: []}}\n",
     "edgecases.yaml:3: where: camera: an empty list matches nothing"),
    ("  - {name: m, manifest: m.csv, where: {camera: {a: 1}}}\n",
     "edgecases.yaml:3: where: camera: must be a value, a list of values or a range, got a mapping"),
    ("  - {name: m, manifest: m.csv, where: dashcam_b}\n",
     "edgecases.yaml:3: where: must be a mapping of manifest column to value, got str 'dashcam_b'"),
    ("  - name: m\n    manifest: m.csv\n    where:\n      camera: [a, [b]]\n",
     "edgecases.yaml:6: where: camera: each value must be text or a number, got a list"),
])
def test_bad_where_is_an_error_at_its_line(tmp_path, categories, message):
    assert error(tmp_path, categories).split("\n")[0] == message
