"""When the plugin turns Python's cyclic garbage collector off: its bulk steps, which make no cycles."""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Automatic garbage collection off for a bulk step of the plugin's own code (no user code runs).

    Hashing, cache lookups, judging and the report build a few objects per example, none in cycles;
    with 20,000 examples, the collector scanning them again and again as they pile up costs a good
    part of a warm rerun. Garbage without cycles is freed as always; the collector runs again after the step.
    """
    if not gc.isenabled():   # nested, or the user turned it off
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
