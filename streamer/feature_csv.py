"""Feature CSV files: frame-level ``name;frameTime;f1;...`` (openSMILE / openXBOW) and words.

Every batch of rows is flushed to disk as soon as it is written, so a process that is
killed loses nothing it had already written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.types import FeatureFrames, Word


class FlushedCsv:
    """A CSV file written row batch by row batch, each batch flushed to disk (its folder
    is created if needed); the base of every CSV writer streamer has."""

    def __init__(self, path: str | Path, header: list[str], separator: str):
        self.path = Path(path)
        self.separator = separator
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise StreamerError(
                f"cannot write {self.path}: {exc.strerror} (choose another output file)"
            ) from None
        self._file.write(separator.join(header) + "\n")
        self._file.flush()
        self.n_rows = 0  # data rows written

    def _write_lines(self, lines: list[str]) -> None:
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
            self.n_rows += len(lines)

    def close(self) -> None:
        """Flush and close the file."""
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
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise StreamerError(f"cannot write {path}: {exc.strerror} (choose another --out)") from None
