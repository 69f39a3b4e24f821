"""Writing output files so that no input and no other writer is harmed.

Three rules every command follows:

* an output that is the same file as an input (under any spelling: ``./a/../a/x.mp4``,
  links) is refused before anything is opened for writing (:func:`refuse_inputs_as_outputs`);
* a file written row by row (CSV time series) is held under an exclusive lock while it is
  written, so that a second streamer process refuses to write it instead of interleaving
  its rows (:func:`open_exclusively`); rows are flushed as they come, so a crash keeps them;
* a file written whole (bags, codebooks, vocabularies, models) goes to a temporary file in
  the same folder, renamed over the target when complete (:func:`write_atomically`): a
  reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from streamer.errors import StreamerError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return a.resolve() == b.resolve()


def refuse_inputs_as_outputs(outputs: Iterable, inputs: Iterable) -> None:
    """Raise a one-line error when an output path names the same file as an input.

    Parameters
    ----------
    outputs, inputs : iterables of str or Path
        Files about to be written, and files being read (None entries are skipped).
    """
    inputs = [Path(p) for p in inputs if p is not None]
    for output in (Path(p) for p in outputs if p is not None):
        for source in inputs:
            if _same_file(output, source):
                raise StreamerError(
                    f"the output {output} is the input {source}: writing it would destroy the "
                    "input; choose another output file"
                )


def _write_error(path: Path, exc: OSError) -> StreamerError:
    return StreamerError(f"cannot write {path}: {exc.strerror or exc} (choose another output file)")


def open_exclusively(path: str | Path) -> IO[bytes]:
    """Open ``path`` for unbuffered binary writing, emptied, under an exclusive lock held
    until it is closed.

    The file is locked before it is emptied, so a second writer is refused without touching
    what the first has written.

    Raises
    ------
    StreamerError
        When another process holds the lock, or the file cannot be opened.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StreamerError(
            f"another process is writing {path}: wait for it to finish or choose another file"
        ) from None
    except OSError:
        pass  # a file system or device without locks (a pipe, /dev/null): write unlocked
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.ftruncate(fd, 0)
    return os.fdopen(fd, "wb", buffering=0)


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it when complete.

    A path that is not a regular file (``/dev/null``, a named pipe) is written directly:
    renaming over it would replace the device.

    Raises
    ------
    StreamerError
        When the folder cannot be made or the file cannot be written (disk full, no
        permission); the old file, if any, is left as it was.
    """
    path = Path(path)
    mode, encoding = ("wb", None) if isinstance(data, bytes) else ("w", "utf-8")
    temporary = None
    try:
        if path.exists() and not path.is_file():
            if path.is_dir():
                raise StreamerError(f"cannot write {path}: it is a folder (choose a file name)")
            with path.open(mode, encoding=encoding) as file:
                file.write(data)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".partial", dir=path.parent
        )
        with os.fdopen(fd, mode, encoding=encoding) as file:
            file.write(data)
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise _write_error(path, exc) from None
