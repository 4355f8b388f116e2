"""A child process that must not outlive the process that started it."""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies, however it dies.

    `serve` sets it on its children, so none keeps the port or the queue
    once `serve` is gone (SIGKILL, a crash); the web app sets it where it
    is loaded (gunicorn's master, with --preload), a second guard beside
    gunicorn's own workers, which exit when their master is gone.
    SIGKILL rather than SIGTERM, so nothing lingers in a graceful shutdown
    while a restarted parent binds the same port. Elsewhere: nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        return
    if os.getppid() == 1:  # the parent died before the line above: too late to be told
        os.kill(os.getpid(), signal.SIGKILL)
