"""Image properties in a run: slice discovery finds a dark slice; `where:` on a property in images:, manifest:
and from: categories; properties measured once (as inference decodes, or decoded for imported predictions),
then read from the store; a `where:` that keeps nothing fails its category clearly."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from pytest_edgecases.inference import predict, properties

HEADER = """
    labels: [red, blue]
    model: {factory: "tinymodel:build", args: {bias: 1.0}}
    preprocess: {resize: [8, 8]}
    categories:
"""
#: The tiny model with bias 1.0 answers "blue" for a red image darker than a quarter of full red.
BRIGHT = [(200 + i, 0, 0) for i in range(40)]    # luma 59..71 of 255: right
DARK = [(20 + i, 0, 0) for i in range(20)]       # luma 6..12 of 255: wrong


@pytest.fixture
def street(tiny_project, pytester):
    """60 red images in street/red/ (40 bright, 20 dark, interleaved), and m.csv listing them with a camera
    column that has nothing to do with the errors."""
    tiny_project(HEADER + "  - {name: placeholder, images: data/clean/}\n", clean=1, dark=0)
    rows = ["path,label,camera"]
    for i, rgb in enumerate(BRIGHT + DARK):
        path = pytester.path / "street" / "red" / f"{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), rgb).save(path)
        rows.append(f"street/red/{i:02d}.png,red,{'a' if i % 2 else 'b'}")
    (pytester.path / "m.csv").write_text("\n".join(rows) + "\n")
    return pytester


def suite(pytester, categories: str) -> None:
    (pytester.path / "edgecases.yaml").write_text((HEADER + categories).lstrip().replace("\n    ", "\n"))


def run(pytester, *args: str, properties: str = "on") -> tuple[pytest.RunResult, dict]:
    """A run with its results; slice discovery searches image properties unless ``properties`` is "off" or ""
    (the default)."""
    switch = [f"--edgecases-slices-properties={properties}"] if properties else []
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out.json",
                                "--edgecases-report=none", "--edgecases-cache-dir=cache", *switch, *args)
    return result, json.loads((pytester.path / "out.json").read_text())


@pytest.fixture
def measured(monkeypatch) -> list[str]:
    """Counts each image measured: 'inference' as inference decodes it, 'decode' decoded only to be measured."""
    calls: list[str] = []
    real = properties.measure
    monkeypatch.setattr(predict, "measure", lambda image: calls.append("inference") or real(image))
    monkeypatch.setattr(properties, "measure", lambda image: calls.append("decode") or real(image))
    return calls


def test_dark_images_erring_more_are_found_as_a_brightness_slice(street):
    """No manifest at all (an images: folder): the slice is found on the images' own brightness."""
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    result, out = run(street)
    result.assert_outcomes(passed=1)
    found = [s for s in out["slices"] if "brightness" in s["where"]]
    assert found, out["slices"]
    low, high = found[0]["where"]["brightness"]
    assert low is None and high <= 13 / 255   # within the dark images (luma 6..12): a quartile of the 60 images
    assert found[0]["error_rate"] == 1.0 and found[0]["rest_error_rate"] < 0.2
    result.stdout.fnmatch_lines(["  street: brightness < 0.0*: 100% wrong vs *% elsewhere, * images, q = *"])
    examples = {e["path"]: e["properties"] for e in out["categories"][0]["examples"]}
    assert examples["street/red/00.png"] == {"brightness": round(60 / 255, 4), "contrast": 0.0, "sharpness": 0.0,
                                             "width": 8, "height": 8, "aspect": 1.0}


def test_properties_are_measured_as_inference_decodes_then_read_from_the_store(street, measured):
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    run(street)
    assert measured == ["inference"] * 60            # the decode inference does anyway: none of its own
    measured.clear()
    _, out = run(street)
    assert measured == []                            # a warm rerun reads them
    assert out["categories"][0]["examples"][0]["properties"]["brightness"] == round(60 / 255, 4)
    (street.path / "edgecases.yaml").write_text((street.path / "edgecases.yaml").read_text().replace(
        "bias: 1.0", "bias: 0.5"))
    result, out = run(street)
    assert "60 inferred" in result.stdout.str()      # a new model infers every image again …
    assert measured == []                            # … but their properties are the model's no more than before
    assert out["categories"][0]["examples"][0]["properties"]["width"] == 8


def test_predictions_from_a_file_have_their_images_decoded_once_for_properties(street, measured):
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    run(street, "--edgecases-no-cache", "--edgecases-save-predictions=p.jsonl")
    measured.clear()
    result, out = run(street, "--edgecases-predictions=p.jsonl")
    assert "60 from predictions files, 0 inferred" in result.stdout.str()
    assert measured == ["decode"] * 60
    assert any("brightness" in s["where"] for s in out["slices"])
    measured.clear()
    run(street, "--edgecases-predictions=p.jsonl")
    assert measured == []


@pytest.mark.parametrize("switch", [["--edgecases-slices=off"], []], ids=["slices-off", "default"])
def test_without_properties_in_slices_nothing_is_measured_for_cached_predictions(street, measured, switch):
    """The default leaves image properties out of slice discovery (docs/slices.md: their cost), and reads none."""
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    run(street, "--edgecases-no-cache", "--edgecases-save-predictions=p.jsonl")
    measured.clear()
    _, out = run(street, "--edgecases-predictions=p.jsonl", *switch, properties="")
    assert measured == [] and out["categories"][0]["examples"][0]["properties"] == {}
    assert not any(name in s["where"] for s in out["slices"] for name in ("brightness", "contrast", "sharpness"))


