"""Model sources, weights and the model fingerprint: building the model a suite declares (imports torch).

Imported only once a model must be built (see infer.py), so a rerun that finds every prediction
in the cache, and every ordinary pytest run, never imports torch. torchvision is imported only
for a torchvision architecture.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import EdgecasesError, did_you_mean
from ..suite import ModelSpec, Suite
from ..yamlload import plain


def import_callable(target: str, suite_dir: Path, what: str, display: str, line: int | None) -> Callable[..., Any]:
    """Import ``module:attr`` with the suite's folder importable, as a conftest.py's folder would be."""
    module_name, _, attr = target.partition(":")
    if str(suite_dir) not in sys.path:
        sys.path.insert(0, str(suite_dir))
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as exc:
        raise EdgecasesError(f"{what} '{target}': cannot import {module_name} ({exc})", display, line,
                             hint="the module must be importable from the suite file's folder or sys.path") from None
    except AttributeError:
        raise EdgecasesError(f"{what} '{target}': {module_name} has no attribute '{attr}'", display, line) from None
    if not callable(obj):
        raise EdgecasesError(f"{what} '{target}' is not callable", display, line)
    return obj


def load_model(suite: Suite, device: torch.device,
               from_hook: Callable[[Suite, torch.device], Any] | None = None) -> torch.nn.Module:
    """Build the model from the conftest hook or the suite's model: section, in eval mode on ``device``."""
    try:
        model = from_hook(suite, device) if from_hook else None
    except EdgecasesError:
        raise
    except Exception as exc:  # user code in conftest.py: say what it raised, in one line
        raise EdgecasesError(f"pytest_edgecases_load_model raised {type(exc).__name__}: {exc}", suite.display,
                             hint="the hook is implemented in a conftest.py") from None
    except SystemExit as exc:  # argparse in a training script's loader: it must not end the pytest run
        raise EdgecasesError(f"pytest_edgecases_load_model called sys.exit({exc.code!r})", suite.display,
                             hint="the hook must return the model, not parse the command line") from None
    if model is None:
        if suite.model is None:
            raise EdgecasesError("the suite declares no model:", suite.display, 1,
                                 hint="add model: {factory: pkg.module:build} or implement "
                                      "pytest_edgecases_load_model in conftest.py")
        model = _build(suite, suite.model)
    if not isinstance(model, torch.nn.Module):
        raise EdgecasesError(f"the model is a {type(model).__name__}, not a torch.nn.Module", suite.display,
                             suite.model.line if suite.model else None)
    if any(torch.nn.parameter.is_lazy(t) for t in (*model.parameters(), *model.buffers())):
        # Uninitialised parameters have no values to fingerprint (the cache key) or to move to the device.
        raise EdgecasesError("the model has uninitialised parameters (torch.nn.Lazy* modules)", suite.display,
                             suite.model.line if suite.model else None,
                             hint="run one dummy batch through the model where it is built")
    return model.eval().to(device)


