"""Where a pytest run keeps its EdgecasesSession: the config's stash, never a module global.

A module global would be shared by every pytest run in one process (pytester's in-process runs);
the stash belongs to one run. plugin.py puts the session there; the nodes and the run reporter read it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .session import EdgecasesSession

SESSION_KEY = pytest.StashKey["EdgecasesSession"]()


def session_of(config: pytest.Config) -> EdgecasesSession:
    """The run's EdgecasesSession (exists only with --edgecases)."""
    return config.stash[SESSION_KEY]
