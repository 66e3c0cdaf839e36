"""Model sources and the model fingerprint: building the model a suite declares (imports torch).

Imported only once a model must be built (see infer.py), so a rerun that finds every prediction
in the cache, and every ordinary pytest run, never imports torch. torchvision, timm, transformers
and onnxruntime are imported only for a model of theirs (sources/ holds those builders).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import EdgecasesError, did_you_mean
from ..suite import ModelSpec, Suite
from ..yamlload import plain
from . import keys, recipe
from .sources import OwnPreprocess, exported, huggingface, onnx_model, timm_model
from .weights import load_into, load_weights

__all__ = ["SOURCES", "Built", "Source", "build", "import_callable", "load_model", "load_weights",
           "model_fingerprint"]


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


@dataclass(frozen=True)
class Built:
    """A built model, what it is (its fingerprint), and its own preprocessing where its source has one."""

    model: torch.nn.Module
    fingerprint: str
    own: OwnPreprocess | None = None


def build(suite: Suite, device: torch.device, from_hook: Callable[[Suite, torch.device], Any] | None = None,
          preprocess: Callable[[OwnPreprocess | None], str] | None = None) -> Built:
    """The model (load_model), its own preprocessing, and its fingerprint.

    A model whose source files determine it (SOURCES' ``by_files``) is fingerprinted by those files'
    bytes and the preprocessing resolved for it (``preprocess(own)`` says which, in words); any
    other by its code, structure and tensors.
    """
    answered: list[bool] = []   # whether the hook supplied the model (None from it means "not mine")

    def hook(s: Suite, d: torch.device) -> Any:
        model = from_hook(s, d) if from_hook else None
        answered.append(model is not None)
        return model

    model = load_model(suite, device, hook if from_hook else None)
    spec = suite.model
    if spec is None or any(answered):   # the conftest hook's model: its code and tensors say what it is
        return Built(model, model_fingerprint(model))
    source = SOURCES[spec.kind]
    own = source.preprocessing(suite, spec, model) if source.preprocessing else None
    if source.by_files:
        described = preprocess(own) if preprocess else (own.description if own else "")
        return Built(model, files_fingerprint(suite, spec, described), own)
    return Built(model, model_fingerprint(model), own)


def files_fingerprint(suite: Suite, spec: ModelSpec, preprocess: str) -> str:
    """The model's files (names in the project and bytes), its source, args, and resolved preprocessing."""
    parts = [spec.kind, spec.target, repr(spec.args), preprocess]
    for entry in spec.files:
        found = recipe.source_files(entry) or []
        for file in found:
            h = hashlib.sha256()
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            parts.append(f"{file.relative_to(suite.root).as_posix()}={h.hexdigest()}")
    return keys.digest(*parts)


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
    #: The model's own preprocessing (used unless the suite declares preprocess:), for sources that have one.
    preprocessing: Callable[[Suite, ModelSpec, torch.nn.Module], OwnPreprocess] | None = None
    #: Fingerprinted by its files' bytes (an archive or a saved folder holds all of the model) rather than
    #: by its code and tensors: cheaper, and possible for an ONNX file, whose tensors torch never sees.
    by_files: bool = False


#: The model sources, by the suite's ``model:`` kind. A new source is a builder here (sources/ holds
#: those of other libraries), a kind in model_spec.py, and, where files alone determine the model, a
#: line in recipe.py.
SOURCES: dict[str, Source] = {
    "factory": Source(_factory),
    "torchvision": Source(_torchvision),
    "torchscript": Source(_torchscript, state_dict=False),
    "timm": Source(timm_model.build, preprocessing=timm_model.preprocessing, by_files=True),
    "huggingface": Source(huggingface.build, state_dict=False, preprocessing=huggingface.preprocessing,
                          by_files=True),
    "exported": Source(exported.build, state_dict=False, by_files=True),
    "onnx": Source(onnx_model.build, state_dict=False, by_files=True),
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
        display = spec.weights_display or str(spec.weights)
        load_into(model, load_weights(spec.weights, display), display, *where)
    return model


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
