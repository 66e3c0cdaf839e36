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
