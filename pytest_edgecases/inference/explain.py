"""Saliency maps with Captum: where a model looked, pooled to a small grid (imports torch and Captum).

explain_run.py picks the examples and keys the cache; this module turns (image, target label) pairs into
grids, a batch at a time, on the run's device, in fp32 (gradients in half precision are too coarse to
rank pixels by). A map is pooled to GRID×GRID cells, made non-negative and scaled to sum to 1, then
rounded: the same numbers on every rerun, whatever the batch held.
"""
from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from ..errors import EdgecasesError, close_matches
from ..explain_spec import Method, Request
from .logits import logits_of
from .predict import prepare
from .preprocess import Preprocessor
from .runner import Job

#: Side of the grid a map is pooled to (results file and report alike).
GRID = 8
#: Decimals a grid cell keeps: reruns on another thread count agree to these.
DECIMALS = 6
#: Integrated gradients' steps from the baseline: zeros of the normalised input (the normalisation's mean
#: colour for a mean/std normalisation, not black), as occlusion's patches are.
IG_STEPS = 32
#: Occlusion: the window is a quarter of a grid cell's worth of side bigger than the stride (two per cell).
OCCLUSION_STRIDES_PER_GRID_CELL = 2


@dataclass(frozen=True)
class Wanted:
    """One image to explain, for one or two target labels (predicted first, then expected)."""

    job: Job                      # the image as inference saw it (file, transform, seed, bytes' digest)
    targets: tuple[int, ...]


@dataclass(frozen=True)
class Explainer:
    """A model ready to explain: the method chosen for it and, for gradcam, its layer's name."""

    method: Method
    layer: str                    # "" unless gradcam


def explainer(model: torch.nn.Module, request: Request, sample: torch.Tensor, display: str) -> Explainer:
    """Resolve the request for this model: the default method, the layer, and whether gradients flow.

    ``sample`` is one preprocessed batch (to probe for gradients); ``display`` and ``request.line`` place
    errors at the suite's ``explain:`` (or, given on the command line, at the suite as a whole).
    """
    convs = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Conv2d)]
    method = request.method or (Method.GRADCAM if convs else Method.OCCLUSION)
    where = (display, request.line or None)
    if method.needs_gradients and not _has_gradients(model, sample):
        raise EdgecasesError(f"{method} needs the model's gradients, and this model has none (an ONNX or "
                             "exported model runs forward only)", *where,
                             hint="use occlusion (forward passes only): --edgecases-explain=occlusion or "
                                  "explain: {method: occlusion}")
    if method is not Method.GRADCAM:
        return Explainer(method, "")
    names = dict(model.named_modules())
    if request.layer is not None:
        if request.layer not in names:
            near = close_matches(request.layer, [n for n in names if n], n=5) or convs[-5:]
            raise EdgecasesError(f"explain.layer '{request.layer}' is not a module of the model; the nearest "
                                 f"names: {', '.join(near) if near else 'none'}", *where,
                                 hint="a name from model.named_modules(), e.g. the last Conv2d: "
                                      f"{convs[-1] if convs else 'the model has none'}")
        return Explainer(method, request.layer)
    if not convs:
        raise EdgecasesError("gradcam attributes at a Conv2d layer, and the model has none", *where,
                             hint="name a layer (explain: {layer: NAME}), or use integrated_gradients or occlusion")
    return Explainer(method, convs[-1])


def _has_gradients(model: torch.nn.Module, sample: torch.Tensor) -> bool:
    """Whether the model's output depends differentiably on its input (one image, one forward pass)."""
    probe = sample[:1].detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            out = logits_of(model(probe))
    except Exception:  # noqa: BLE001 - a model that cannot run with autograd on has no gradients to give
        return False
    return isinstance(out, torch.Tensor) and out.requires_grad


