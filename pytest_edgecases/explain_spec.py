"""What saliency a run asks for: the methods, the suite's ``explain:`` section, the command-line option.

Pure (no torch, no Captum): suites are parsed at collection time, and an option is checked when pytest
is configured. inference/explain.py computes the maps; this module only says which and how.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .validate import Context, kind_of, suggest
from .yamlload import LocDict

#: The extra that installs Captum, as errors name it.
EXTRA = "pip install 'pytest-edgecases[explain]'"
#: The keys of a suite's ``explain:`` section (the suite schema lists the same).
EXPLAIN_KEYS = ("method", "layer")
#: What the option's bare form, ``on`` or ``auto`` mean: the suite's method, else gradcam where the
#: model has a Conv2d, else occlusion.
AUTO = "auto"
#: The option's words for "no saliency".
OFF = ("", "off", "none", "false", "no")


class Method(str, Enum):
    """An attribution method, by its Captum name."""

    GRADCAM = "gradcam"                              # captum LayerGradCam on a Conv2d: needs gradients
    INTEGRATED_GRADIENTS = "integrated_gradients"    # captum IntegratedGradients: needs gradients
    OCCLUSION = "occlusion"                          # captum Occlusion: forward passes only, any model

    def __str__(self) -> str:
        return self.value

    @property
    def needs_gradients(self) -> bool:
        """Whether the method differentiates the model (an ONNX or exported model cannot be)."""
        return self is not Method.OCCLUSION


METHODS = tuple(m.value for m in Method)


@dataclass(frozen=True)
class ExplainSpec:
    """A suite's ``explain:`` section: a method (None: chosen from the model) and a gradcam layer."""

    method: Method | None = None
    layer: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Request:
    """What a run explains a suite with: the option's method or the suite's, and the suite's layer."""

    method: Method | None          # None: gradcam where the model has a Conv2d, else occlusion
    layer: str | None
    line: int = 0                  # the suite's explain: line, for errors about the layer (0: the option)


def parse_option(value: Any) -> str | None:
    """--edgecases-explain's value: None (off), AUTO, or a method's name; raises ValueError naming the choices."""
    word = str(value if value is not None else "").strip().lower()
    if word in OFF:
        return None
    if word in ("on", "true", "yes", AUTO):
        return AUTO
    if word in METHODS:
        return word
    raise ValueError(f"must be {', '.join(METHODS)} (or on, off), got {value!r}{suggest(word, METHODS)}")


def parse_explain(ctx: Context, raw: Any, line: int) -> ExplainSpec:
    """A suite's ``explain:``: a method's name, or a mapping with ``method:`` and ``layer:``."""
    if isinstance(raw, str) or raw is True:   # `explain: occlusion`, `explain: true`: the method alone
        raw = _mapping({"method": raw} if isinstance(raw, str) else {}, line)
    section = ctx.mapping(raw, line, "explain")
    ctx.check_keys(section, EXPLAIN_KEYS, "explain")
    method = None
    if section.get("method") is not None and section["method"] != AUTO:
        word = section["method"]
        if word not in METHODS:
            got = repr(word) if isinstance(word, str) else kind_of(word)
            raise ctx.error(f"explain.method must be {', '.join(METHODS)}, got {got}"
                            f"{suggest(str(word), METHODS)}", section.line_of("method"))
        method = Method(word)
    layer = section.get("layer")
    if layer is not None and (not isinstance(layer, str) or not layer.strip()):
        raise ctx.error(f"explain.layer must be a module's name (model.named_modules()), got {kind_of(layer)}",
                        section.line_of("layer"), hint="e.g. layer: features.3.0")
    if layer is not None and method not in (None, Method.GRADCAM):
        raise ctx.error(f"explain.layer is for gradcam; {method} attributes to the input pixels",
                        section.line_of("layer"), hint="remove layer:, or use method: gradcam")
    return ExplainSpec(method=method, layer=layer.strip() if layer else None, line=line)


def request(option: str | None, spec: ExplainSpec | None) -> Request | None:
    """What a suite is explained with: None when neither the option nor the suite asks for saliency.

    The option's method, when it names one, wins over the suite's (a run can try another method without
    editing the suite); the suite's layer still applies to gradcam.
    """
    if option is None and spec is None:
        return None
    method = Method(option) if option not in (None, AUTO) else (spec.method if spec else None)
    layer = spec.layer if spec is not None and method in (None, Method.GRADCAM) else None
    return Request(method=method, layer=layer, line=spec.line if spec else 0)


def _mapping(values: dict[str, Any], line: int) -> LocDict:
    """A mapping written on one line, as the YAML loader would have made it."""
    out = LocDict(values)
    out.line = line
    out.key_lines = dict.fromkeys(values, line)
    return out


def captum_missing() -> bool:
    """True when Captum cannot be imported (checked without importing it, nor torch)."""
    if "captum" in sys.modules:
        return sys.modules["captum"] is None
    try:
        return importlib.util.find_spec("captum") is None
    except (ImportError, ValueError):
        return True
