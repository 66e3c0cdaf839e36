"""Inference: every selected example through the model once, never a stale prediction.

One module per concern, found from here:

- keys.py: every cache key and every input it is made of (the "never stale" rule), and the
  example identity that seeds a synthetic transform (inference and thumbnails share it).
- digests.py: each image file's SHA-256, memoised by its stat.
- device.py: --edgecases-device to a device, and the device type known without importing torch.
- recipe.py: the files that alone determine a model, so a rerun can skip building it.
- models.py: model sources (the SOURCES table: factory, torchvision, TorchScript, and the saved
  models of other libraries, one module each in sources/: timm, Hugging Face, torch.export, ONNX),
  the model fingerprint; weights.py: loading a state dict safely.
- preprocess.py and predict.py: declared (or the model's own) preprocessing, and batched inference;
  logits.py: the logits in whatever a model returns.
- runner.py: the seam "jobs in, predictions out" (Job, ModelIdentity, Runner); local.py is the
  in-process torch runner.
- store.py: the SQLite prediction cache; xdist.py: what the workers of one xdist run share.
- properties.py: an image's cheap properties (brightness, contrast, sharpness, size), measured as it
  is decoded; measured.py: each judged example's, from that decode, the store, or a decode of its own.
- infer.py: the order of it all (hash, key, look up, run what the store lacks).

Only models.py (with weights.py, logits.py and sources/), preprocess.py, predict.py and local.py
import torch, and nothing imports them before a model must be built: a rerun that finds every
prediction in the cache never does. timm, transformers and onnxruntime are imported only by the
builder of a model of theirs.
"""
