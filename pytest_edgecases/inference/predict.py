"""Batched inference: decode ahead in threads, forward on the device, softmax to top-k (imports torch)."""
from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import math
from typing import Callable, Iterator, NamedTuple, Sequence

import torch

from ..errors import EdgecasesError
from ..images import ImageError, cpu_count, decode_rgb, read_bytes
from ..prediction import TOP_K, ImageProperties, Prediction
from ..transforms import apply
from .logits import logits_of
from .preprocess import Preprocessor
from .properties import measure
from .runner import Job

#: Most decode threads on an accelerator (one per core up to this).
MAX_DECODE_THREADS = 32
#: The dtype of each --edgecases-precision (session.PRECISIONS names them).
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class Prepared(NamedTuple):
    """One image ready for the forward pass, or why it is not; the SHA-256 of the bytes read ("" where
    none could be), which an engine elsewhere returns for the driver to check (ray_engine.py); and the
    image's properties as the model sees it before preprocessing (properties.py: a fraction of the
    decode's cost; only when job.measure)."""

    value: torch.Tensor | str
    sha256: str = ""
    properties: ImageProperties | None = None


def prepare(job: Job, pre: Preprocessor) -> Prepared:
    """Read, decode, transform, preprocess and measure one image; an error string instead of raising.
    Inference and explain.py alike: a map is of the very input the prediction was made from."""
    digest = ""
    try:
        data, digest = read_bytes(job.file)
        if job.sha256 and digest != job.sha256:
            # Its prediction would be cached under the key of the bytes hashed earlier in this run.
            return Prepared("the file changed while the run was using it; run again", digest)
        image = decode_rgb(data)
        if job.transform is not None:
            image = apply(image, job.transform, job.seed)
        return Prepared(pre(image), digest, measure(image) if job.measure else None)
    except ImageError as exc:
        return Prepared(str(exc), digest)
    except Exception as exc:  # a user's preprocess or a transform failing on one image
        return Prepared(f"{type(exc).__name__}: {exc}", digest)


def thread_plan(device: torch.device, cores: int | None = None) -> tuple[int, int | None]:
    """(decode threads, torch intra-op threads or None to leave torch's setting) for inference.

    On an accelerator the CPU only decodes: a decode thread per core (up to 32), torch untouched, so
    that a fast GPU is fed as fast as the machine can decode (Pillow's decoders and resizes release the
    GIL; a thread's Python share is tens of microseconds an image). On the CPU,
    decoding and the forward pass share the cores, and oversubscribing them is what costs: torch's
    OpenMP threads wait at a barrier for whichever of them a decode thread pushed off its core.
    Measured on two cores (docs/performance.md), two decode threads ahead of a one-thread forward
    pass beat every other split, by the most when the machine is busy with other work. In general:
    half the decode threads' worth of cores is left to decoding, the rest run the forward pass.
    """
    cores = cores or cpu_count()
    if device.type != "cpu":
        return max(2, min(MAX_DECODE_THREADS, cores)), None
    decode = max(2, min(4, cores))
    return decode, max(1, cores - decode // 2)


def predict(jobs: Sequence[Job], model: torch.nn.Module, pre: Preprocessor, device: torch.device,
            n_labels: int, batch_size: int = 32, precision: str = "fp32",
            progress: Callable[[int, int], None] | None = None) -> Iterator[dict[str, Prediction]]:
    """Yield predictions batch by batch (so callers can cache them as they come).

    Decoding runs in a small thread pool a bounded distance ahead of the forward pass: the
    device stays busy while memory stays flat (no image tensor outlives its batch). thread_plan
    picks the decode threads and torch's.
    """
    dtype = DTYPES[precision]
    autocast = dtype != torch.float32
    done = 0
    decode, torch_threads = thread_plan(device)
    # Up to four batches ahead: enough for up to four decode threads to stay busy, and on an accelerator's
    # many threads (a batch is decoded by all of them) without holding thousands of decoded images.
    window = max(2, min(4, decode)) * batch_size
    before = torch.get_num_threads()
    if device.type == "cpu":
        model = channels_last(model)
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
                    pending.append((job, pool.submit(prepare, job, pre)))

            refill()
            while pending:
                out, batch_jobs, tensors, measured = _take_batch(pending, batch_size)
                refill()
                if tensors:   # forward empties the list: the batch's images go before the caller sees them
                    out.update(forward(batch_jobs, tensors, model, pre, device, n_labels, dtype, autocast))
                for key, props in measured.items():   # beside the answer: measured.py stores them by image
                    out[key] = dataclasses.replace(out[key], properties=props)
                done += len(out)
                if progress:
                    progress(done, len(jobs))
                yield out
    finally:
        if torch_threads is not None:
            torch.set_num_threads(before)


def channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Convolutions run faster on channels_last (NHWC) weights and inputs with oneDNN (measured:
    docs/performance.md). Values change only by float rounding, and keys.NUMERICS keys it."""
    try:
        return model.to(memory_format=torch.channels_last)
    except (RuntimeError, TypeError, ValueError):   # e.g. 5-D (video) weights have no channels_last
        return model


def _take_batch(pending: collections.deque, batch_size: int
                ) -> tuple[dict[str, Prediction], list[Job], list[torch.Tensor], dict[str, ImageProperties]]:
    """The next batch's decoded images (the futures that held them are dropped), its errors, and the
    images' properties by job key."""
    out: dict[str, Prediction] = {}
    batch_jobs: list[Job] = []
    tensors: list[torch.Tensor] = []
    measured: dict[str, ImageProperties] = {}
    while pending and len(batch_jobs) < batch_size:
        job, fut = pending.popleft()
        prepared = fut.result()
        if isinstance(prepared.value, str):
            out[job.key] = Prediction(error=prepared.value)
        else:
            batch_jobs.append(job)
            tensors.append(prepared.value)
            if prepared.properties is not None:
                measured[job.key] = prepared.properties
    return out, batch_jobs, tensors, measured


def forward(jobs: list[Job], tensors: list[torch.Tensor], model: torch.nn.Module, pre: Preprocessor,
             device: torch.device, n_labels: int, dtype: torch.dtype, autocast: bool) -> dict[str, Prediction]:
    """One batch of prepared images through the model: each job's top-k. A model that raises fails this
    batch's jobs only; output of the wrong shape raises EdgecasesError (every batch would have it)."""
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
    logits = logits_of(logits)
    if logits.ndim != 2 or logits.shape != (len(jobs), n_labels):
        shape = tuple(logits.shape)
        raise EdgecasesError(f"the model returned {shape} for a batch of {len(jobs)}; expected "
                             f"({len(jobs)}, {n_labels}): one logit per label",
                             hint="the model's last layer must have as many outputs as the suite has labels")
    probs = torch.softmax(logits.float(), dim=1).cpu()
    k = min(TOP_K, n_labels)
    values, indices = probs.topk(k, dim=1)
    out: dict[str, Prediction] = {}
    for job, vals, idxs in zip(jobs, values.tolist(), indices.tolist(), strict=True):
        if not all(math.isfinite(v) for v in vals):
            out[job.key] = Prediction(error="the model produced NaN or infinite logits")
        else:
            out[job.key] = Prediction(top=tuple((int(i), float(v)) for i, v in zip(idxs, vals, strict=True)))
    return out