def attributions(model: torch.nn.Module, pre: Preprocessor, device: torch.device, wanted: Sequence[Wanted],
                 request: Request, display: str, batch_size: int = 32
                 ) -> Iterator[tuple[Explainer, dict[tuple[str, int], list[list[float]]]]]:
    """Yield (the explainer, {(job key, target): grid}) a batch at a time; an unreadable image has no grid.

    Each batch pairs an image with each of its targets (so a failure's two maps share one batch).
    """
    model = model.float().eval()
    chosen: Explainer | None = None
    pairs = [(w.job, t) for w in wanted for t in w.targets]
    with cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="edgecases-explain") as pool:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            images = list(pool.map(lambda pair: prepare(pair[0], pre), chunk))
            kept = [(pair, image.value) for pair, image in zip(chunk, images, strict=True)
                    if not isinstance(image.value, str)]
            if not kept:
                continue
            batch = pre.finish(torch.stack([image for _, image in kept]), device).float()
            if chosen is None:
                chosen = explainer(model, request, batch, display)
            targets = torch.tensor([t for (_, t), _ in kept], device=device)
            grids = pooled(_attribute(model, chosen, batch, targets))
            yield chosen, {(job.key, t): grid for ((job, t), _), grid in zip(kept, grids, strict=True)}


class _Scores(torch.nn.Module):
    """The model, its output read as inference reads it (logits.py): Captum indexes a tensor by target,
    and a Hugging Face model returns an output object, others a tuple or a dict."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(x))


def _attribute(model: torch.nn.Module, chosen: Explainer, batch: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The method's map for each image and target, (N, H', W'), non-negative."""
    # Captum imports matplotlib for its visualisations: only once a map is made.
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

    height, width = batch.shape[-2:]
    layer = dict(model.named_modules())[chosen.layer] if chosen.method is Method.GRADCAM else None
    model = _Scores(model)
    if layer is not None:
        maps = LayerGradCam(model, layer).attribute(batch, target=targets, relu_attributions=True)
        maps = LayerAttribution.interpolate(maps.detach(), (height, width), "bilinear")
        return maps.sum(1).clamp(min=0)
    if chosen.method is Method.INTEGRATED_GRADIENTS:
        maps = IntegratedGradients(model).attribute(batch, baselines=torch.zeros_like(batch), target=targets,
                                                    n_steps=IG_STEPS, internal_batch_size=len(batch))
        # A pixel's net attribution (its channels summed), then its magnitude: evidence for or against.
        return maps.detach().sum(1).abs()
    stride = (max(1, height // (GRID * OCCLUSION_STRIDES_PER_GRID_CELL)),
              max(1, width // (GRID * OCCLUSION_STRIDES_PER_GRID_CELL)))
    window = (batch.shape[1], max(1, height // GRID), max(1, width // GRID))
    with torch.no_grad():
        maps = Occlusion(model).attribute(batch, sliding_window_shapes=window, strides=(batch.shape[1], *stride),
                                          baselines=0.0, target=targets, perturbations_per_eval=8)
    # Positive evidence only: where hiding the pixels lowered the target's score.
    return maps.detach().sum(1).clamp(min=0)


def pooled(maps: torch.Tensor) -> list[list[list[float]]]:
    """Each (H, W) map averaged into GRID×GRID cells, non-negative, summing to 1 (uniform where all zero)."""
    cells = torch.nn.functional.adaptive_avg_pool2d(maps.float().unsqueeze(1), GRID).squeeze(1).double().cpu()
    cells = torch.nan_to_num(cells, nan=0.0, posinf=0.0, neginf=0.0).clamp(min=0)
    out = []
    for grid in cells:
        total = float(grid.sum())
        flat = [v / total for v in grid.flatten().tolist()] if total > 0 else [1.0 / GRID ** 2] * GRID ** 2
        out.append(normalised(flat))
    return out


def normalised(flat: list[float]) -> list[list[float]]:
    """Rounded to DECIMALS, the rounding's residue given to the largest cell: the grid sums to 1."""
    rounded = [round(v, DECIMALS) for v in flat]
    peak = max(range(len(rounded)), key=lambda i: (rounded[i], -i))
    rounded[peak] = round(rounded[peak] + 1.0 - sum(rounded), DECIMALS)
    return [rounded[row * GRID:(row + 1) * GRID] for row in range(GRID)]

