"""Synthetic edge cases: deterministic image corruptions declared in YAML.

A suite category can be derived from another one::

    - name: blur
      from: clean
      transform: {gaussian_blur: {sigma: [1, 2, 4]}}

:func:`expand` validates the parsed ``transform:`` value and turns it into a list
of :class:`Level` objects (one pytest item each: ``blur[sigma=1]``, ...).
:func:`apply` corrupts one image for one level, deterministically: the same
image, level and seed give the same bytes in every run, in every process, on
every CPU (see "Determinism" below and docs/transforms.md).  :func:`seed_for`
derives that seed from the example's identity (its path), never from a global
random number generator.

Importing this package is cheap: numpy, Pillow and torch/torchvision are
imported lazily inside the kernels, because the plugin parses YAML at
collection time.

Layout: ``_registry`` (what an op is, :data:`OPS`, the ``register_kernel``
decorator), ``_grammar`` (``transform:`` values -> levels), ``_apply`` (seeds,
running a level) and one file per family of kernels, each registered where it
is written, with its parameters beside it.

Determinism
-----------
* Random patterns (noise, occlusion placement, fog) come from SHAKE-256
  (:mod:`hashlib`) keyed by the seed: a standardised byte stream, identical on
  every platform and independent of numpy's or torch's RNG implementations.
* The hand-written ops (fog, motion blur, gaussian noise, occlusion) use integer
  (fixed-point) arithmetic only; float parameters are turned into integers once,
  in Python scalar IEEE-754 arithmetic, which is exact-rounded everywhere.
* The torchvision ops are called on PIL images, so they run Pillow's
  integer / fixed-point kernels (brightness, contrast, resize, JPEG through
  libjpeg-turbo's bit-exact "islow" DCT) or Pillow's scalar double-precision
  geometry (rotation, perspective), which has no CPU-specific code path.
* The one op that needs torch arithmetic, gaussian blur, runs in float64; see
  :func:`._blur.gaussian_blur` for why that is still bit-stable across CPUs.
"""
from __future__ import annotations

from ..validate import format_keypath
from ._apply import apply, seed_for
from ._grammar import Level, Op, TransformError, expand
from ._registry import IMPLEMENTATION_VERSION, OPS, OpSpec, Param

# The kernel families register their ops on import, and that order is the order users see the ops
# listed in (error messages, docs, the schema): light and haze, blur, noise, occlusion, geometry, quality.
# isort: off
from . import _photometric, _blur, _noise, _occlusion, _geometry, _quality  # noqa: E402,F401
# isort: on

__all__ = [
    "IMPLEMENTATION_VERSION",
    "OPS",
    "Level",
    "Op",
    "OpSpec",
    "Param",
    "TransformError",
    "apply",
    "expand",
    "format_keypath",
    "seed_for",
]
