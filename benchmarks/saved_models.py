"""What a saved model (timm, Hugging Face, torch.export, ONNX) costs through the plugin, measured as ratios.

Builds one project (random-noise PNGs, tiny models of each source saved as their libraries save
them), then for each source runs, as subprocesses on the same cores:

  plain loop ........ the library's own preprocessing and forward pass over the images, batch 32
  cold run .......... pytest --edgecases with an empty cache (imports, builds, infers everything)
  warm rerun ........ pytest --edgecases again: every prediction cached, the model known from its files

and prints cold / plain, warm / cold, and which heavy modules the warm rerun imported (none
expected). Each timing is the median of --repeat runs. Usage:

    PYTHONPATH=. python benchmarks/saved_models.py [--images 400] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DECLARED = "preprocess: {resize: [64, 64], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}"
SOURCES = {
    "timm": ("{timm: models/timm_dir}", ""),
    "huggingface": ("{huggingface: models/hf_vit}", ""),
    "exported": ("{exported: models/cnn.pt2}", DECLARED),
    "onnx": ("{onnx: models/cnn.onnx}", DECLARED),
}
RECORD = """
import sys


def pytest_unconfigure(config):
    heavy = sorted(m for m in ("torch", "timm", "transformers", "onnxruntime", "torchvision") if m in sys.modules)
    open("imported.txt", "w").write(",".join(heavy))
"""


def build(root: Path, images: int) -> None:
    """The images and the four saved models."""
    import numpy as np
    import timm
    import torch
    import transformers
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        path = root / "data" / "clean" / ("cat" if i % 2 else "dog") / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(path)
    models = root / "models"
    torch.manual_seed(0)
    timm.models.save_for_hf(timm.create_model("test_resnet", num_classes=2).eval(), str(models / "timm_dir"),
                            safe_serialization=True)
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64,
                                    id2label={0: "cat", 1: "dog"}, label2id={"cat": 0, "dog": 1})
    transformers.ViTForImageClassification(config).save_pretrained(models / "hf_vit")
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(models / "hf_vit")
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
    batch = torch.export.Dim("batch")
    example = (torch.randn(2, 3, 64, 64),)
    torch.export.save(torch.export.export(cnn, example, dynamic_shapes=({0: batch},)), str(models / "cnn.pt2"))
    torch.onnx.export(cnn, example, str(models / "cnn.onnx"), input_names=["images"], dynamic_shapes=({0: batch},),
                      dynamo=True)


def plain(source: str, root: Path) -> None:
    """The library's own path over every image: what a user's script would do."""
    import torch
    from PIL import Image

    files = sorted((root / "data").rglob("*.png"))
    if source == "timm":
        import timm

        model = timm.create_model("test_resnet", num_classes=2)
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(root / "models/timm_dir/model.safetensors")))
        model.eval()
        transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model), is_training=False)
        run = model
    elif source == "huggingface":
        import transformers

        model = transformers.AutoModelForImageClassification.from_pretrained(root / "models/hf_vit").eval()
        processor = transformers.AutoImageProcessor.from_pretrained(root / "models/hf_vit", use_fast=False)
        transform = lambda image: processor(images=image, return_tensors="pt")["pixel_values"][0]  # noqa: E731
        run = lambda x: model(x).logits  # noqa: E731
    else:
        import torchvision.transforms.v2 as T

        transform = T.Compose([T.Resize([64, 64]), T.PILToTensor(), T.ToDtype(torch.float32, scale=True),
                               T.Normalize([0.5] * 3, [0.25] * 3)])
        if source == "exported":
            run = torch.export.load(str(root / "models/cnn.pt2")).module()
        else:
            import onnxruntime

            session = onnxruntime.InferenceSession(str(root / "models/cnn.onnx"), providers=["CPUExecutionProvider"])
            run = lambda x: torch.from_numpy(session.run(None, {"images": x.numpy()})[0])  # noqa: E731
    with torch.inference_mode():
        for start in range(0, len(files), 32):
            batch = torch.stack([transform(Image.open(f).convert("RGB")) for f in files[start:start + 32]])
            torch.softmax(run(batch), dim=1)


def timed(cmd: list[str], cwd: Path) -> float:
    path = os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": path})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", nargs=2, metavar=("SOURCE", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain[0], Path(args.plain[1]))
        return
    root = Path(tempfile.mkdtemp(prefix="edgecases-saved-models-"))
    try:
        build(root, args.images)
        (root / "conftest.py").write_text(RECORD)
        print(f"{args.images} images (128x96 PNG), load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus")
        for source, (model, preprocess) in SOURCES.items():
            labels = "" if source == "huggingface" else "labels: [cat, dog]\n"
            (root / "edgecases.yaml").write_text(f"suite: {source}\n{labels}model: {model}\n{preprocess}\n"
                                                 "defaults: {min_accuracy: 0.0}\n"
                                                 "categories:\n  - name: clean\n    images: data/clean/\n")
            pytest = [sys.executable, "-m", "pytest", "--edgecases", "--edgecases-device=cpu", "-q", "-p",
                      "no:cacheprovider", f"--edgecases-cache-dir={root / 'cache'}"]
            plains, colds, warms = [], [], []
            for _ in range(args.repeat):
                plains.append(timed([sys.executable, __file__, "--plain", source, str(root)], root))
                shutil.rmtree(root / "cache", ignore_errors=True)
                colds.append(timed(pytest, root))
                warms.append(timed(pytest, root))
            imported = (root / "imported.txt").read_text() or "none"
            p, c, w = (statistics.median(v) for v in (plains, colds, warms))
            print(json.dumps({"source": source, "plain_s": round(p, 2), "cold_s": round(c, 2), "warm_s": round(w, 2),
                              "cold_vs_plain": round(c / p, 2), "warm_vs_cold": round(w / c, 3),
                              "warm_imported": imported}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
