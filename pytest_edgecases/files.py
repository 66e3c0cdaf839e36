"""Writing output files safely: never half a file where a good one was."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def is_special(path: Path) -> bool:
    """True for a device, pipe or socket (/dev/null, /dev/stdout): something to write into, never to replace."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def atomic_write(path: Path, text: str) -> None:
    """Write text to a unique temporary file beside the target, then rename it into place.

    A unique name (not "path.tmp") keeps two pytest sessions writing the same output apart.
    A device or pipe is written into directly: renaming over /dev/null (which root may do)
    would replace the device itself with a file.
    """
    path = Path(path)
    if is_special(path):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)   # mkstemp makes 0600; outputs are meant to be read by others (CI artifacts)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def only_images(path: Path, suffixes: frozenset[str], memo: dict[str, bool]) -> bool:
    """True for a real folder whose files, at any depth, all have an image suffix (dot-files aside).

    Nothing in such a folder is a test, and pytest walking tens of thousands of image files one
    collector hook at a time costs seconds. A symlink, a special file or an unreadable folder
    anywhere below makes it False: only what is certainly image data is skipped. ``memo`` keeps
    each folder's answer, so nested folders are scanned once.
    """
    top = str(path)
    if top in memo:
        return memo[top]
    ok = True
    try:
        with os.scandir(top) as it:
            entries = list(it)
    except OSError:
        entries, ok = [], False
    for entry in entries:
        if entry.is_symlink():
            ok = False
        elif entry.is_dir(follow_symlinks=False):
            ok = only_images(Path(entry.path), suffixes, memo)
        elif entry.is_file(follow_symlinks=False):
            ok = entry.name.startswith(".") or os.path.splitext(entry.name)[1].lower() in suffixes
        else:
            ok = False
        if not ok:
            break
    memo[top] = ok
    return ok
