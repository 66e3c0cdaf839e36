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

Importing this module is cheap: numpy, Pillow and torch/torchvision are
imported lazily inside :func:`apply`, because the plugin parses YAML at
collection time.

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
  :func:`_gaussian_blur` for why that is still bit-stable across CPUs.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as _PILImage

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

#: Bumped whenever an op's output for the same parameters and seed changes.
#: It is part of :attr:`Level.key`, so cached predictions of synthetic images
#: made by an older implementation are never reused.
IMPLEMENTATION_VERSION = 1


# --------------------------------------------------------------------------- errors


class TransformError(ValueError):
    """A bad transform spec. ``.keypath`` locates the offending YAML value.

    ``keypath`` holds the keys / list indices from the ``transform:`` value down
    to the bad value, e.g. ``("occlusion", "area")`` or ``(1, "gaussian_noise")``;
    ``()`` means the ``transform:`` value itself.
    """

    def __init__(self, message: str, keypath: tuple[str | int, ...] = ()):
        super().__init__(message)
        self.message = message
        self.keypath = tuple(keypath)


def format_keypath(keypath: Sequence[str | int], root: str = "transform") -> str:
    """``("occlusion", "area")`` -> ``"transform.occlusion.area"``; ``(1, "jpeg")`` -> ``"transform[1].jpeg"``."""
    out = root
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# --------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Param:
    """One parameter of an op, as a user writes it in YAML."""

    name: str  #: YAML key, and the name used in level ids ("sigma=2")
    kind: str  #: "float" | "int" | "rgb" | "choice"
    unit: str  #: what a value means, in words a person understands
    meaning: str
    default: Any = None  #: None: required (only the primary parameter is)
    low: float | None = None
    high: float | None = None
    low_open: bool = False  #: True: value must be strictly greater than ``low``
    high_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def valid(self) -> str:
        """The valid range in words, e.g. ``"a number greater than 0 and at most 50"``."""
        if self.kind == "rgb":
            return "a colour [r, g, b] with each channel a whole number from 0 to 255, or a quoted '#rrggbb'"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = "a whole number" if self.kind == "int" else "a number"
        lo, hi = _fmt_number(self.low), _fmt_number(self.high)
        if not self.low_open and not self.high_open:
            return f"{noun} from {lo} to {hi}"
        lo_txt = f"greater than {lo}" if self.low_open else f"at least {lo}"
        hi_txt = f"less than {hi}" if self.high_open else f"at most {hi}"
        return f"{noun} {lo_txt} and {hi_txt}"

    def describe(self) -> str:
        return f"{self.name} ({self.unit}): {self.valid}"


@dataclass(frozen=True)
class OpSpec:
    """A registered op: what it simulates, its parameters, how it is computed."""

    name: str
    simulates: str
    params: tuple[Param, ...]
    primary: str  #: the parameter a scalar or bare list stands for: {jpeg: 20}
    examples: Mapping[str, Any]  #: example levels, as YAML params (docs, gallery)
    implementation: str  #: which library call or hand-written code computes it
    func: Callable[..., Any] = field(repr=False, compare=False)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


# ------------------------------------------------------------------ levels and ops


@dataclass(frozen=True)
class Op:
    """One op with fully resolved parameters (defaults filled, sorted by name, hashable)."""

    name: str
    params: tuple[tuple[str, object], ...]

    @property
    def kwargs(self) -> dict[str, object]:
        return dict(self.params)


@dataclass(frozen=True)
class Level:
    """One level of a synthetic category: the ops to apply, in order."""

    id: str  #: "" when the transform lists no levels, else e.g. "sigma=1"
    ops: tuple[Op, ...]

    @functools.cached_property
    def key(self) -> str:
        """Canonical, stable string of the ops and their parameters (JSON, sorted keys).

        Equal for equal ops whatever the level id or the YAML spelling
        (``sigma: 1`` and ``sigma: 1.0``); includes :data:`IMPLEMENTATION_VERSION`.
        Computed once: seed_for asks for it per example (20,000 times for a big level).
        """
        ops = [[op.name, {k: (list(v) if isinstance(v, tuple) else v) for k, v in op.params}] for op in self.ops]
        return json.dumps(
            {"ops": ops, "transforms_version": IMPLEMENTATION_VERSION},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )


