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


def test_where_on_an_image_property_is_kept_for_the_run_to_apply(tmp_path):
    """A property is known only once the image is decoded: the suite keeps the condition, the manifest's apply now."""
    suite = load_suite(project(tmp_path, "  - {name: m, manifest: m.csv, where: {camera: dashcam_b, "
                                         "brightness: [null, 0.2]}}\n"
                                         "  - {name: f, images: folder/, where: {width: [4, 8, 16]}}\n"
                                         "  - {name: s, from: m, where: {contrast: [0.1, null]}, "
                                         "transform: {brightness: 0.5}}\n"), tmp_path)
    by_name = {c.name: c for c in suite.categories}
    assert [e.path for e in by_name["m"].examples] == ["data/b.png", "data/c.png", "data/e.png"]
    [brightness] = by_name["m"].where_properties
    assert (brightness.column, brightness.low, brightness.high) == ("brightness", None, 0.2)
    [width] = by_name["f"].where_properties
    assert width.values == ("4", "8", "16") and width.holds(8) and not width.holds(5)
    assert len(by_name["f"].examples) == 5
    assert [c.column for c in by_name["s"].where_properties] == ["contrast"] and len(by_name["s"].examples) == 3


def test_a_manifest_column_named_like_a_property_is_the_manifests(tmp_path):
    suite = project(tmp_path, "  - {name: m, manifest: m.csv, where: {brightness: dim}}\n")
    (tmp_path / "m.csv").write_text("path,label,brightness\ndata/a.png,red,dim\ndata/b.png,red,bright\n")
    [category] = load_suite(suite, tmp_path).categories
    assert [e.path for e in category.examples] == ["data/a.png"] and category.where_properties == ()


@pytest.mark.parametrize("categories, message", [
    ("  - {name: m, manifest: m.csv, where: {camra: x}}\n",
     "edgecases.yaml:3: where: 'camra' is not a manifest column or an image property of category 'm' "
     "(did you mean 'camera'?); its columns: camera, lux"),
    ("  - {name: f, images: folder/, where: {camera: x}}\n",
     "edgecases.yaml:3: where: 'camera' is not a manifest column or an image property of category 'f'; "
     "it has no metadata columns"),
    ("  - {name: f, images: folder/, where: {brightnes: [0, 0.2]}}\n",
     "edgecases.yaml:3: where: 'brightnes' is not a manifest column or an image property of category 'f' "
     "(did you mean 'brightness'?); it has no metadata columns"),
    ("  - {name: f, images: folder/, where: {brightness: dark}}\n",
     "edgecases.yaml:3: where: brightness is an image property, a number: 'dark' is not one"),
    ("  - {name: f, images: folder/, where: {sharpness: [0.5, 0.2]}}\n",
     "edgecases.yaml:3: where: sharpness: the range [0.5, 0.2] is empty (low must be below high)"),
    ("  - {name: m, manifest: m.csv, where: {brightness: [0, 1], camera: nobody}}\n",
     "edgecases.yaml:3: where: selects none of category 'm''s 5 examples"),
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
     "edgecases.yaml:3: where: must be a mapping of manifest column (or image property) to value, "
     "got str 'dashcam_b'"),
    ("  - name: m\n    manifest: m.csv\n    where:\n      camera: [a, [b]]\n",
     "edgecases.yaml:6: where: camera: each value must be text or a number, got a list"),
])
def test_bad_where_is_an_error_at_its_line(tmp_path, categories, message):
    assert error(tmp_path, categories).split("\n")[0] == message
