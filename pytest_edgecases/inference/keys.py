"""Every cache key and every input it is made of: the one place the "never a stale prediction" rule lives.

A cached value is found by a key that digests everything that can change it. Change any input
and the key changes, so a stale entry is never looked up (``store.prune`` drops it in time).

Prediction (``example_key``): digest of
  - the model key (``model_key``), a digest of
      - the model fingerprint: the model's code, structure, parameters and buffers
        (models.model_fingerprint), or for a model saved as files (timm, Hugging Face, torch.export,
        ONNX) those files' bytes and the preprocessing resolved for it (models.files_fingerprint);
        or a recipe's memo of either, see below;
      - the declared preprocessing (``Preprocess.describe()``) and the source of a preprocess
        callable's module (``source_digest``);
      - the library versions (``library_versions``: this plugin, torch, torchvision, Pillow, numpy, and
        timm, transformers and onnxruntime where installed);
      - the device type (cpu, cuda, mps) and the precision (fp32, bf16, fp16);
      - the number of labels: inference checks the model has one output per label, and a
        prediction made for another label set must not skip that check;
      - ``NUMERICS``, the plugin's own inference numerics, and the machine's architecture;
  - the image's SHA-256 (``unreadable:PATH`` for a file that cannot be read);
  - the transform's key (``Level.key``, which holds ``transforms.IMPLEMENTATION_VERSION``) and
    the seed that ``example_seed`` derives from the example's identity.

Model input (``input_key``), the key of a job in a jobs file or a predictions file (predfiles.py):
``INPUT_TAG``, the image's SHA-256, the transform's key and seed, and the declared preprocessing.
The model is not part of it: it addresses what any engine is given, so predictions made elsewhere
(another machine, another engine, a CI shard) are matched to examples by it. Such predictions
are never written to the prediction cache, whose keys say which model made a value.

Image properties (``properties_key``), measured on the image as the model saw it before preprocessing
(properties.py): ``PROPERTIES_TAG``, Pillow's and numpy's versions, the image's SHA-256, the transform's
key and its seed. Neither the model nor the preprocessing is part of it, so a new model, or new
preprocessing, measures nothing again.
A category's together (``properties_bundle_key``): the digest of its images' properties keys, in order.

Model recipe (``recipe_key``), the key of the memo that lets a rerun know a model's fingerprint
without building it: ``RECIPE_TAG``, the model's kind, target and args, each defining file's path in
the project with its SHA-256, the library versions and the Python version.

Saliency map (``saliency_key``): ``SALIENCY_VERSION``, the fingerprint of the model the run judged
(``RunInfo.model``, so a warm rerun finds its maps without building the model), the model input's key
(``input_key``: image, transform, seed, preprocessing), the method, its layer, the target label's
index, the library versions with Captum's, and the device type.

Thumbnail (``thumbnail_key``): ``THUMBNAIL_VERSION``, the Pillow version, the thumbnail size, the
image's SHA-256, and the transform's key and seed.

File digests are memoised by path and checked against the file's whole stat (digests.py); the
layout of the cache file is ``store.SCHEMA``.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..examples import project_path
from ..suite import ModelSpec, Suite
from ..transforms import Level, seed_for

#: Bump when the plugin's own inference code changes numbers (memory format, resize, normalisation
#: order), so that predictions cached before are not reused.
NUMERICS = "2"   # 2: channels_last model and input on CPU
#: Optional extras whose code builds, preprocesses for or runs a model (models.SOURCES): their versions
#: key predictions (a model saved as files is known by those files, its library's code by its version).
OPTIONAL_LIBRARIES = ("timm", "transformers", "onnxruntime")
#: Bump when what recipe.py counts as a model's defining files changes.
RECIPE_TAG = "model-recipe-2"
#: Bump when what a model input's key (input_key) is made of changes: predictions files keyed before stop matching.
INPUT_TAG = "model-input-1"
#: Bump when what properties.measure computes changes (a property's definition, its rounding).
PROPERTIES_TAG = "image-properties-1"
#: Bump when inference/explain.py's maps change (pooling, normalisation, a method's settings).
SALIENCY_VERSION = "1"
#: Bump when report/thumbs.data_uri's output changes.
THUMBNAIL_VERSION = "1"


def digest(*parts: str) -> str:
    """SHA-256 of the parts, each ended by a NUL (so no two lists of parts run together alike)."""
    # One join, one encode, one update: the same bytes as part by part (a warm rerun keys every image).
    return hashlib.sha256("\0".join((*parts, "")).encode("utf-8", "surrogatepass")).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that change the numbers: part of every cache key and baseline."""
    out = {"pytest-edgecases": __version__}
    for dist in ("torch", "torchvision", "pillow", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    for dist in OPTIONAL_LIBRARIES:   # only where installed: a run without them keys as it did
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def model_key(fingerprint: str, suite: Suite, custom_source: str, versions: dict[str, str], device_type: str,
              precision: str) -> str:
    """Everything but the image that changes a prediction: model, preprocessing, versions, device, precision."""
    return digest(fingerprint, suite.preprocess.describe(), custom_source, json.dumps(versions, sort_keys=True),
                  device_type, precision, str(len(suite.labels)), NUMERICS, platform.machine())


def example_seed(file: str, rootdir: Path, transform: Level | None) -> int:
    """The seed of an example's synthetic transform (0 without one), for inference and thumbnails alike.

    The identity is the file's path inside the project, so every machine derives the same corruption.
    """
    if transform is None:
        return 0
    return seed_for(project_path(file, rootdir), transform)


def example_key(model: str, sha256: str, file: str, transform: Level | None, seed: int) -> str:
    """The prediction's key: the model key, the image's bytes, and the transform applied to them."""
    return digest(model, sha256 or f"unreadable:{file}", transform.key if transform is not None else "", str(seed))


def input_key(sha256: str, file: str, transform: Level | None, seed: int, preprocess: str) -> str:
    """The content address of a model's input, without the model: the image's bytes, the transform applied
    to them and its seed, and the declared preprocessing (``Preprocess.describe()``)."""
    return digest(INPUT_TAG, sha256 or f"unreadable:{file}", transform.key if transform is not None else "",
                  str(seed), preprocess)


def properties_key(sha256: str, transform: Level | None, seed: int) -> str:
    """The key an image's properties are stored under: its bytes and the transform applied to them (an
    unreadable file has no properties, and no key is asked for it)."""
    # Plain text, not a digest (as thumbnail_key): every part is already a digest or short, and a warm
    # rerun makes one per example.
    return f"{_properties_prefix()}{sha256}:{transform.key if transform is not None else ''}:{seed}"


def properties_keys(shas: list[str], transform: Level | None, seeds: list[int] | None) -> list[str]:
    """properties_key of many images at once, the transform's part made once (seeds: None for all 0)."""
    middle = f":{transform.key if transform is not None else ''}:"
    prefix = _properties_prefix()
    if seeds is None:
        return [f"{prefix}{sha}{middle}0" for sha in shas]
    return [f"{prefix}{sha}{middle}{seed}" for sha, seed in zip(shas, seeds, strict=True)]


@functools.cache
def _properties_prefix() -> str:
    """PROPERTIES_TAG and the versions of the libraries that decode and measure (Pillow, numpy): a new
    decoder can shift a brightness across a `where:` boundary. Read once per process."""
    versions = []
    for dist in ("pillow", "numpy"):
        try:
            versions.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            versions.append("absent")
    return f"properties:{PROPERTIES_TAG}:{':'.join(versions)}:"


def properties_bundle_key(keys: list[str]) -> str:
    """The key of the properties of a whole category's images, in its examples' order (``keys``: their
    properties_key): a warm rerun reads one row per category, not one per image."""
    # digest(*keys) in one update: the parts of a 20,000-image category one by one cost 20 ms.
    text = "\0".join(keys) + "\0"
    return "properties-bundle:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def recipe_key(spec: ModelSpec, files: list[str], versions: dict[str, str]) -> str:
    """The key of a file-determined model's fingerprint memo; ``files`` are ``path=sha256`` pairs, in order."""
    return digest(RECIPE_TAG, spec.kind, spec.target, repr(spec.args), *files,
                  json.dumps(versions, sort_keys=True), sys.version)


def source_digest(func: Any) -> str:
    """Digest of a custom preprocess callable's module source, so editing it invalidates the cache."""
    if func is None:
        return ""
    try:
        return digest(inspect.getsource(inspect.getmodule(func) or func))
    except (OSError, TypeError):
        return digest(repr(func))


def thumbnail_key(sha256: str, transform: Level | None, seed: int, max_side: int, pillow: str) -> str:
    """The key a report thumbnail is memoised under: the bytes it was made from, and how it was made."""
    return (f"thumbnail:{THUMBNAIL_VERSION}:{pillow}:{max_side}:{sha256}:"
            f"{transform.key if transform is not None else ''}:{seed}")


def saliency_key(model: str, input_key: str, method: str, layer: str, target: int, versions: dict[str, str],
                 device_type: str) -> str:
    """The key a saliency grid is kept under in the cache's blob memo (store.put_blob)."""
    return "saliency:" + digest(SALIENCY_VERSION, model, input_key, method, layer, str(target),
                                json.dumps(versions, sort_keys=True), _captum_version(), device_type)


@functools.cache
def _captum_version() -> str:
    """Captum's version (reading a distribution's metadata takes milliseconds: once per process)."""
    try:
        return metadata.version("captum")
    except metadata.PackageNotFoundError:
        return "absent"
