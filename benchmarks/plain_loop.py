"""The loop a user would write instead of the plugin: decode, preprocess, forward, softmax, top-k.

Same files (sorted, as the plugin lists them), same decode (PIL ``.convert("RGB")``), same
preprocessing (Pillow's bilinear resize, which is what torchvision's resize does to a PIL image,
/255, normalise), same batch size and torch threads. torchvision is imported only for the
torchvision model, as a loop that needs no torchvision would.
``--workers 0`` decodes in the main thread between batches; ``--workers N`` uses a DataLoader
with N worker processes, as torchvision's examples do. Usage:

    python benchmarks/plain_loop.py PROJECT MODEL --batch-size 32 --threads 2 [--workers 0] [--out preds.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import MEAN, MODELS, STD, weights_file  # noqa: E402


class Files(torch.utils.data.Dataset):
    def __init__(self, files: list[Path], side: int):
        self.files, self.side = files, side

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = Image.open(self.files[i]).convert("RGB").resize((self.side, self.side), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def build_model(root: Path, kind: str) -> torch.nn.Module:
    from safetensors.torch import load_file

    sys.path.insert(0, str(root))
    if kind in ("small", "small32"):
        import benchnet

        model = benchnet.build(10)
    elif kind == "light":
        import lightnet

        model = lightnet.build(10)
    else:
        import torchvision

        model = torchvision.models.mobilenet_v3_small(num_classes=10)
    model.load_state_dict(load_file(str(root / weights_file(kind))))
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = args.root.resolve()
    files = sorted(p for p in (root / "data").rglob("*.png"))
    side = MODELS[args.model][0]
    model = build_model(root, args.model)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    loader = torch.utils.data.DataLoader(Files(files, side), batch_size=args.batch_size, num_workers=args.workers)
    out: dict[str, list] = {}
    i = 0
    with torch.inference_mode():
        for batch in loader:
            x = (batch.float() / 255 - mean) / std
            probs = torch.softmax(model(x), dim=1)
            values, indices = probs.topk(5, dim=1)
            for v, k in zip(values.tolist(), indices.tolist(), strict=True):
                out[files[i].relative_to(root).as_posix()] = [k[0], v[0]]
                i += 1
    if args.out:
        args.out.write_text(json.dumps(out))
    print(f"plain loop: {len(out)} images in {time.perf_counter() - T0:.2f}s (from interpreter start)")


if __name__ == "__main__":
    main()
