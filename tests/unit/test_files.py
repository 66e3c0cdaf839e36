"""files.py: only_images, which keeps pytest out of folders of images only, is conservative."""
from __future__ import annotations

from pathlib import Path


def test_only_images_is_conservative(tmp_path):
    from pytest_edgecases.files import only_images
    from pytest_edgecases.suite import IMAGE_SUFFIXES

    def check(path: Path) -> bool:
        return only_images(path, IMAGE_SUFFIXES, {})

    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/1.PNG").touch()
    (tmp_path / "a/.DS_Store").touch()
    assert check(tmp_path / "a")
    (tmp_path / "a/b/labels.csv").touch()
    assert not check(tmp_path / "a")
    (tmp_path / "c").mkdir()
    (tmp_path / "c/1.jpg").touch()
    (tmp_path / "c/link").symlink_to(tmp_path / "a")
    assert not check(tmp_path / "c")
    assert not check(tmp_path / "missing")