def _factory(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """``model: {factory: pkg.module:build}``: the user's function, called with the suite's args."""
    return import_callable(spec.target, suite.dir, "model.factory", suite.display, spec.line)(**args)


def _torchvision(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """``model: {torchvision: resnet18}``: an architecture by name, never with downloaded weights."""
    import torchvision  # as long again to import as torch: only for a torchvision model

    if "weights" in args:
        raise EdgecasesError("model.args.weights would download pretrained weights; this plugin never "
                             "downloads", suite.display, spec.line, hint="save them once and give model.weights: FILE")
    names = torchvision.models.list_models()
    if spec.target not in names:
        raise EdgecasesError(f"'{spec.target}' is not a torchvision model{did_you_mean(spec.target, names)}",
                             suite.display, spec.line)
    return torchvision.models.get_model(spec.target, weights=None, **args)


def _torchscript(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """``model: {torchscript: model.pt}``: code and weights in one archive."""
    return torch.jit.load(str(spec.weights), map_location="cpu")


@dataclass(frozen=True)
class Source:
    """One kind of ``model:`` section: how it is built, and whether ``weights:`` is a state dict to load into it."""

    build: Callable[[Suite, ModelSpec, dict[str, Any]], torch.nn.Module]
    state_dict: bool = True   # False: build reads model.weights itself (a TorchScript archive)


#: The model sources, by the suite's ``model:`` kind. A new source (timm, Hugging Face, ONNX, torch.export)
#: is a builder here, a kind in suite.py, and, where files alone determine the model, a line in recipe.py.
SOURCES: dict[str, Source] = {
    "factory": Source(_factory),
    "torchvision": Source(_torchvision),
    "torchscript": Source(_torchscript, state_dict=False),
}


def _build(suite: Suite, spec: ModelSpec) -> torch.nn.Module:
    where = (suite.display, spec.line)
    source = SOURCES[spec.kind]
    args = plain(spec.kwargs)   # fresh dicts and lists: a factory cannot change the parsed suite
    try:
        model = source.build(suite, spec, args)
    except EdgecasesError:
        raise
    except Exception as exc:  # user code: whatever it raises, say so in one line
        raise EdgecasesError(f"building the model failed: {type(exc).__name__}: {exc}", *where) from None
    except SystemExit as exc:  # argparse in a training script's build(): it must not end the pytest run
        raise EdgecasesError(f"building the model called sys.exit({exc.code!r})", *where,
                             hint="the factory must return the model, not parse the command line") from None
    if spec.weights is not None and source.state_dict:
        state = load_weights(spec.weights, spec.weights_display or str(spec.weights))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise EdgecasesError(f"weights '{spec.weights_display}' do not fit the model: "
                                 f"{' '.join(first[:3])[:400]}", *where,
                                 hint="the architecture and the checkpoint must match key for key") from None
    return model


def load_weights(path: Path, display: str) -> dict[str, torch.Tensor]:
    """Load a state dict safely: safetensors, or torch.load(weights_only=True) and nothing less."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:
            raise EdgecasesError(f"cannot read safetensors weights: {exc}", display) from None
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "").strip().lower() not in ("", "0", "false"):
        raise EdgecasesError("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it would make torch.load unpickle "
                             "arbitrary code, so .pt weights are refused", display,
                             hint="unset it, or convert the weights to .safetensors")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        # Never retried with weights_only=False: a checkpoint that needs it could run code.
        raise EdgecasesError(f"refused to load '{display}' with weights_only=True: "
                             f"{str(exc).splitlines()[0][:300]}", display,
                             hint="save a plain state_dict (torch.save(model.state_dict(), f)) "
                                  "or .safetensors") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EdgecasesError(f"'{display}' is not a state dict (name -> tensor)", display)
    return state


#: Packages whose code changes only with their versions, which the cache key holds already.
_VERSIONED_PACKAGES = ("torch", "torchvision", "builtins")


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of the model's code, structure and every parameter and buffer: what the cache is keyed on.

    The code is the source of each file that defines a class of the model, of its submodules
    or of their base classes, so that an edited forward, helper function or parent class is
    noticed; a TorchScript model contributes its compiled code. The structure is each submodule's
    class and plain settings (an activation chosen by a factory argument, a BatchNorm's eps, a
    temperature): values no state dict holds.
    """
    h = hashlib.sha256()
    cls = type(model)
    h.update(f"{cls.__module__}.{cls.__qualname__}".encode())
    for name, sub in model.named_modules():
        h.update(f"\n{name}={type(sub).__module__}.{type(sub).__qualname__}({_settings(sub)})".encode())
    files: set[str] = set()
    for sub in model.modules():
        try:
            code = getattr(sub, "code", None)  # TorchScript: the compiled code is part of the model
        except Exception:  # a script module without forward has no code to show
            code = None
        if isinstance(code, str):
            h.update(code.encode())
        files.update(k.__module__ for k in type(sub).__mro__
                     if k.__module__.partition(".")[0] not in _VERSIONED_PACKAGES)
    for name in sorted(files):
        try:
            h.update(inspect.getsource(sys.modules[name]).encode())
        except (KeyError, OSError, TypeError):
            h.update(repr(model).encode())  # no source to read (a notebook, exec'd code): the structure
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{tuple(tensor.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


_PLAIN = (bool, int, float, str, type(None))


def _settings(module: torch.nn.Module) -> str:
    """A module's plain-valued attributes, sorted: the settings a state dict does not hold."""
    try:
        items = sorted(vars(module).items())
    except TypeError:
        return ""
    return ",".join(f"{key}={value!r}" for key, value in items
                    if not key.startswith("_") and key != "training"
                    and (isinstance(value, _PLAIN) or (isinstance(value, tuple)
                                                       and all(isinstance(v, _PLAIN) for v in value))))
