"""Image properties: each measured right on images whose values are known, stored, and read back whole."""
from __future__ import annotations

import pytest
from PIL import Image, ImageFilter

from pytest_edgecases.inference.properties import MAX_SIDE, Source, measure, measure_files
from pytest_edgecases.inference.store import PredictionCache, checksum
from pytest_edgecases.prediction import ImageProperties


def checkerboard(width: int, height: int, low: int = 0, high: int = 255) -> Image.Image:
    """Alternating pixels: the sharpest image there is (every Laplacian is ±4 × the step)."""
    image = Image.new("L", (width, height))
    image.putdata([high if (x + y) % 2 else low for y in range(height) for x in range(width)])
    return image.convert("RGB")


@pytest.mark.parametrize("grey", [0, 51, 128, 255])
def test_a_flat_grey_image_has_its_level_for_brightness_and_no_contrast_or_sharpness(grey):
    found = measure(Image.new("RGB", (30, 20), (grey, grey, grey)))
    assert found == ImageProperties(brightness=round(grey / 255, 4), contrast=0.0, sharpness=0.0,
                                    width=30, height=20, aspect=1.5)


def test_brightness_is_luma_not_the_mean_of_the_channels():
    """Pure green looks brighter than pure blue (ITU-R 601: 0.587 against 0.114), as the eye sees it."""
    green, blue = measure(Image.new("RGB", (8, 8), (0, 255, 0))), measure(Image.new("RGB", (8, 8), (0, 0, 255)))
    assert green.brightness == round(150 / 255, 4) and blue.brightness == round(29 / 255, 4)


def test_a_checkerboard_has_contrast_one_half_and_the_laplacians_variance():
    found = measure(checkerboard(40, 40))
    assert found.brightness == 0.5 and found.contrast == 0.5
    assert found.sharpness == 16.0   # the Laplacian is +4 on a black pixel, -4 on a white one: variance 16


def test_blur_lowers_sharpness_and_only_sharpness_much():
    sharp = checkerboard(64, 64, 64, 192)
    blurred = sharp.filter(ImageFilter.GaussianBlur(1))
    a, b = measure(sharp), measure(blurred)
    assert b.sharpness < a.sharpness / 10
    assert abs(a.brightness - b.brightness) < 0.01


def test_contrast_scales_with_the_step():
    low, high = measure(checkerboard(20, 20, 100, 140)), measure(checkerboard(20, 20, 0, 240))
    assert low.contrast == round(20 / 255, 4) and high.contrast == round(120 / 255, 4)


def test_a_large_image_is_measured_reduced_but_keeps_its_own_size():
    """Cost bound: measured at most MAX_SIDE a side, so a flat image's figures are the same at any size."""
    big = Image.new("RGB", (MAX_SIDE * 4 + 3, MAX_SIDE), (90, 90, 90))
    found = measure(big)
    assert (found.width, found.height, found.aspect) == (MAX_SIDE * 4 + 3, MAX_SIDE, round((MAX_SIDE * 4 + 3) / MAX_SIDE, 4))
    assert found.brightness == round(90 / 255, 4) and found.sharpness == 0.0


def test_an_image_too_small_for_a_laplacian_has_no_sharpness():
    assert measure(Image.new("RGB", (2, 5), (10, 200, 30))).sharpness == 0.0


def test_measure_files_decodes_in_order_and_gives_none_for_what_it_cannot_read(tmp_path):
    good = tmp_path / "a.png"
    Image.new("RGB", (6, 3), (255, 255, 255)).save(good)
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    changed = Source(good, "0" * 64, None, 0)   # its key's bytes are gone: never measured, so never stored stale
    found = measure_files([Source(good, "", None, 0), Source(bad, "", None, 0), changed] * 3, threads=2)
    assert [f.aspect if f else None for f in found] == [2.0, None, None] * 3