def seed_for(identity: str, level: Level) -> int:
    """A stable 64-bit seed from an example's identity (e.g. its path relative to
    the project root, with ``/`` separators) and ``level.key``.

    SHA-256 based, so it is the same in every process and on every machine
    (never Python's randomised ``hash()``).
    """
    if not isinstance(identity, str):
        raise TypeError(f"identity must be a str, got {type(identity).__name__}")
    digest = hashlib.sha256(identity.encode("utf-8") + b"\x00" + level.key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


# ------------------------------------------------------------------------- expand


def _fmt_number(v: Any) -> str:
    """Minimal decimal form: 1 (not 1.0), 0.1 (not 0.10000001 unless written so)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)  # shortest repr that round-trips
    return str(v)


def _fmt_value(param: Param, v: Any) -> str:
    if param.kind == "rgb":
        return "#%02x%02x%02x" % tuple(v)
    return _fmt_number(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _suggest(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if not close and len(word) >= 3:  # "blur" -> gaussian_blur, motion_blur
        close = [c for c in candidates if word.lower() in c][:3]
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def _op_listing() -> str:
    return "valid transforms: " + ", ".join(OPS)


def _param_listing(spec: OpSpec) -> str:
    return f"valid parameters of {spec.name}: " + "; ".join(p.describe() for p in spec.params)


def _type_name(v: Any) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, (list, tuple)):
        return f"the list {list(v)!r}"
    if isinstance(v, Mapping):
        return f"the mapping {dict(v)!r}"
    return repr(v)


def _check_value(spec: OpSpec, param: Param, v: Any, path: tuple[str | int, ...]) -> Any:
    """Validate one (non-level-list) value; return its normalised form."""
    where = f"{spec.name}.{param.name}"
    expect = f"{param.valid} ({param.unit})"

    if param.kind == "choice":
        if isinstance(v, str) and v in param.choices:
            return v
        hint = _suggest(v, param.choices) if isinstance(v, str) else ""
        raise TransformError(f"{where} must be {expect}, got {_type_name(v)}{hint}", path)

    if param.kind == "rgb":
        if isinstance(v, str):
            s = v.strip()
            if len(s) == 7 and s[0] == "#":
                try:
                    return (int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16))
                except ValueError:
                    pass
        elif isinstance(v, (list, tuple)) and len(v) == 3 and all(_is_number(c) for c in v):
            chans = []
            for c in v:
                if isinstance(c, float) and c.is_integer():
                    c = int(c)
                if not isinstance(c, int) or not 0 <= c <= 255:
                    break
                chans.append(c)
            else:
                return tuple(chans)
        hint = ""
        if v is None:
            hint = " (an unquoted #rrggbb is a YAML comment: write fill: '#rrggbb')"
        raise TransformError(f"{where} must be {param.valid}, got {_type_name(v)}{hint}", path)

    # numbers
    if not _is_number(v):
        hint = ""
        if isinstance(v, str):
            try:
                float(v)
                hint = " (PyYAML reads a number like 1e-3 as a string: write 0.001 or 1.0e-3)"
            except ValueError:
                pass
        raise TransformError(f"{where} must be {expect}, got {_type_name(v)}{hint}", path)
    if isinstance(v, float) and not math.isfinite(v):
        raise TransformError(f"{where} must be {expect}, got {v!r}", path)
    if param.kind == "int":
        if isinstance(v, float):
            if not v.is_integer():
                raise TransformError(f"{where} must be {expect}, got {_fmt_number(v)}", path)
            v = int(v)
    else:
        v = float(v)
    lo_bad = param.low is not None and (v <= param.low if param.low_open else v < param.low)
    hi_bad = param.high is not None and (v >= param.high if param.high_open else v > param.high)
    if lo_bad or hi_bad:
        raise TransformError(f"{where} must be {expect}, got {_fmt_number(v)}", path)
    return v


def _is_level_list(param: Param, v: Any) -> bool:
    """A YAML list is a list of levels, except an [r, g, b] colour for an rgb parameter."""
    if not isinstance(v, (list, tuple)):
        return False
    if param.kind == "rgb":
        return not (len(v) > 0 and all(_is_number(c) for c in v))
    return True


@dataclass
class _Step:
    spec: OpSpec
    fixed: dict[str, Any]  # parameter -> normalised value
    lists: dict[str, tuple[list[Any], tuple[str | int, ...]]]  # parameter -> (levels, keypath)


def _parse_step(item: Any, path: tuple[str | int, ...]) -> _Step:
    example = "{gaussian_blur: {sigma: [1, 2, 4]}}"
    if not isinstance(item, Mapping):
        raise TransformError(
            f"each transform must be a mapping {{op: parameters}} like {example}, got {_type_name(item)}; "
            + _op_listing(),
            path,
        )
    if len(item) != 1:
        keys = ", ".join(str(k) for k in item) or "none"
        raise TransformError(
            f"a transform mapping must have exactly one key, the op name (got {len(item)}: {keys}); "
            "to combine ops write a list, applied in order: [{brightness: 0.3}, {gaussian_noise: 0.05}]; "
            + _op_listing(),
            path,
        )
    ((name, raw_params),) = item.items()
    if not isinstance(name, str) or name not in OPS:
        raise TransformError(
            f"unknown transform {str(name)!r}{_suggest(str(name), list(OPS))} ({_op_listing()})",
            path + (str(name),),
        )
    spec = OPS[name]
    here = path + (name,)

    # {op: value} / {op: [v1, v2]} is shorthand for {op: {primary: value}}; the
    # keypath of a shorthand value is the op key itself.
    if isinstance(raw_params, Mapping):
        entries = [(k, v, here + (k,)) for k, v in raw_params.items()]
    elif raw_params is None:
        entries = []   # {op: } names no value: the primary-parameter check below says so
    else:
        entries = [(spec.primary, raw_params, here)]

    names = [p.name for p in spec.params]
    fixed: dict[str, Any] = {}
    lists: dict[str, tuple[list[Any], tuple[str | int, ...]]] = {}
    for key, value, kpath in entries:
        if not isinstance(key, str) or key not in names:
            raise TransformError(
                f"{name} has no parameter {str(key)!r}{_suggest(str(key), names)} ({_param_listing(spec)})",
                kpath,
            )
        param = spec.param(key)
        if _is_level_list(param, value):
            if len(value) == 0:
                raise TransformError(
                    f"{name}.{key} is an empty list of levels; give at least one value, "
                    f"each {param.valid} ({param.unit})",
                    kpath,
                )
            values = [_check_value(spec, param, v, kpath + (i,)) for i, v in enumerate(value)]
            lists[key] = (values, kpath)
        else:
            fixed[key] = _check_value(spec, param, value, kpath)

    if spec.primary not in fixed and spec.primary not in lists:
        raise TransformError(
            f"{name} requires {spec.primary!r}, e.g. {{{name}: {_fmt_example(spec)}}} ({_param_listing(spec)})",
            here,
        )
    for p in spec.params:
        if p.name not in fixed and p.name not in lists:
            fixed[p.name] = p.default
    return _Step(spec, fixed, lists)


def _fmt_example(spec: OpSpec) -> str:
    v = spec.examples.get(spec.primary)
    if isinstance(v, list) and v:
        v = v[0]
    return _fmt_number(v)


def expand(raw: object) -> list[Level]:
    """Validate a parsed YAML ``transform:`` value and expand it into levels.

    ``raw`` is ``{op: params}`` or a list of such single-key mappings (a
    composition, applied in order).  ``params`` is a scalar (the op's primary
    parameter) or a mapping ``name -> value``; any value may be a list, giving
    levels.  All such lists in one transform are zipped and must have the same
    length.  Raises :class:`TransformError` naming the valid range and the
    ``keypath`` of the bad value.
    """
    if raw is None:
        raise TransformError(
            "transform is empty; write e.g. {gaussian_blur: {sigma: [1, 2, 4]}} (" + _op_listing() + ")", ()
        )
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise TransformError(
                "transform is an empty list; a composition needs at least one op, "
                "e.g. [{brightness: 0.3}, {gaussian_noise: 0.05}] (" + _op_listing() + ")",
                (),
            )
        steps = [_parse_step(item, (i,)) for i, item in enumerate(raw)]
    elif isinstance(raw, Mapping):
        steps = [_parse_step(raw, ())]
    else:
        raise TransformError(
            f"transform must be a mapping {{op: parameters}} or a list of them, got {_type_name(raw)} "
            "(" + _op_listing() + ")",
            (),
        )

    # All list-valued parameters are zipped: collect them in a fixed order
    # (composition order, then the op's declared parameter order).
    listed: list[tuple[int, Param, list[Any], tuple[str | int, ...]]] = []
    for si, step in enumerate(steps):
        for p in step.spec.params:
            if p.name in step.lists:
                values, kpath = step.lists[p.name]
                listed.append((si, p, values, kpath))

    if not listed:
        ops = tuple(Op(s.spec.name, tuple(sorted(s.fixed.items()))) for s in steps)
        return [Level("", ops)]

    n = len(listed[0][2])
    first = listed[0]
    for si, p, values, kpath in listed[1:]:
        if len(values) != n:
            raise TransformError(
                "level lists in one transform are zipped and must all have the same length: "
                f"{first[1].name} of {steps[first[0]].spec.name} has {n} levels, "
                f"{p.name} of {steps[si].spec.name} has {len(values)}; give {p.name} exactly {n} values",
                kpath,
            )

    labels = _level_labels(steps, listed)
    levels: list[Level] = []
    seen: dict[str, int] = {}
    for i in range(n):
        ops = []
        for si, step in enumerate(steps):
            params = dict(step.fixed)
            for lsi, p, values, _ in listed:
                if lsi == si:
                    params[p.name] = values[i]
            ops.append(Op(step.spec.name, tuple(sorted(params.items()))))
        level_id = ",".join(
            f"{label}={_fmt_value(p, values[i])}" for label, (_, p, values, _) in zip(labels, listed)
        )
        if level_id in seen:
            raise TransformError(
                f"levels {seen[level_id] + 1} and {i + 1} are the same ({level_id}); "
                "each value in a level list must be different",
                first[3],
            )
        seen[level_id] = i
        levels.append(Level(level_id, tuple(ops)))
    return levels


def _level_labels(steps: list[_Step], listed: list[tuple[int, Param, list[Any], Any]]) -> list[str]:
    """Short parameter names ("sigma"), qualified by op only where they would clash."""
    short = [p.name for _, p, _, _ in listed]
    labels = []
    for si, p, _, _ in listed:
        if short.count(p.name) == 1:
            labels.append(p.name)
        else:
            labels.append(f"{steps[si].spec.name}.{p.name}")
    if len(set(labels)) != len(labels):  # the same op twice in a composition
        counts: dict[str, int] = {}
        occurrence = []
        for step in steps:
            counts[step.spec.name] = counts.get(step.spec.name, 0) + 1
            occurrence.append(counts[step.spec.name])
        labels = [f"{steps[si].spec.name}{occurrence[si]}.{p.name}" for si, p, _, _ in listed]
    return labels


# -------------------------------------------------------------------------- apply


def apply(image: "_PILImage.Image", level: Level, seed: int) -> "_PILImage.Image":
    """Apply ``level``'s ops, in order, to an RGB image; returns a new RGB image of the same size.

    ``seed`` (from :func:`seed_for`) drives every random choice; the result
    depends only on the pixels, the level and the seed.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
    if not isinstance(level, Level):
        raise TypeError(f"level must be a Level (from expand()), got {type(level).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int from 0 to 2**64 - 1, got {seed!r}")
    img = image.convert("RGB") if image.mode != "RGB" else image.copy()
    size = img.size
    for index, op in enumerate(level.ops):
        spec = OPS.get(op.name)
        if spec is None:
            raise TransformError(f"unknown transform {op.name!r} ({_op_listing()})", (index,))
        # Each op of a composition gets its own random stream.
        op_seed = hashlib.sha256(b"%d:%d:%s" % (seed, index, op.name.encode("ascii"))).digest()
        img = spec.func(img, op.kwargs, op_seed)
        if img.mode != "RGB":
            img = img.convert("RGB")
        assert img.size == size, (op.name, img.size, size)
    return img


def _random_bytes(op_seed: bytes, purpose: bytes, n: int) -> bytes:
    """n pseudo-random bytes: SHAKE-256 of (seed, purpose); standardised (FIPS 202),
    so identical on every platform and Python version."""
    return hashlib.shake_256(op_seed + b"/" + purpose).digest(n)


def _to_array(img: Any) -> Any:
    import numpy as np

    return np.asarray(img, dtype=np.uint8)


def _from_array(arr: Any) -> Any:
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), mode="RGB")


