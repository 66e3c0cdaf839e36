"""gcpolicy.py: bulk steps pause automatic garbage collection and always restore it."""
from __future__ import annotations

import pytest


def test_paused_gc_restores_the_collector_whatever_happens():
    """Bulk steps pause automatic collection; it is back on afterwards, after an error too, and a
    collector the user turned off stays off."""
    import gc

    from pytest_edgecases.gcpolicy import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():              # nested: the inner one leaves it to the outer
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("a step failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freeze_long_lived_freezes_once_per_process():
    """What is alive at the first call leaves the collector's sight; a later call (another pytester run in
    the same process) freezes nothing more, so no run's leftovers are kept for good."""
    import os
    import subprocess
    import sys

    code = ("import gc\nfrom pytest_edgecases.gcpolicy import freeze_long_lived\n"
            "assert gc.get_freeze_count() == 0\nfreeze_long_lived()\nfirst = gc.get_freeze_count()\n"
            "later = [[i] for i in range(1000)]\nfreeze_long_lived()\n"
            "print(first > 1000, gc.get_freeze_count() == first, gc.isenabled())\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.stdout.split() == ["True", "True", "True"]


def test_a_model_left_in_a_cycle_is_freed_not_frozen():
    """A model that only the cyclic collector frees (garbage by then: built to fingerprint it, say) is
    collected before the freeze, so its weights do not stay for the rest of the process."""
    import os
    import subprocess
    import sys

    code = ("import gc, weakref, torch\nfrom pytest_edgecases.gcpolicy import freeze_long_lived\n"
            "m = torch.nn.Linear(4, 4)\nm.me = [m]\nalive = weakref.ref(m)\ndel m\ngc.disable()\n"
            "freeze_long_lived()\nprint(alive() is None)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.stdout.split() == ["True"]
