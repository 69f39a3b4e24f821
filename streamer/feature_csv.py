"""Feature CSV files: frame-level ``name;frameTime;f1;...`` (openSMILE / openXBOW) and words.

Every batch of rows is flushed to disk as soon as it is written, so a process that is
killed loses nothing it had already written; the file is locked while it is written, so a
second streamer process refuses it instead of mixing its rows in (``output_files``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.output_files import open_exclusively, write_atomically
from streamer.types import FeatureFrames, Word


class FlushedCsv:
    """A CSV file written row batch by row batch, each batch flushed to disk (its folder
    is created if needed), locked against other writers until closed; the base of every
    CSV writer streamer has.

    A write that fails (disk full) raises a one-line error naming the file; the rows
    written before it stay in the file, and the part of the failed batch that did get
    written is cut off again, so that the file ends with a complete row.
    """

    def __init__(self, path: str | Path, header: list[str], separator: str):
        self.path = Path(path)
        self.separator = separator
        self.n_rows = 0  # data rows written
        self._file = open_exclusively(self.path)
        self._n_bytes = 0  # bytes of complete rows in the file
        self._write(separator.join(header) + "\n")

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        rest = memoryview(data)
        try:
            while rest:  # an unbuffered write may take only part of the data
                rest = rest[self._file.write(rest) :]
        except OSError as exc:
            with contextlib.suppress(OSError):  # not for a device such as /dev/full
                os.ftruncate(self._file.fileno(), self._n_bytes)
            raise StreamerError(
                f"cannot write {self.path}: {exc.strerror or exc}; the {self.n_rows} rows "
                "written before are kept"
            ) from None
        self._n_bytes += len(data)

    def _write_lines(self, lines: list[str]) -> None:
        if lines:
            self._write("\n".join(lines) + "\n")
            self.n_rows += len(lines)

    def close(self) -> None:
        """Close the file (everything was flushed already)."""
        # the rows that could be written are on disk; a failed write has raised already
        with contextlib.suppress(OSError):
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class FeatureCsvWriter(FlushedCsv):
    """Write feature frames as ``name;frameTime;<names>`` rows.

    Parameters
    ----------
    path : str or Path
        The file to create (its folder is created if needed).
    names : tuple of str
        Feature column names, written after ``name`` and ``frameTime``.
    recording : str
        The value of the ``name`` column (the recording's name).
    separator : str
        Column separator, ``;`` (openXBOW) or ``,``.
    float_digits : int
        Significant digits of feature values.
    """

    def __init__(
        self,
        path: str | Path,
        names: tuple[str, ...],
        recording: str,
        separator: str = ";",
        float_digits: int = 7,
    ):
        super().__init__(path, ["name", "frameTime", *names], separator)
        self.names = names
        self._row_format = separator.join(
            [recording.replace(separator, "_"), "%.3f"] + [f"%.{float_digits}g"] * len(names)
        )

    def write(self, frames: FeatureFrames) -> None:
        """Append frames (columns in the writer's order) and flush them to disk."""
        if frames.names != self.names:
            raise ValueError("frame columns do not match the CSV header")
        rows = zip(frames.t_s, frames.values, strict=True)
        self._write_lines([self._row_format % (t, *row) for t, row in rows])


class WordCsvWriter(FlushedCsv):
    """Write recognised words as ``start;end;word;confidence`` rows (seconds, seconds, text, 0-1)."""

    def __init__(self, path: str | Path, separator: str = ";"):
        super().__init__(path, ["start", "end", "word", "confidence"], separator)

    def write(self, words: list[Word]) -> None:
        """Append words and flush them to disk."""
        sep = self.separator
        self._write_lines(
            [
                f"{w.start_s:.3f}{sep}{w.end_s:.3f}{sep}{w.text.replace(sep, '_')}{sep}{w.confidence:.3f}"
                for w in words
            ]
        )


def write_bags_csv(
    path: str | Path,
    recording: str,
    times_s: np.ndarray,
    bags: np.ndarray,
    separator: str = ";",
    float_digits: int = 7,
) -> None:
    """Write one recording's bags in the AVEC 2017 layout: ``name;timestamp;f1;...;fN``, no header."""
    row_format = separator.join(
        [recording.replace(separator, "_"), "%.3f"] + [f"%.{float_digits}g"] * bags.shape[1]
    )
    lines = [row_format % (t, *row) for t, row in zip(times_s, bags, strict=True)]
    write_atomically(path, "".join(line + "\n" for line in lines))