def _tvf() -> Any:
    import torchvision.transforms.v2.functional as F

    return F


# --- ops backed by torchvision.transforms.v2.functional --------------------------
# Called on PIL images, torchvision dispatches to its Pillow kernels: integer /
# fixed-point code in Pillow, no CPU-specific float paths.


def _brightness(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    return _tvf().adjust_brightness(img, brightness_factor=p["brightness"])


def _contrast(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    return _tvf().adjust_contrast(img, contrast_factor=p["contrast"])


def _jpeg(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    # Pillow's libjpeg-turbo with the default integer ("islow") DCT, whose SIMD
    # variants are bit-exact with its C code.
    return _tvf().jpeg(img, quality=int(p["quality"]))


def _rotation(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = _tvf()
    return F.rotate(
        img, angle=p["angle"], interpolation=F.InterpolationMode.BILINEAR, expand=False, fill=list(p["fill"])
    )


_UPSAMPLE = {"bilinear": "BILINEAR", "nearest": "NEAREST", "bicubic": "BICUBIC"}


def _downscale(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = _tvf()
    w, h = img.size
    scale = p["scale"]
    small = (max(1, math.floor(h * scale + 0.5)), max(1, math.floor(w * scale + 0.5)))
    if small == (h, w):
        return img.copy()
    # Pillow resize: antialiased when shrinking, fixed-point coefficients for 8-bit images.
    out = F.resize(img, list(small), interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    mode = getattr(F.InterpolationMode, _UPSAMPLE[p["upsample"]])
    return F.resize(out, [h, w], interpolation=mode, antialias=True)


def _perspective(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = _tvf()
    coeffs = _perspective_coefficients(img.size[0], img.size[1], p["tilt"], p["axis"])
    # The coefficients are computed here in plain Python floats rather than by
    # torchvision's startpoints/endpoints least-squares solve (a LAPACK call
    # whose result may differ in the last bits between CPUs).
    return F.perspective(
        img,
        startpoints=None,
        endpoints=None,
        interpolation=F.InterpolationMode.BILINEAR,
        fill=list(p["fill"]),
        coefficients=coeffs,
    )


# Angle the picture (its longer side) subtends in the simulated camera's view: an
# object filling part of a phone photo.  Smaller = farther away = less perspective.
_FOV_DEGREES = 30.0


def _perspective_coefficients(width: int, height: int, tilt: float, axis: str) -> list[float]:
    """Pillow PERSPECTIVE coefficients (output -> input) for a flat picture turned
    by ``tilt`` degrees about its vertical or horizontal centre line, seen by a
    pinhole camera to which the picture spans 30 degrees, then scaled about the centre
    so the whole picture stays in the frame.

    Model, in centred coordinates along the tilt direction (X) and across it (Y):
    a point (X, Y) of the picture moves to depth f + X sin(t) and projects to
    u = f X cos(t) / (f + X sin(t)), v = f Y / (f + X sin(t)).  Inverted:
    X = (u / cos t) / (1 - u tan(t) / f), Y = v / (1 - u tan(t) / f).
    f > half the picture, so the picture stays in front of the camera and output
    pixels beyond its vanishing line map far outside it (filled).
    """
    if tilt == 0:
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    vertical = axis == "vertical"
    # "along" is the direction that recedes; for the horizontal axis a positive
    # tilt turns the top edge (negative y) away from the camera.
    along, across = (width, height) if vertical else (height, width)
    th = math.radians(tilt if vertical else -tilt)
    c, s = math.cos(th), math.sin(th)
    f = (max(width, height) / 2.0) / math.tan(math.radians(_FOV_DEGREES / 2.0))
    k = 1.0
    for X in (-along / 2.0, along / 2.0):
        den = f + X * s
        for Y in (-across / 2.0, across / 2.0):
            u, v = f * X * c / den, f * Y / den
            k = min(k, (along / 2.0) / abs(u), (across / 2.0) / abs(v))
    t = math.tan(th) / f
    # [X, Y, 1] ~ M1 @ [U, V, 1] with U, V centred output coordinates (u = U / k).
    m1 = [[1.0 / (k * c), 0.0, 0.0], [0.0, 1.0 / k, 0.0], [-t / k, 0.0, 1.0]]
    if not vertical:  # swap the roles of x and y
        m1 = [[m1[1][1], m1[1][0], m1[1][2]], [m1[0][1], m1[0][0], m1[0][2]], [m1[2][1], m1[2][0], m1[2][2]]]
    cx, cy = width / 2.0, height / 2.0
    to_centred = [[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]]
    from_centred = [[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]]
    m = _matmul(from_centred, _matmul(m1, to_centred))
    n = m[2][2]
    return [m[0][0] / n, m[0][1] / n, m[0][2] / n, m[1][0] / n, m[1][1] / n, m[1][2] / n, m[2][0] / n, m[2][1] / n]


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _gaussian_blur(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """torchvision's gaussian_blur, run in float64 as two 1-D passes.

    Why float64: torchvision's own uint8 path convolves in float32 through
    oneDNN/ATen kernels whose summation order depends on the CPU's vector
    instructions and thread count; we measured different output bytes with
    ATEN_CPU_CAPABILITY=default or ONEDNN_MAX_CPU_ISA=SSE41.  In float64 those
    order differences are below 1e-12 of a grey level, and the result is rounded
    to uint8: it can only change if the exact blurred value lies within 1e-12 of
    a rounding boundary (x.5), which for Gaussian weights (transcendental
    numbers) practically never happens (~1e-12 per pixel).  The test suite
    checks identical bytes under those CPU settings.
    """
    import numpy as np
    import torch

    F = _tvf()
    sigma = p["sigma"]
    arr = _to_array(img)
    h, w = arr.shape[:2]
    # +-3 sigma covers 99.7% of the kernel; reflect padding needs radius < size.
    radius = math.ceil(3.0 * sigma)
    rx, ry = min(radius, w - 1), min(radius, h - 1)
    # channels as a batch of 3 one-channel images: a plain (not grouped) convolution, faster on CPU
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(1).to(torch.float64)
    if rx > 0:
        t = F.gaussian_blur(t, kernel_size=[2 * rx + 1, 1], sigma=[sigma, sigma])
    if ry > 0:
        t = F.gaussian_blur(t, kernel_size=[1, 2 * ry + 1], sigma=[sigma, sigma])
    out = t.squeeze(1).round().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return _from_array(np.asarray(out))


# --- hand-written ops --------------------------------------------------------------
# No maintained library offers these with a seed we control and integer-exact
# arithmetic, so they are written here in numpy integer math.


def _gaussian_noise(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Additive, per-channel sensor noise.

    Hand-written: torchvision.transforms.v2.functional.gaussian_noise draws from
    torch's global RNG (no generator argument), and torch's vectorised normal
    sampler gives other bytes on other CPU instruction sets (measured: seeded
    torch.randn differs under ATEN_CPU_CAPABILITY=default), so it is neither
    seedable per image nor bit-stable.  Here each sample is a sum of 12 uniform bytes from SHAKE-256
    (Irwin-Hall: distribution function within 0.25% of a Gaussian, none beyond 6 sigma), scaled in
    24-bit fixed point -- integer arithmetic only.
    """
    import numpy as np

    sigma = p["sigma"]
    arr = _to_array(img)
    if sigma == 0:
        return img.copy()
    n = arr.size
    raw = np.frombuffer(_random_bytes(op_seed, b"gaussian_noise", 12 * n), dtype=np.uint8)
    # sample i sums bytes i, n + i, 2n + i, ...: 12 vectorised adds
    z = raw.reshape(12, n).sum(axis=0, dtype=np.int64) - 1530  # mean 0, variance 65535
    scale = round(sigma * 255.0 * (1 << 24) / math.sqrt(65535.0))  # grey levels per unit of z, 2**-24
    out = (arr.reshape(-1).astype(np.int64) << 24) + z * scale + (1 << 23)
    out = np.clip(out >> 24, 0, 255).astype(np.uint8)
    return _from_array(out.reshape(arr.shape))


def _grid_shape(patches: int, width: int, height: int) -> tuple[int, int]:
    """rows x cols == patches, as square as possible, more cells along the longer side."""
    best = (1, patches)
    for r in range(1, int(math.isqrt(patches)) + 1):
        if patches % r == 0:
            best = (r, patches // r)
    rows, cols = best
    return (cols, rows) if height > width else (rows, cols)


def _patch_size(cw: int, ch: int, area: float) -> tuple[int, int]:
    """Width and height of a patch covering ``area`` of a cw x ch cell: the most
    cell-shaped rectangle within 1% of the target pixel count, else the closest."""
    target = math.floor(area * cw * ch + 0.5)
    if target <= 0 or cw <= 0 or ch <= 0:
        return 0, 0
    candidates = []
    for pw in range(1, cw + 1):
        for ph in {math.floor(target / pw), math.ceil(target / pw)}:
            if 1 <= ph <= ch:
                candidates.append((abs(pw * ph - target), abs(pw * ch - ph * cw), pw, ph))
    if not candidates:
        return 0, 0
    close = [c for c in candidates if c[0] <= target // 100]
    err, _, pw, ph = min(close, key=lambda c: (c[1], c[2])) if close else min(candidates)
    return pw, ph


def _occlusion(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Rectangular occluders (stickers, snow, a hand) covering ``area`` of the image.

    Hand-written (torchvision's erase() only paints a rectangle you place):
    the image is split into a grid of ``patches`` equal cells and each cell gets
    one rectangle of ``area`` of the cell, with the cell's aspect ratio, at a
    seeded random position inside it.  So patches never overlap and together
    cover ``area`` of the image to within 1% (_patch_size trades that for cell-shaped patches).
    """
    arr = _to_array(img).copy()
    h, w = arr.shape[:2]
    area, patches, fill = p["area"], p["patches"], p["fill"]
    rows, cols = _grid_shape(patches, w, h)
    rnd = _random_bytes(op_seed, b"occlusion", 8 * rows * cols)
    for r in range(rows):
        y0, y1 = r * h // rows, (r + 1) * h // rows
        for c in range(cols):
            x0, x1 = c * w // cols, (c + 1) * w // cols
            pw, ph = _patch_size(x1 - x0, y1 - y0, area)
            if pw <= 0 or ph <= 0:
                continue
            cw, ch = x1 - x0, y1 - y0
            i = 8 * (r * cols + c)
            px = x0 + int.from_bytes(rnd[i : i + 4], "big") % (cw - pw + 1)
            py = y0 + int.from_bytes(rnd[i + 4 : i + 8], "big") % (ch - ph + 1)
            arr[py : py + ph, px : px + pw] = fill
    return _from_array(arr)


def _upsample_rows(grid: Any, n: int) -> Any:
    """Integer linear interpolation of grid's rows (axis 0) to n rows, scaled by 256."""
    import numpy as np

    g = grid.shape[0]
    i = np.arange(n, dtype=np.int64)
    pos = (i * (g - 1) * 256) // max(n - 1, 1)
    i0 = pos >> 8
    frac = (pos & 255)[:, None]
    i1 = np.minimum(i0 + 1, g - 1)
    return grid[i0] * (256 - frac) + grid[i1] * frac


def _fog(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Fog / haze: blend toward a fog colour with a patchy, fractal density.

    Hand-written (ImageNet-C's fog uses a plasma fractal; no maintained library
    provides one): value noise at 5 octaves (2 to 17 grid points across the
    image), bilinearly upsampled and normalised in integer arithmetic.  The
    local fog share is density * (1 + patchiness * (2n - 1)) for n in [0, 1],
    so its mean is about ``density``.
    """
    import numpy as np

    arr = _to_array(img)
    h, w = arr.shape[:2]
    density, patchiness, color = p["density"], p["patchiness"], p["color"]
    field_ = np.zeros((h, w), dtype=np.int64)
    for octave in range(5):
        g = (1 << (octave + 1)) + 1
        raw = _random_bytes(op_seed, b"fog%d" % octave, g * g)
        grid = np.frombuffer(raw, dtype=np.uint8).astype(np.int64).reshape(g, g)
        up = _upsample_rows(_upsample_rows(grid, h).T, w).T  # (h, w), scaled by 256*256
        field_ += up << (4 - octave)  # amplitude halves per octave
    lo, hi = int(field_.min()), int(field_.max())
    one = 4096
    noise = (field_ - lo) * one // (hi - lo) if hi > lo else np.full((h, w), one // 2, dtype=np.int64)
    d = math.floor(density * one + 0.5)
    pt = math.floor(patchiness * one + 0.5)
    share = d * (one + pt * (2 * noise - one) // one) // one
    share = np.clip(share, 0, one)[:, :, None]
    col = np.array(color, dtype=np.int64)[None, None, :]
    out = (arr.astype(np.int64) * (one - share) + col * share + one // 2) >> 12
    return _from_array(np.clip(out, 0, 255))


def _motion_kernel(length: float, angle: float) -> list[tuple[int, int, int]]:
    """Integer taps (dy, dx, weight) of a straight streak ``length`` pixels long.

    Hand-written (no maintained library offers a motion-blur kernel): the
    segment is sampled at 8 points per pixel, each sample split bilinearly over
    its 4 nearest pixels, and the weights quantised to integers (2**16 total).
    Float rounding differences below 2**-16 cannot change the integer taps
    except at an exact tie.
    """
    th = math.radians(angle)
    dx, dy = math.cos(th), -math.sin(th)  # image y points down; angles counter-clockwise
    n = max(1, math.ceil(8 * length))
    acc: dict[tuple[int, int], float] = {}
    for i in range(n):
        s = ((i + 0.5) / n - 0.5) * length
        x, y = s * dx, s * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for oy, wy in ((0, 1.0 - fy), (1, fy)):
            for ox, wx in ((0, 1.0 - fx), (1, fx)):
                if wx * wy > 0:
                    key = (y0 + oy, x0 + ox)
                    acc[key] = acc.get(key, 0.0) + wx * wy
    total = sum(acc.values())
    taps = [(ky, kx, math.floor(v / total * 65536 + 0.5)) for (ky, kx), v in sorted(acc.items())]
    return [t for t in taps if t[2] > 0]


def _motion_blur(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    """Camera shake / a moving object: convolution with a streak (integer arithmetic)."""
    import numpy as np

    arr = _to_array(img)
    h, w = arr.shape[:2]
    taps = _motion_kernel(p["length"], p["angle"])
    r = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    padded = np.pad(arr.astype(np.int64), ((r, r), (r, r), (0, 0)), mode="edge")
    acc = np.zeros(arr.shape, dtype=np.int64)
    total = 0
    for dy, dx, wt in taps:
        acc += wt * padded[r + dy : r + dy + h, r + dx : r + dx + w]
        total += wt
    return _from_array((acc + total // 2) // total)


# ------------------------------------------------------------------- the registry


def _rgb(name: str, default: tuple[int, int, int], meaning: str) -> Param:
    return Param(name, "rgb", "RGB colour, 0-255 per channel", meaning, default=default)


_SPECS = [
    OpSpec(
        "brightness",
        "low light / underexposure (values below 1), overexposure (above 1)",
        (
            Param("brightness", "float", "fraction of the original brightness",
                  "every pixel value is multiplied by this; 0.3 = 30% of the light", None, 0, 10),
        ),
        "brightness",
        {"brightness": [0.6, 0.3, 0.1]},
        "torchvision.transforms.v2.functional.adjust_brightness (Pillow kernel)",
        _brightness,
    ),
    OpSpec(
        "contrast",
        "low contrast: haze, glare, a washed-out or flat-lit scene",
        (
            Param("contrast", "float", "fraction of the original contrast",
                  "pixels are blended toward the image's mean grey; 0.3 keeps 30% of the contrast", None, 0, 10),
        ),
        "contrast",
        {"contrast": [0.5, 0.3, 0.1]},
        "torchvision.transforms.v2.functional.adjust_contrast (Pillow kernel)",
        _contrast,
    ),
    OpSpec(
        "fog",
        "fog, mist, haze: brighter, lower contrast, patchy",
        (
            Param("density", "float", "share of the view hidden by fog, on average",
                  "mean share of the fog colour mixed into each pixel", None, 0, 1),
            Param("patchiness", "float", "0 = uniform haze, 1 = very patchy",
                  "how much the fog density varies across the image", 0.5, 0, 1),
            _rgb("color", (220, 220, 220), "colour of the fog"),
        ),
        "density",
        {"density": [0.3, 0.5, 0.7]},
        "hand-written (fractal value noise, integer arithmetic)",
        _fog,
    ),
    OpSpec(
        "gaussian_blur",
        "out of focus, dirty lens",
        (
            Param("sigma", "float", "pixels of the input image",
                  "standard deviation of the Gaussian blur kernel", None, 0, 50, low_open=True),
        ),
        "sigma",
        {"sigma": [1, 2, 4]},
        "torchvision.transforms.v2.functional.gaussian_blur (float64, kernel +-3 sigma)",
        _gaussian_blur,
    ),
    OpSpec(
        "motion_blur",
        "camera shake, a moving object or vehicle, long exposure",
        (
            Param("length", "float", "pixels of the input image",
                  "length of the streak a point is smeared into", None, 0, 100, low_open=True),
            Param("angle", "float", "degrees, counter-clockwise, 0 = horizontal",
                  "direction of the motion", 0.0, -180, 180),
        ),
        "length",
        {"length": [3, 6, 12]},
        "hand-written (streak kernel, integer convolution)",
        _motion_blur,
    ),
    OpSpec(
        "gaussian_noise",
        "sensor noise: low light with high ISO, cheap cameras",
        (
            Param("sigma", "float", "fraction of the full 0-255 range",
                  "standard deviation of the additive noise; 0.05 = about 13 grey levels", None, 0, 1),
        ),
        "sigma",
        {"sigma": [0.05, 0.1, 0.2]},
        "hand-written (seeded SHAKE-256 stream, integer arithmetic)",
        _gaussian_noise,
    ),
    OpSpec(
        "occlusion",
        "partial occlusion: stickers, snow, dirt, a hand or another object in front",
        (
            Param("area", "float", "share of the image area",
                  "total share of the image covered by the patches", None, 0, 1),
            Param("patches", "int", "count",
                  "number of rectangular patches (the image is split into this many cells, one patch each)",
                  1, 1, 100),
            _rgb("fill", (0, 0, 0), "colour of the patches"),
        ),
        "area",
        {"area": [0.1, 0.2, 0.3]},
        "hand-written (seeded patch placement)",
        _occlusion,
    ),
    OpSpec(
        "rotation",
        "a tilted camera or object (roll)",
        (
            Param("angle", "float", "degrees, counter-clockwise",
                  "rotation about the image centre; corners outside the original are filled", None, -180, 180),
            _rgb("fill", (0, 0, 0), "colour of the uncovered corners"),
        ),
        "angle",
        {"angle": [15, 45, 90]},
        "torchvision.transforms.v2.functional.rotate (Pillow kernel, bilinear)",
        _rotation,
    ),
    OpSpec(
        "perspective",
        "an unusual viewing angle: the object seen obliquely, from the side, above or below",
        (
            Param("tilt", "float", "degrees",
                  "how far the picture plane is turned away from facing the camera", None, -80, 80),
            Param("axis", "choice", "vertical: turned left/right (positive: right side away); "
                  "horizontal: up/down (positive: top away)",
                  "the axis the picture turns about", "vertical", choices=("vertical", "horizontal")),
            _rgb("fill", (0, 0, 0), "colour of the area outside the turned picture"),
        ),
        "tilt",
        {"tilt": [30, 50, 70]},
        "torchvision.transforms.v2.functional.perspective (Pillow kernel, bilinear; "
        "coefficients from a pinhole camera model, the picture spanning 30 degrees)",
        _perspective,
    ),
    OpSpec(
        "jpeg",
        "compression artefacts: messaging apps, web images, low-bandwidth cameras",
        (
            Param("quality", "int", "JPEG quality, 100 = best", "JPEG encoder quality setting", None, 1, 100),
        ),
        "quality",
        {"quality": [50, 20, 5]},
        "torchvision.transforms.v2.functional.jpeg (Pillow / libjpeg-turbo)",
        _jpeg,
    ),
    OpSpec(
        "downscale",
        "a small or distant object: few pixels on target, scaled back up",
        (
            Param("scale", "float", "fraction of the original width and height",
                  "the image is shrunk to this fraction of its size, then resized back", None, 0, 1,
                  low_open=True),
            Param("upsample", "choice", "resampling used to scale back up",
                  "bilinear looks soft, nearest blocky (pixelated)", "bilinear",
                  choices=("bilinear", "nearest", "bicubic")),
        ),
        "scale",
        {"scale": [0.5, 0.25, 0.125]},
        "torchvision.transforms.v2.functional.resize, twice (Pillow kernel, antialiased)",
        _downscale,
    ),
]

#: The op registry: name -> :class:`OpSpec` (read-only).
OPS: Mapping[str, OpSpec] = MappingProxyType({s.name: s for s in _SPECS})
