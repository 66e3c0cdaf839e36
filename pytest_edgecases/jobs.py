"""``python -m pytest_edgecases jobs SUITE... --out DIR``: every model input the suites need, for any engine.

Each input is written as the plugin would hand it to the model before preprocessing: the image decoded
to 8-bit RGB (as images.decode_rgb does) and its synthetic transform applied, saved as lossless PNG, so
that an engine reading the PNG sees the pixels the plugin's own inference would. ``DIR/jobs.parquet``
and ``DIR/jobs.csv`` list one row per (suite, input) under its input key (keys.input_key): the key a
predictions file (docs/predictions.md) names each prediction by.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import EdgecasesError
from .examples import project_path
from .images import ImageError, decode_rgb, read_bytes
from .inference import keys
from .suite import load_suite
from .transforms import apply

#: The columns of a jobs file, in order (docs/predictions.md describes each).
COLUMNS = ("key", "suite", "category", "level", "path", "source_path", "preprocess")
#: What an export writes in DIR; a folder holding anything else is not written into.
OWN = {"jobs.parquet", "jobs.csv", "labels.json", "images"}


@dataclass
class Exported:
    """What an export wrote, and the images it could not use."""

    rows: list[dict[str, str]] = field(default_factory=list)
    images: int = 0
    unreadable: list[str] = field(default_factory=list)


def export(suite_files: Sequence[Path], rootdir: Path, out: Path) -> Exported:
    """Write every input of the suites to ``out``; raises EdgecasesError for a bad suite or folder."""
    rootdir = rootdir.resolve()
    if out.exists() and (not out.is_dir() or set(os.listdir(out)) - OWN):
        raise EdgecasesError("the output folder holds other files; nothing was written", str(out),
                             hint="name a new or empty folder (an earlier export's folder is written over)")
    suites = [load_suite(path, rootdir) for path in suite_files]
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    done = Exported()
    written: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for suite in suites:
        described = suite.preprocess.describe()
        for cat in suite.categories:
            for ex in cat.examples:
                shown = project_path(ex.file, rootdir)
                try:
                    data, sha = read_bytes(ex.file)
                except ImageError as exc:
                    done.unreadable.append(f"{shown}: {exc}")
                    continue
                seed = keys.example_seed(ex.file, rootdir, cat.transform)
                key = keys.input_key(sha, ex.file, cat.transform, seed, described)
                if (suite.name, key) in seen:
                    continue
                seen.add((suite.name, key))
                target = images / f"{key}.png"
                if key not in written:
                    try:
                        image = decode_rgb(data)
                        if cat.transform is not None:
                            image = apply(image, cat.transform, seed)
                    except ImageError as exc:
                        done.unreadable.append(f"{shown}: {exc}")
                        continue
                    image.save(target, format="PNG")
                    written.add(key)
                done.rows.append({"key": key, "suite": suite.name, "category": cat.name, "level": cat.level_id,
                                  "path": target.relative_to(out).as_posix(), "source_path": shown,
                                  "preprocess": described})
    done.images = len(written)
    _write_tables(out, done.rows)
    (out / "labels.json").write_text(json.dumps({s.name: list(s.labels) for s in suites}, indent=2) + "\n")
    return done


def _write_tables(out: Path, rows: list[dict[str, str]]) -> None:
    """jobs.parquet (pyarrow) and jobs.csv, the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: [row[name] for row in rows] for name in COLUMNS},
                     schema=pa.schema([(name, pa.string()) for name in COLUMNS]))
    pq.write_table(table, out / "jobs.parquet")
    with open(out / "jobs.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
