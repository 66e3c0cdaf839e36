"""The ``transform:`` grammar: a parsed YAML value, checked against the registered ops, as levels.

:func:`expand` validates the value and turns it into a list of :class:`Level` objects (one pytest item
each: ``blur[sigma=1]``, ...). A bad value raises :class:`TransformError` with the key path of the
offending value, which the suite turns into a file:line.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..validate import suggest, value_text
from ._registry import IMPLEMENTATION_VERSION, OPS, OpSpec, Param, fmt_number


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


def _fmt_value(param: Param, v: Any) -> str:
    if param.kind == "rgb":
        return "#%02x%02x%02x" % tuple(v)
    return fmt_number(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def op_listing() -> str:
    """The registered ops, for messages that must say what is valid."""
    return "valid transforms: " + ", ".join(OPS)


def _param_listing(spec: OpSpec) -> str:
    return f"valid parameters of {spec.name}: " + "; ".join(p.describe() for p in spec.params)


def _check_value(spec: OpSpec, param: Param, v: Any, path: tuple[str | int, ...]) -> Any:
    """Validate one (non-level-list) value; return its normalised form."""
    where = f"{spec.name}.{param.name}"
    expect = f"{param.valid} ({param.unit})"

    if param.kind == "choice":
        if isinstance(v, str) and v in param.choices:
            return v
        hint = suggest(v, param.choices) if isinstance(v, str) else ""
        raise TransformError(f"{where} must be {expect}, got {value_text(v)}{hint}", path)

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
        raise TransformError(f"{where} must be {param.valid}, got {value_text(v)}{hint}", path)

    # numbers
    if not _is_number(v):
        hint = ""
        if isinstance(v, str):
            try:
                float(v)
                hint = " (PyYAML reads a number like 1e-3 as a string: write 0.001 or 1.0e-3)"
            except ValueError:
                pass
        raise TransformError(f"{where} must be {expect}, got {value_text(v)}{hint}", path)
    if isinstance(v, float) and not math.isfinite(v):
        raise TransformError(f"{where} must be {expect}, got {v!r}", path)
    if param.kind == "int":
        if isinstance(v, float):
            if not v.is_integer():
                raise TransformError(f"{where} must be {expect}, got {fmt_number(v)}", path)
            v = int(v)
    else:
        v = float(v)
    lo_bad = param.low is not None and (v <= param.low if param.low_open else v < param.low)
    hi_bad = param.high is not None and (v >= param.high if param.high_open else v > param.high)
    if lo_bad or hi_bad:
        raise TransformError(f"{where} must be {expect}, got {fmt_number(v)}", path)
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
            f"each transform must be a mapping {{op: parameters}} like {example}, got {value_text(item)}; "
            + op_listing(),
            path,
        )
    if len(item) != 1:
        keys = ", ".join(str(k) for k in item) or "none"
        raise TransformError(
            f"a transform mapping must have exactly one key, the op name (got {len(item)}: {keys}); "
            "to combine ops write a list, applied in order: [{brightness: 0.3}, {gaussian_noise: 0.05}]; "
            + op_listing(),
            path,
        )
    ((name, raw_params),) = item.items()
    if not isinstance(name, str) or name not in OPS:
        raise TransformError(
            f"unknown transform {str(name)!r}{suggest(str(name), list(OPS))} ({op_listing()})",
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
                f"{name} has no parameter {str(key)!r}{suggest(str(key), names)} ({_param_listing(spec)})",
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
    return fmt_number(v)


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
            "transform is empty; write e.g. {gaussian_blur: {sigma: [1, 2, 4]}} (" + op_listing() + ")", ()
        )
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise TransformError(
                "transform is an empty list; a composition needs at least one op, "
                "e.g. [{brightness: 0.3}, {gaussian_noise: 0.05}] (" + op_listing() + ")",
                (),
            )
        steps = [_parse_step(item, (i,)) for i, item in enumerate(raw)]
    elif isinstance(raw, Mapping):
        steps = [_parse_step(raw, ())]
    else:
        raise TransformError(
            f"transform must be a mapping {{op: parameters}} or a list of them, got {value_text(raw)} "
            "(" + op_listing() + ")",
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
            f"{label}={_fmt_value(p, values[i])}" for label, (_, p, values, _) in zip(labels, listed, strict=True)
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