def test_a_default_cold_run_measures_nothing_and_properties_asked_later_are_decoded_once(street, measured):
    """Measuring costs the decode threads a third of a decode: a run that reads no property measures none."""
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    result, out = run(street, properties="")
    assert "60 inferred" in result.stdout.str()
    assert measured == [] and out["categories"][0]["examples"][0]["properties"] == {}
    _, out = run(street)                              # properties asked for: the cached predictions' images
    assert measured == ["decode"] * 60
    assert out["categories"][0]["examples"][0]["properties"]["width"] == 8
    measured.clear()
    run(street)
    assert measured == []


def test_where_on_a_property_works_with_the_default_slices(street, measured):
    """Properties left out of slice discovery are still measured for a category whose where: names one."""
    suite(street, "  - {name: street, images: street/}\n  - {name: dark, images: street/, "
                  "where: {brightness: [null, 0.1]}}\n")
    run(street, "--edgecases-no-cache", "--edgecases-save-predictions=p.jsonl")
    measured.clear()
    _, out = run(street, "--edgecases-predictions=p.jsonl", properties="")
    assert measured == ["decode"] * 60
    assert {c["category"]: c["n_examples"] for c in out["categories"]} == {"street": 60, "dark": 20}


@pytest.mark.parametrize("category, judged", [
    ("  - {name: dark, images: street/, where: {brightness: [null, 0.1]}}\n", 20),
    ("  - {name: dark, manifest: m.csv, where: {brightness: [null, 0.1], camera: a}}\n", 10),
    ("  - {name: all, images: street/}\n"
     "  - {name: dark, from: all, where: {brightness: [null, 0.1]}, transform: {brightness: 0.2}}\n", 60),
])
def test_where_on_a_property_keeps_the_images_as_the_model_saw_them(street, category, judged):
    """Dark images only; for a from: category, dark after its transform (at a fifth, every image is under 0.1)."""
    suite(street, category)
    _, out = run(street)
    [dark] = [c for c in out["categories"] if c["base"] == "dark"]
    assert dark["n_examples"] == judged
    assert all(e["properties"]["brightness"] < 0.1 for e in dark["examples"])
    assert dark["n_correct"] == 0


def test_a_where_on_a_property_that_keeps_nothing_fails_its_category_clearly(street):
    suite(street, "  - {name: glare, images: street/, where: {brightness: [0.9, null]}}\n")
    result, _ = run(street)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*edgecases.yaml:5: where: selects none of category 'glare''s 60 examples by "
                                 "their image properties*"])


def test_a_property_slice_promotes_into_a_where_that_selects_its_images(street):
    """The results' slice, pasted as a where:, judges exactly the slice's images."""
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n")
    _, out = run(street)
    [found] = [s for s in out["slices"] if list(s["where"]) == ["brightness"]][:1]
    low, high = found["where"]["brightness"]
    suite(street, f"  - {{name: street, images: street/, where: {{brightness: [null, {high}]}}}}\n")
    _, again = run(street)
    assert again["categories"][0]["n_examples"] == found["n"]


def test_an_unreadable_image_has_no_properties_and_a_where_keeps_it_to_fail_its_category(street):
    """A corrupt file is judged (a scoring error) whatever a property where: says: it cannot drop out of a gate."""
    (street.path / "street" / "red" / "zz.png").write_bytes(b"not a png")
    suite(street, "  - {name: dark, images: street/, where: {brightness: [null, 0.1]}}\n")
    result, out = run(street)
    [category] = out["categories"]
    assert category["n_examples"] == 21
    assert [e["path"] for e in category["examples"] if e.get("error")] == ["street/red/zz.png"]
    assert category["passed"] is False


def test_properties_in_where_are_documented_errors_at_collection(street):
    suite(street, "  - {name: dark, images: street/, where: {brightnes: [null, 0.1]}}\n")
    result = street.runpytest("--edgecases", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*where: 'brightnes' is not a manifest column or an image property of category "
                                 "'dark' (did you mean 'brightness'?)*"])


def test_under_xdist_where_and_slices_on_properties_judge_as_one_process_does(street):
    """Each worker measures (or reads what the first stored) under the run's lock: the same images, the same slices."""
    suite(street, "  - {name: street, images: street/, min_accuracy: 0.5}\n"
                  "  - {name: dark, manifest: m.csv, where: {brightness: [null, 0.1]}}\n")
    _, serial = run(street, "--edgecases-no-cache")
    result = street.runpytest_subprocess("--edgecases", "-p", "no:cacheprovider", "-n", "2", "--edgecases-no-cache",
                                         "--edgecases-slices-properties=on",
                                         "--edgecases-results=xdist.json", "--edgecases-report=none")
    result.assert_outcomes(passed=2)
    xdist = json.loads((street.path / "xdist.json").read_text())
    assert xdist["slices"] == serial["slices"]
    assert ({c["category"]: c["n_examples"] for c in xdist["categories"]}
            == {c["category"]: c["n_examples"] for c in serial["categories"]} == {"street": 60, "dark": 20})
