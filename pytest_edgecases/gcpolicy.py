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


def freeze_long_lived() -> None:
    """Hide every object alive now from the cyclic collector for the rest of the process (``gc.freeze``).

    Called once torch, the model's code and the model are loaded: they live until the process ends,
    and they are hundreds of thousands of objects (torch and torchvision: about 330,000). Every full
    collection walks them all, 0.08 s each on two cores: the automatic ones while inference allocates,
    and the passes pytest makes as it exits (two, in pytest 9). Frozen, those cost microseconds.
    Objects frozen are still freed by reference counting when their last reference goes; only a cycle
    among them would be kept, and what is alive before any test runs is the interpreter's, pytest's and
    the libraries' own. Once per process, like the imports it is for: a process that runs pytest many
    times (pytester) does not freeze each run's leftovers.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


_frozen = False   # the collector is process-wide state; so is whether this process froze it
