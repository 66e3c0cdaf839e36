"""Each image file's SHA-256: what prediction keys and reviews are keyed on, memoised by the file's stat.

A rerun with nothing changed reads no image: the store remembers each file's digest with the
stat it had when it was read, and any difference (size, mtime, ctime, inode, device) means the
file is read and hashed again.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import time
from typing import Sequence

from ..images import ImageError, read_bytes
from .store import PredictionCache, Stat

#: A file changed this recently may change again within its timestamp's resolution: not memoised.
_RACY_NS = 2_000_000_000


def stat_of(path: str) -> Stat | None:
    """What the stat memo compares: size, mtime, ctime, inode, device (None if it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def file_digests(files: Sequence[str], store: PredictionCache) -> dict[str, str]:
    """SHA-256 of each file: from the store's stat memo where its stat is unchanged, else read ("" if unreadable)."""
    stats = {f: st for f in files if (st := stat_of(f)) is not None}
    known = store.get_digests(stats)
    now = time.time_ns()

    def sha(file: str) -> tuple[str, str, Stat | None]:
        try:
            digest = read_bytes(file)[1]
        except ImageError:
            return file, "", None
        before = stats.get(file)
        # Memoised only when the file did not change while it was read, and not so recently that
        # a later change could leave its stat as it is (timestamps have a coarse resolution).
        unsettled = before is None or before != stat_of(file) or now - max(before[1], before[2]) < _RACY_NS
        return file, digest, None if unsettled else before

    # Keyed by the caller's own strings, not the store's copies of them: these keys live as long as the run.
    digests = {f: known[f] for f in files if f in known}
    memo = {}
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        for file, digest, stat in pool.map(sha, [f for f in files if f not in known]):
            digests[file] = digest
            if stat is not None:
                memo[file] = (stat, digest)
    store.put_digests(memo)
    return digests