def test_properties_round_trip_through_the_store_and_a_damaged_row_is_ignored(tmp_path):
    path = tmp_path / "cache.sqlite"
    props = measure(checkerboard(10, 10))
    store = PredictionCache(path)
    store.put_properties({"k1": props, "k2": props})
    store.close()
    store = PredictionCache(path)
    assert store.get_properties(["k1", "k2", "k3"]) == {"k1": props, "k2": props}
    assert store._db is not None
    store._db.execute("UPDATE properties SET value = replace(value, '0.5', '0.25') WHERE key = 'k2'")
    assert store.get_properties(["k1", "k2"]) == {"k1": props}
    store.close()


@pytest.mark.parametrize("value", ["", "0.5,0.1,2", "0.5,0.1,2,8,8,1,9", "0.5,nan,2,8,8,1", "0.5,0.1,2,8.5,8,1",
                                   "a,0.1,2,8,8,1", "0.5,0.1,inf,8,8,1"])
def test_a_malformed_stored_row_is_measured_again_not_trusted(tmp_path, value):
    """Even under a valid checksum (a row written by a buggy or later version), a bad value is not used."""
    store = PredictionCache(tmp_path / "cache.sqlite")
    assert store._db is not None
    store._db.execute("INSERT INTO properties VALUES (?, ?, ?, ?)", ("k", value, checksum("k", value), store.day))
    assert store.get_properties(["k"]) == {}
    store.close()


def test_a_categorys_properties_round_trip_as_one_bundle_and_a_damaged_or_short_one_is_not_used(tmp_path):
    """A warm rerun reads a category's properties in one row: whole, in order, or not at all."""
    path = tmp_path / "cache.sqlite"
    props = [measure(checkerboard(10, 10)), measure(checkerboard(30, 10, 40, 90)), measure(Image.new("RGB", (4, 7)))]
    store = PredictionCache(path)
    store.put_properties_bundle("bundle", props)
    store.close()
    store = PredictionCache(path)
    found = store.get_properties_bundle("bundle", 3)
    assert found == props and all(type(p) is ImageProperties and type(p.width) is int for p in found)
    assert store.get_properties_bundle("bundle", 2) is None   # not the count its key was made for
    assert store.get_properties_bundle("other", 3) is None
    assert store._db is not None
    store._db.execute("UPDATE blobs SET value = replace(value, '0.5', '0.25') WHERE key = 'bundle'")
    assert store.get_properties_bundle("bundle", 3) is None   # the checksum fails
    store.close()


@pytest.mark.parametrize("value", ["", "0.5,0.1,2,8,8", "0.5,0.1,2,8,8,1,0.5,nan,2,8,8,1", "0.5,0.1,2,8.5,8,1",
                                   "a,0.1,2,8,8,1", "0.5,0.1,inf,8,8,1"])
def test_a_malformed_bundle_is_not_trusted(tmp_path, value):
    store = PredictionCache(tmp_path / "cache.sqlite")
    assert store._db is not None
    store._db.execute("INSERT INTO blobs VALUES (?, ?, ?, ?)", ("b", value, checksum("b", value), store.day))
    assert store.get_properties_bundle("b", value.count(",") // 6 + 1 if value else 1) is None
    store.close()


def test_a_new_pillow_or_numpy_keys_properties_anew(monkeypatch):
    """The decoder and the arithmetic are inputs of a measurement: another version measures again."""
    from importlib import metadata

    from pytest_edgecases.inference import keys

    real = metadata.version
    before = keys.properties_key("ab" * 32, None, 0)
    assert keys.properties_keys(["ab" * 32], None, None) == [before]
    for dist in ("pillow", "numpy"):
        monkeypatch.setattr(metadata, "version", lambda name, d=dist: "0.0-other" if name == d else real(name))
        keys._properties_prefix.cache_clear()
        try:
            other = keys.properties_key("ab" * 32, None, 0)
            assert other != before and keys.properties_keys(["ab" * 32], None, None) == [other]
        finally:
            monkeypatch.setattr(metadata, "version", real)
            keys._properties_prefix.cache_clear()
    assert keys.properties_key("ab" * 32, None, 0) == before
