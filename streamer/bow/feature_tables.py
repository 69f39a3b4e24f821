"""Reading the CSV files of ``streamer features audio|video|text`` back, by feature group.

The kind of a file is told by its header: ``name;frameTime;Loudness_sma3;...`` (audio
LLDs), ``name;frameTime;face;pitch;...`` (face features), ``start;end;word;confidence``
(words). Either separator, ``;`` or ``,``, is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.features.face.tracker import N_EYE_POINTS, N_LANDMARKS
from streamer.features.lld.extractor import LLD_NAMES
from streamer.types import Word

GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "audio": LLD_NAMES,
    "pose": ("pitch", "yaw", "roll"),
    "eyes": tuple(f"eye{i}_{axis}" for i in range(N_EYE_POINTS) for axis in "xy"),
    "landmarks": tuple(f"lm{i}_{axis}" for i in range(N_LANDMARKS) for axis in "xy"),
}
VIDEO_GROUPS = ("pose", "eyes", "landmarks")
WORD_HEADER = ("start", "end", "word", "confidence")
MAX_TIME_S = 7 * 24 * 3600.0  # a recording longer than a week is a unit error


class FeatureFileError(StreamerError):
    """A features CSV that cannot be read or does not hold what is asked of it."""


@dataclass(frozen=True)
class FeatureTable:
    """The frames of one recording's features CSV.

    Attributes
    ----------
    recording : str
        The ``name`` column (or the file name for word files).
    kind : str
        ``"audio"``, ``"video"``, ``"text"`` or ``"numeric"`` (any CSV, read with a
        column selection by ``column_selection.read_numeric_csv``).
    t_s : ndarray, shape (n_rows,)
        ``frameTime`` of each row (for words: their end time).
    columns : tuple of str
        Names of the columns of ``values``.
    values : ndarray, shape (n_rows, n_columns)
        The numbers (empty for word files).
    words : tuple of Word
        The words of a word file (empty otherwise).
    """

    recording: str
    kind: str
    t_s: np.ndarray
    columns: tuple[str, ...]
    values: np.ndarray
    words: tuple[Word, ...] = ()

    def group(self, group: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame times and values of one feature group; face rows only where a face was found.

        Raises
        ------
        FeatureFileError
            When the file does not hold that group's columns.
        """
        wanted = GROUP_COLUMNS.get(group)
        missing = [] if wanted is None else [c for c in wanted if c not in self.columns]
        if wanted is None or missing:
            raise FeatureFileError(
                f"{self.recording}: a {self.kind} features file has no {group!r} columns "
                f"(missing {', '.join(missing[:3]) or group}): give the CSVs of "
                f"`streamer features {'audio' if group == 'audio' else 'video'}`"
            )
        rows = np.ones(len(self.t_s), dtype=bool)
        if group in VIDEO_GROUPS:
            rows = self.values[:, self.columns.index("face")] > 0.5
        index = [self.columns.index(c) for c in wanted]
        return self.t_s[rows], self.values[np.ix_(rows, index)]


def read_feature_csv(path: str | Path) -> FeatureTable:
    """Read one CSV written by ``streamer features audio``, ``video`` or ``text``."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as file:
            header_line = file.readline().rstrip("\n")
            body = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureFileError(f"cannot read features file {path} ({exc})") from None
    separator = ";" if ";" in header_line else ","
    header = tuple(header_line.split(separator))
    lines = [line.split(separator) for line in body.splitlines() if line.strip()]
    if header == WORD_HEADER:
        return _word_table(path, lines)
    if header[:2] != ("name", "frameTime") or len(header) < 3:
        raise FeatureFileError(
            f"{path} is not a features CSV of streamer (its header starts "
            f"{separator.join(header[:3])!r}): give files written by `streamer features ...`"
        )
    kind = "video" if header[2] == "face" else "audio"
    if any(len(line) != len(header) for line in lines):
        raise FeatureFileError(f"{path} is damaged: a row has not {len(header)} columns")
    if not lines:
        raise FeatureFileError(f"{path} has a header but no rows: give a file with frames")
    try:
        numbers = np.array([line[1:] for line in lines], dtype=np.float64).reshape(len(lines), -1)
    except ValueError:
        bad = next(n for n, line in enumerate(lines, 2) if not all(map(is_number, line[1:])))
        raise FeatureFileError(
            f"{path} is damaged: line {bad} has a value that is not a number"
        ) from None
    check_numbers(path, numbers[:, 0], numbers[:, 1:], header[2:], first_line=2)
    recording = lines[0][0] if lines else path.stem
    return FeatureTable(recording, kind, numbers[:, 0], header[2:], numbers[:, 1:])


def is_number(cell: str) -> bool:
    """Whether a CSV cell reads as a float."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def check_numbers(path, t_s: np.ndarray, values: np.ndarray, columns, first_line: int) -> None:
    """A one-line error for a NaN or infinite value, or a time beyond a week, with its line.

    ``first_line`` is the file's line number of row 0.
    """
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise FeatureFileError(
            f"{path}, line {row + first_line}: {columns[column]} is {values[row, column]} "
            "(frames must be finite numbers): fill or drop that row"
        )
    late = ~(np.abs(t_s) <= MAX_TIME_S)  # NaN too
    if late.any():
        row = int(np.argmax(late))
        raise FeatureFileError(
            f"{path}, line {row + first_line}: time {t_s[row]:g} s is not within "
            f"{MAX_TIME_S:g} s (a week): times are seconds from the recording's start"
        )


def _word_table(path: Path, lines: list[list[str]]) -> FeatureTable:
    try:
        words = tuple(Word(w, float(a), float(b), float(c)) for a, b, w, c in lines)
    except ValueError:
        raise FeatureFileError(
            f"{path} is damaged: a row is not start;end;word;confidence"
        ) from None
    end_s = np.array([w.end_s for w in words])
    starts = np.array([w.start_s for w in words]).reshape(-1, 1)
    check_numbers(path, end_s, starts, ("start",), first_line=2)
    return FeatureTable(path.stem, "text", end_s, (), np.zeros((len(words), 0)), words)
