"""Keeping native libraries' console chatter (MediaPipe, Kaldi) away from users."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to the process's stderr (fd 2) to /dev/null meanwhile.

    Python exceptions raised inside still propagate; only the raw writes are lost. Where
    fd 2 cannot be duplicated (no console), nothing is changed.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
