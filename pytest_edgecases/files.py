"""Writing output files safely: never half a file where a good one was."""
from __future__ import annotations

from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write text through a temporary file beside the target, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
