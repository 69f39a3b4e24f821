"""Status output (progress bars, summaries, messages) that never stops the work.

``streamer replay ... 2>&1 | head -c 300`` closes the pipe behind stderr after 300 bytes;
the next progress bar would raise ``BrokenPipeError`` and end the replay with rows missing.
While a command runs, ``sys.stderr`` is a :class:`StatusStream`: once a write fails, the
rest of the status output is dropped and the work goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys


class StatusStream:
    """A text stream that drops what it cannot write instead of raising.

    Parameters
    ----------
    stream : text stream
        Where status text goes (the process's stderr).
    """

    def __init__(self, stream):
        self._stream = stream
        self.broken = False  # a write failed: nothing more is written
        self._mid_line = False  # the last text did not end a line (a progress bar)

    def write(self, text: str) -> int:
        if not self.broken and text:
            try:
                self._stream.write(text)
                self._mid_line = not text.endswith("\n")
            except (OSError, ValueError):  # a closed pipe or file
                self.broken = True
        return len(text)

    def end_line(self) -> None:
        """End a line left open (by a progress bar), so that a message starts on its own."""
        if self._mid_line:
            self.write("\n")

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def __getattr__(self, name):  # isatty, fileno, encoding, ... of the wrapped stream
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_when_closed():
    """While active, ``sys.stderr`` drops status text it cannot write; afterwards a broken
    stderr is pointed at the null device, so that Python's own flush at exit is quiet."""
    original = sys.stderr
    status = StatusStream(original)
    sys.stderr = status
    try:
        yield status
    finally:
        sys.stderr = original
        if status.broken:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), original.fileno())
