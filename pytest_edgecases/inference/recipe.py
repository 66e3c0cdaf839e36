"""A model that files alone determine, known without building it: what lets a rerun skip torch.

The store remembers the fingerprint of a model built from a recipe: a digest of the files that
define it (keys.recipe_key). Where those files are unchanged, a rerun keys predictions with that
fingerprint and needs neither torch nor the model, unless an image is new.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ..suite import ModelSpec, Suite
from . import keys


def _declares_its_files(spec: ModelSpec) -> bool:
    """A factory whose suite names the files that define it (`defined_by:`, the user's declaration)."""
    return bool(spec.defined_by)


def _has_weights_file(spec: ModelSpec) -> bool:
    """A torchvision architecture with a weights file (its code is torchvision's, whose version is keyed),
    or a TorchScript archive (code and weights in one file)."""
    return spec.weights is not None


def _saved(spec: ModelSpec) -> bool:
    """A model saved whole: an archive (torch.export, ONNX) or a folder (Hugging Face, timm), or a timm
    architecture with a weights file. The library's code is keyed by its version (keys.library_versions),
    and its own preprocessing is resolved from the same files."""
    return bool(spec.files)


#: Per model source (models.SOURCES), whether a suite's model: section names every file that determines it.
#: A source missing here is always built.
FILE_DETERMINED: dict[str, Callable[[ModelSpec], bool]] = {
    "factory": _declares_its_files,
    "torchvision": _has_weights_file,
    "torchscript": _has_weights_file,
    "timm": _saved,
    "huggingface": _saved,
    "exported": _saved,
    "onnx": _saved,
}


def file_determined(suite: Suite, has_model_hook: Callable[[Suite], bool]) -> bool:
    """Whether files alone determine the suite's model.

    Not with a conftest hook or a preprocess callable: either can read any file or variable. (The
    device must be known without torch as well: infer.py checks that.)
    """
    spec = suite.model
    if spec is None or suite.preprocess.callable or has_model_hook(suite):
        return False
    declared = FILE_DETERMINED.get(spec.kind)
    return declared is not None and declared(spec)


def model_recipe(suite: Suite, rootdir: Path, versions: dict[str, str],
                 digests: Callable[[Sequence[str]], dict[str, str]]) -> str | None:
    """The recipe key of a file-determined model (check file_determined first); ``digests`` hashes files.

    None (build the model) where a file cannot be read or a folder of `defined_by:` links out of the
    project: a change there could not be seen.
    """
    spec = suite.model
    assert spec is not None
    files: list[Path] = []
    for entry in spec.files:
        found = source_files(entry)
        if found is None or not all(f.resolve().is_relative_to(rootdir) for f in found):
            return None   # gone, or a link out of the project: build the model to know it
        files.extend(found)
    names = [str(f) for f in files]
    known = digests(names)
    if not all(known.get(name) for name in names):
        return None   # unreadable: the full path reports it (or the factory does)
    # Names too: moving a source file (or weights) from one place to another can change what is built.
    return keys.recipe_key(spec, [f"{f.relative_to(rootdir).as_posix()}={known[name]}"
                                  for f, name in zip(files, names, strict=True)], versions)


def source_files(entry: Path) -> list[Path] | None:
    """The files an entry of ModelSpec.files stands for: the file itself, or every file below a folder
    (sorted; caches and dot-files aside). None when it has gone since the suite was read."""
    if entry.is_file():
        return [entry]
    if not entry.is_dir():
        return None
    return sorted(p for p in entry.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and not any(part.startswith(".") for part in p.relative_to(entry).parts))
