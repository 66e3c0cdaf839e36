"""``model: {onnx: m.onnx}``: an ONNX file run by onnxruntime, behind the torch module interface the
predictor uses (a batch tensor in, logits out), so batching, caching and judging stay as they are."""
from __future__ import annotations

from typing import Any

import torch

from ...errors import EdgecasesError
from ...suite import ModelSpec, Suite
from . import FixedBatch, require


def build(suite: Suite, spec: ModelSpec, args: dict[str, Any]) -> torch.nn.Module:
    """The file in an onnxruntime session on the CPU (``to(cuda)`` moves it to the CUDA provider)."""
    model = OnnxModel(str(spec.weights), spec.weights_display or str(spec.weights), suite.display, spec.line)
    return FixedBatch(model, model.batch) if model.batch else model


class OnnxModel(torch.nn.Module):
    """An onnxruntime session as a torch module: NCHW float32 in, the first output as a tensor out."""

    def __init__(self, file: str, display: str, path: str, line: int):
        super().__init__()
        self.file, self.display, self.where = file, display, (path, line)
        self.ort = require("onnxruntime", "onnx", path, line)
        self.session = self._session(["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        first = inputs[0] if inputs else None
        shape = list(first.shape) if first is not None and first.shape is not None else []
        if len(inputs) != 1 or len(shape) != 4 or shape[1] not in (3, None) and not isinstance(shape[1], str):
            got = ", ".join(f"{i.name}: {list(i.shape) if i.shape is not None else '?'}" for i in inputs)
            raise EdgecasesError(f"'{display}' takes ({got}); an image classifier takes one N×3×H×W input",
                                 *self.where, hint="export the model with one NCHW image batch as its input")
        if first.type != "tensor(float)":
            raise EdgecasesError(f"'{display}' takes {first.type}; the plugin feeds float32 images", *self.where,
                                 hint="export the model in float32 (its inputs at least)")
        self.input = first.name
        #: the batch size the file was exported for, where it is fixed (FixedBatch slices batches to it)
        self.batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.device = torch.device("cpu")

    def _session(self, providers: list[str]) -> Any:
        try:
            return self.ort.InferenceSession(self.file, providers=providers)
        except Exception as exc:   # not an ONNX file, an operator onnxruntime lacks, a provider missing
            raise EdgecasesError(f"onnxruntime cannot load '{self.display}': {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:300] if str(exc) else ''}", *self.where) from None

    def _apply(self, fn: Any, recurse: bool = True) -> OnnxModel:
        """``.to(device)``: the session follows the device (no tensors here for torch to move)."""
        probe = fn(torch.empty(0))
        if probe.device.type != self.device.type:
            if probe.device.type == "cuda":
                if "CUDAExecutionProvider" not in self.ort.get_available_providers():
                    raise EdgecasesError(f"--edgecases-device is {probe.device} but onnxruntime has no CUDA "
                                         "provider", *self.where,
                                         hint="pip install onnxruntime-gpu, or run on --edgecases-device=cpu")
                self.session = self._session(["CUDAExecutionProvider", "CPUExecutionProvider"])
            elif probe.device.type == "cpu":
                self.session = self._session(["CPUExecutionProvider"])
            else:
                raise EdgecasesError(f"onnxruntime cannot run on {probe.device.type}", *self.where,
                                     hint="run on --edgecases-device=cpu or cuda")
            self.device = probe.device
        return self

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        outputs = self.session.run(None, {self.input: array})
        return torch.from_numpy(outputs[0]).to(batch.device)
