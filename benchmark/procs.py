"""Child processes that die with their parent (Linux): a SIGKILLed parent leaves no orphan behind."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(parent_pid: int) -> None:
    """Called in the child: SIGKILL it when the parent (the thread that forked it) ends; exit if it already has."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(1)


def bind_to_parent(parent_pid: int) -> Callable[[], None]:
    """A subprocess `preexec_fn` doing `die_with_parent`; libc is loaded before the fork (preexec_fn must not
    import or allocate much)."""
    _libc()

    def preexec() -> None:
        die_with_parent(parent_pid)

    return preexec
