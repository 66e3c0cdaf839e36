"""Model loading and batched inference: the only module that imports torch.

The plugin imports this module only when ``--edgecases`` is given, so having the plugin
installed costs ordinary pytest runs nothing. It does not import torchvision unless the model
is a torchvision architecture: preprocessing follows torchvision's rules for PIL images with
Pillow itself, which saves importing torchvision (as long again as importing torch) for every
other model.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import hashlib
import importlib
import inspect
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from .errors import EdgecasesError, did_you_mean
from .images import ImageError, decode_rgb, read_bytes
from .records import Prediction
from .suite import ModelSpec, Preprocess, Suite

TOP_K = 5
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Job:
    """One image (and optional synthetic transform) to infer, under its cache key."""

    key: str
    file: Path
    transform: Any = None      # transforms.Level or None
    seed: int = 0
    sha256: str = ""           # the bytes the key was made from; other bytes are refused, never cached


def resolve_device(requested: str) -> torch.device:
    """Turn --edgecases-device into a torch.device; `auto` prefers cuda, then mps, then cpu."""
    requested = (requested or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "mps":
        if not mps_ok:
            raise EdgecasesError("--edgecases-device=mps, but MPS is not available on this machine",
                                 hint="use --edgecases-device=auto to pick the best available device")
        return torch.device("mps")
    if requested == "cuda" or requested.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise EdgecasesError(f"--edgecases-device={requested}, but CUDA is not available on this machine",
                                 hint="use --edgecases-device=auto (or cpu) where there is no GPU")
        index = requested.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise EdgecasesError(f"--edgecases-device={requested}: this machine has "
                                     f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device(requested)
    raise EdgecasesError(f"--edgecases-device={requested} is not a device",
                         hint="use auto, cpu, cuda, cuda:N or mps")


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


def _build(suite: Suite, spec: ModelSpec) -> torch.nn.Module:
    where = (suite.display, spec.line)
    args = {k: _unfreeze(v) for k, v in spec.args}
    try:
        if spec.kind == "factory":
            model = import_callable(spec.target, suite.dir, "model.factory", *where)(**args)
        elif spec.kind == "torchvision":
            import torchvision

            if "weights" in args:
                raise EdgecasesError("model.args.weights would download pretrained weights; this plugin never "
                                     "downloads", *where, hint="save them once and give model.weights: FILE")
            names = torchvision.models.list_models()
            if spec.target not in names:
                raise EdgecasesError(f"'{spec.target}' is not a torchvision model"
                                     f"{did_you_mean(spec.target, names)}", *where)
            model = torchvision.models.get_model(spec.target, weights=None, **args)
        else:
            model = torch.jit.load(str(spec.weights), map_location="cpu")
    except EdgecasesError:
        raise
    except Exception as exc:  # user code: whatever it raises, say so in one line
        raise EdgecasesError(f"building the model failed: {type(exc).__name__}: {exc}", *where) from None
    except SystemExit as exc:  # argparse in a training script's build(): it must not end the pytest run
        raise EdgecasesError(f"building the model called sys.exit({exc.code!r})", *where,
                             hint="the factory must return the model, not parse the command line") from None
    if spec.weights is not None and spec.kind != "torchscript":
        state = load_weights(spec.weights, spec.weights_display or str(spec.weights))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise EdgecasesError(f"weights '{spec.weights_display}' do not fit the model: "
                                 f"{' '.join(first[:3])[:400]}", *where,
                                 hint="the architecture and the checkpoint must match key for key") from None
    return model


def _unfreeze(value: Any) -> Any:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
                                                  for v in value):
        return {k: _unfreeze(v) for k, v in value}
    if isinstance(value, tuple):
        return [_unfreeze(v) for v in value]
    return value


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
                             hint="save a plain state_dict (torch.save(model.state_dict(), f)) or .safetensors") from None
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


class Preprocessor:
    """Declared preprocessing (resize → crop → uint8 tensor; normalisation batched on the device)."""

    def __init__(self, spec: Preprocess, suite: Suite):
        self.spec = spec
        self.custom = import_callable(spec.callable, suite.dir, "preprocess", suite.display, None) \
            if spec.callable else None

    def __call__(self, image: Any) -> torch.Tensor:
        if self.custom is not None:
            out = self.custom(image)
            if not isinstance(out, torch.Tensor) or out.ndim != 3:
                raise ImageError(f"preprocess {self.spec.callable} must return a CxHxW tensor, got "
                                 f"{type(out).__name__}{tuple(getattr(out, 'shape', ()))}")
            return out
        if self.spec.resize is not None:
            image = resize(image, self.spec.resize)
        if self.spec.center_crop is not None:
            image = center_crop(image, self.spec.center_crop)
        return pil_to_tensor(image)

    def finish(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        """uint8 batch → float in [0, 1] → normalised, on the device (cheaper than per image)."""
        if device.type == "cuda":
            # From page-locked memory the copy is asynchronous: the CPU goes on to the next batch.
            batch = batch.pin_memory()
        batch = batch.to(device, non_blocking=True)
        if self.custom is not None:
            return batch.float() if not batch.is_floating_point() else batch
        batch = batch.float().div_(255.0)
        if self.spec.mean is not None:
            mean = torch.tensor(self.spec.mean, device=device).view(1, -1, 1, 1)
            std = torch.tensor(self.spec.std, device=device).view(1, -1, 1, 1)
            batch = batch.sub_(mean).div_(std)
        return batch


def resize(image: Image.Image, size: Sequence[int]) -> Image.Image:
    """torchvision.transforms.v2.functional.resize of a PIL image, bilinear (Pillow always antialiases).

    ``(n,)`` scales the shorter side to n, the longer in proportion (rounded down); ``(h, w)`` is exact.
    """
    w, h = image.size
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_h, new_w = size
    if (new_w, new_h) == (w, h):
        return image
    return image.resize((new_w, new_h), resample=Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: Sequence[int]) -> Image.Image:
    """torchvision's center_crop of a PIL image: pads with black where the crop is larger than the image."""
    crop_h, crop_w = size
    w, h = image.size
    if crop_h > h or crop_w > w:
        border = ((crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                  (crop_w - w + 1) // 2 if crop_w > w else 0, (crop_h - h + 1) // 2 if crop_h > h else 0)
        image = ImageOps.expand(image, border=border, fill=0)
        w, h = image.size
        if (crop_w, crop_h) == (w, h):
            return image
    top, left = int(round((h - crop_h) / 2.0)), int(round((w - crop_w) / 2.0))
    return image.crop((left, top, left + crop_w, top + crop_h))


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """CxHxW uint8 tensor of a PIL image (torchvision's pil_to_tensor)."""
    array = np.array(image)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1)


def _prepare(job: Job, pre: Preprocessor) -> torch.Tensor | str:
    """Read, decode, transform and preprocess one image; an error string instead of raising."""
    try:
        data, digest = read_bytes(job.file)
        if job.sha256 and digest != job.sha256:
            # Its prediction would be cached under the key of the bytes hashed earlier in this run.
            return "the file changed while the run was using it; run again"
        image = decode_rgb(data)
        if job.transform is not None:
            from .transforms import apply

            image = apply(image, job.transform, job.seed)
        return pre(image)
    except ImageError as exc:
        return str(exc)
    except Exception as exc:  # a user's preprocess or a transform failing on one image
        return f"{type(exc).__name__}: {exc}"


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, as a container or taskset limits it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_plan(device: torch.device, cores: int | None = None) -> tuple[int, int | None]:
    """(decode threads, torch intra-op threads or None to leave torch's setting) for inference.

    On an accelerator the CPU only decodes: up to four decode threads, torch untouched. On the CPU,
    decoding and the forward pass share the cores, and oversubscribing them is what costs: torch's
    OpenMP threads wait at a barrier for whichever of them a decode thread pushed off its core.
    Measured on two cores (docs/performance.md), two decode threads ahead of a one-thread forward
    pass beat every other split, by the most when the machine is busy with other work. In general:
    half the decode threads' worth of cores is left to decoding, the rest run the forward pass.
    """
    cores = cores or cpu_count()
    decode = max(2, min(4, cores))
    if device.type != "cpu":
        return decode, None
    return decode, max(1, cores - decode // 2)


def predict(jobs: Sequence[Job], model: torch.nn.Module, pre: Preprocessor, device: torch.device,
            n_labels: int, batch_size: int = 32, precision: str = "fp32",
            progress: Callable[[int, int], None] | None = None) -> Iterator[dict[str, Prediction]]:
    """Yield predictions batch by batch (so callers can cache them as they come).

    Decoding runs in a small thread pool a bounded distance ahead of the forward pass: the
    device stays busy while memory stays flat (no image tensor outlives its batch). thread_plan
    picks the decode threads and torch's.
    """
    dtype = PRECISIONS[precision]
    autocast = dtype != torch.float32
    done = 0
    decode, torch_threads = thread_plan(device)
    window = max(2, decode) * batch_size
    before = torch.get_num_threads()
    if device.type == "cpu":
        model = _channels_last(model)
    try:
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        with cf.ThreadPoolExecutor(max_workers=decode, thread_name_prefix="edgecases-decode") as pool, \
                torch.inference_mode():
            pending: collections.deque[tuple[Job, cf.Future]] = collections.deque()
            it = iter(jobs)

            def refill() -> None:
                while len(pending) < window:
                    job = next(it, None)
                    if job is None:
                        return
                    pending.append((job, pool.submit(_prepare, job, pre)))

            refill()
            while pending:
                out, batch_jobs, tensors = _take_batch(pending, batch_size)
                refill()
                if tensors:   # _forward empties the list: the batch's images go before the caller sees them
                    out.update(_forward(batch_jobs, tensors, model, pre, device, n_labels, dtype, autocast))
                done += len(out)
                if progress:
                    progress(done, len(jobs))
                yield out
    finally:
        if torch_threads is not None:
            torch.set_num_threads(before)


def _channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Convolutions run faster on channels_last (NHWC) weights and inputs with oneDNN (measured:
    docs/performance.md). Values change only by float rounding, and session.NUMERICS keys it."""
    try:
        return model.to(memory_format=torch.channels_last)
    except (RuntimeError, TypeError, ValueError):   # e.g. 5-D (video) weights have no channels_last
        return model


def _take_batch(pending: collections.deque, batch_size: int
                ) -> tuple[dict[str, Prediction], list[Job], list[torch.Tensor]]:
    """The next batch's decoded images (the futures that held them are dropped), and its errors."""
    out: dict[str, Prediction] = {}
    batch_jobs: list[Job] = []
    tensors: list[torch.Tensor] = []
    while pending and len(batch_jobs) < batch_size:
        job, fut = pending.popleft()
        value = fut.result()
        if isinstance(value, str):
            out[job.key] = Prediction(error=value)
        else:
            batch_jobs.append(job)
            tensors.append(value)
    return out, batch_jobs, tensors


def _forward(jobs: list[Job], tensors: list[torch.Tensor], model: torch.nn.Module, pre: Preprocessor,
             device: torch.device, n_labels: int, dtype: torch.dtype, autocast: bool) -> dict[str, Prediction]:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise EdgecasesError(f"images of different sizes {sorted(shapes)[:3]} cannot share a batch",
                             hint="add preprocess: {resize: [H, W]} to the suite")
    batch = pre.finish(torch.stack(tensors), device)
    tensors.clear()   # the stacked batch holds the pixels now
    if device.type == "cpu" and batch.ndim == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)
    try:
        if autocast:
            with torch.autocast(device_type=device.type, dtype=dtype):
                logits = model(batch)
        else:
            logits = model(batch)
    except Exception as exc:
        msg = f"the model raised {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        return {job.key: Prediction(error=msg) for job in jobs}
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape != (len(jobs), n_labels):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise EdgecasesError(f"the model returned {shape} for a batch of {len(jobs)}; expected "
                             f"({len(jobs)}, {n_labels}): one logit per label",
                             hint="the model's last layer must have as many outputs as the suite has labels")
    probs = torch.softmax(logits.float(), dim=1).cpu()
    k = min(TOP_K, n_labels)
    values, indices = probs.topk(k, dim=1)
    out: dict[str, Prediction] = {}
    for job, vals, idxs in zip(jobs, values.tolist(), indices.tolist()):
        if not all(math.isfinite(v) for v in vals):
            out[job.key] = Prediction(error="the model produced NaN or infinite logits")
        else:
            out[job.key] = Prediction(top=tuple((int(i), float(v)) for i, v in zip(idxs, vals)))
    return out
