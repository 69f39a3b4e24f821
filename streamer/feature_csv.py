"""Frame-level feature CSV files in openSMILE / openXBOW layout: ``name;frameTime;f1;...``."""

from __future__ import annotations

from pathlib import Path

from streamer.errors import StreamerError
from streamer.types import FeatureFrames


class FeatureCsvWriter:
    """Write feature frames to a CSV file, flushing after every batch.

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
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise StreamerError(
                f"cannot write {self.path}: {exc.strerror} (choose another --out)"
            ) from None
        self.names = names
        self._row_format = separator.join(
            [recording.replace(separator, "_"), "%.3f"] + [f"%.{float_digits}g"] * len(names)
        )
        self._file.write(separator.join(["name", "frameTime", *names]) + "\n")
        self._file.flush()
        self.n_rows = 0

    def write(self, frames: FeatureFrames) -> None:
        """Append frames (columns in the writer's order) and flush them to disk."""
        if frames.names != self.names:
            raise ValueError("frame columns do not match the CSV header")
        lines = [
            self._row_format % (t, *row) for t, row in zip(frames.t_s, frames.values, strict=True)
        ]
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
            self.n_rows += len(lines)

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> FeatureCsvWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
