"""What an op is (:class:`OpSpec`, its :class:`Param` s) and the registry kernels add themselves to.

A kernel declares its op where it is written::

    @register_kernel("jpeg", simulates="...", params=(Param(...),), primary="quality",
                     examples={"quality": [50, 20, 5]}, implementation="...")
    def jpeg(img, p, op_seed): ...

so the parameters, ranges and level names of an op sit beside the code that uses them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Sequence

#: Bumped whenever an op's output for the same parameters and seed changes.
#: It is part of :attr:`Level.key`, so cached predictions of synthetic images
#: made by an older implementation are never reused.
IMPLEMENTATION_VERSION = 1


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
        lo, hi = fmt_number(self.low), fmt_number(self.high)
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


#: A kernel: (RGB PIL image, resolved parameters, this op's 32-byte seed) -> PIL image of the same size.
Kernel = Callable[[Any, dict[str, Any], bytes], Any]

_REGISTRY: dict[str, OpSpec] = {}
#: The op registry: name -> :class:`OpSpec` (read-only), in the order the kernels registered.
OPS: Mapping[str, OpSpec] = MappingProxyType(_REGISTRY)


def register_kernel(name: str, *, simulates: str, params: Sequence[Param], primary: str,
                    examples: Mapping[str, Any], implementation: str) -> Callable[[Kernel], Kernel]:
    """Register the decorated function as the kernel of op ``name``, with its spec."""

    def decorator(func: Kernel) -> Kernel:
        if name in _REGISTRY:
            raise ValueError(f"transform op {name!r} is registered twice")
        _REGISTRY[name] = OpSpec(name, simulates, tuple(params), primary, examples, implementation, func)
        return func

    return decorator


def rgb_param(name: str, default: tuple[int, int, int], meaning: str) -> Param:
    """A colour parameter; every colour is written and checked the same way."""
    return Param(name, "rgb", "RGB colour, 0-255 per channel", meaning, default=default)


def fmt_number(v: Any) -> str:
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
