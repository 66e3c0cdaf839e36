"""When the plugin turns Python's cyclic garbage collector off: its bulk steps, which make no cycles."""
from __future__ import annotations

import contextlib
import gc
import sys
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


def freeze_long_lived() -> None:
    """Hide every object alive now from the cyclic collector for the rest of the process (``gc.freeze``).

    Called once inference is done, before any test runs: the examples, their keys and predictions,
    and on a run that built a model torch, the model's code and the model, all live until the run
    ends. They are hundreds of thousands of objects (torch and torchvision alone: about 330,000; a
    warm rerun of 20,000 images: about as many), and every full collection walks them all: the
    automatic ones while judging, slice discovery and the report allocate, and the two passes pytest
    makes as it exits, 0.1 to 0.5 s each on two cores. Frozen, they are not walked again.
    Objects frozen are still freed by reference counting when their last reference goes (the plugin
    drops its per-example state before pytest exits); only a cycle among them would be kept, and
    what is alive then is the interpreter's, pytest's, the libraries' and the plugin's own. Once per
    process: a process that runs pytest many times (pytester) does not freeze each run's leftovers.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        if "torch" in sys.modules:
            # A model this run built (to infer, or only to fingerprint it: the Ray driver's copy) may be
            # garbage that only the cyclic collector frees (a torch.export module is): frozen, it and its
            # weights would stay to the process's end. A warm rerun that imports no torch skips this.
            gc.collect()
        gc.freeze()


_frozen = False   # the collector is process-wide state; so is whether this process froze it
