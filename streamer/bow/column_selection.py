"""Any numeric CSV as bag input: which columns hold the name, the time and the features.

openXBOW takes any ``;``- or ``,``-separated numeric file and an attribute string
(``-attributes``) saying what each column is; so do ``streamer features bow`` and
``streamer codebooks fit``. A :class:`ColumnSelection` is either

* openXBOW's attribute string, one letter per column: ``n`` the name, ``t`` the time (s),
  ``1``-``9`` a feature of the first..ninth codebook, ``0``, ``c`` or ``r`` a column to
  skip (text, label, removed); a letter followed by ``[k]`` stands for ``k`` columns, so
  ``nt1[23]`` is a name, a time and 23 features of one codebook; or
* column names from the header, one list per codebook, with the time column named (or
  found: ``frameTime``, ``time``, ``timestamp``, ``time_s``) and an optional ``name``
  column.

A header line is optional with an attribute string (the first line is a header when its
time or feature cells are not numbers) and needed with column names. Names may be quoted
(``'rec'``) as openXBOW writes them; a file holds one recording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.feature_tables import (
    FeatureFileError,
    FeatureTable,
    check_numbers,
    is_number,
)

TIME_COLUMN_NAMES = ("frameTime", "time", "timestamp", "time_s")
_ATTRIBUTE = re.compile(r"([nt0-9cr])(?:\[(\d+)\])?")


@dataclass(frozen=True)
class ColumnSelection:
    """The columns of a plain numeric CSV that bags are made of (see the module docstring).

    Attributes
    ----------
    attributes : str
        openXBOW's attribute string, or "".
    columns : tuple of tuple of str
        Feature column names per codebook (needs a header), or ().
    time_column : str
        Name of the time column with ``columns`` ("" = the first of ``TIME_COLUMN_NAMES``).
    """

    attributes: str = ""
    columns: tuple[tuple[str, ...], ...] = ()
    time_column: str = ""

    def __post_init__(self) -> None:
        if bool(self.attributes) == bool(self.columns):
            raise FeatureFileError(
                "give the feature columns either as openXBOW attributes (--attributes nt1[23]) "
                "or as column names (--columns a,b,c), not both"
            )
        if self.attributes:
            _expand(self.attributes)  # checked now, before any file is read

    @property
    def n_codebooks(self) -> int:
        """Number of feature groups, one per codebook."""
        if self.columns:
            return len(self.columns)
        return len({c for c in _expand(self.attributes) if c in "123456789"})


def _expand(attributes: str) -> str:
    """``nt1[3]r`` -> ``nt111r``; raises a one-line error for anything else."""
    parts, position = [], 0
    for match in _ATTRIBUTE.finditer(attributes):
        if match.start() != position:
            break
        parts.append(match.group(1) * int(match.group(2) or 1))
        position = match.end()
    if position != len(attributes) or not parts:
        raise FeatureFileError(
            f"bad attribute string {attributes!r} at character {position + 1}: use openXBOW's "
            "letters n (name), t (time), 1-9 (features of codebook 1-9), 0/c/r (skip), "
            "each optionally followed by [count], e.g. nt1[23]"
        )
    expanded = "".join(parts)
    if expanded.count("t") != 1 or expanded.count("n") > 1:
        raise FeatureFileError(
            f"attribute string {attributes!r} needs exactly one time column (t) and at most "
            "one name column (n)"
        )
    digits = sorted({c for c in expanded if c in "123456789"})
    if digits != [str(i) for i in range(1, len(digits) + 1)]:
        raise FeatureFileError(
            f"attribute string {attributes!r} must number its codebooks 1, 2, ... without gaps"
        )
    return expanded


def _layout(selection: ColumnSelection, first: list[str], path: Path):
    """(has_header, column names, name index, time index, feature indices per codebook)."""
    n_columns = len(first)
    if selection.attributes:
        kinds = _expand(selection.attributes)
        if len(kinds) != n_columns:
            raise FeatureFileError(
                f"{path} has {n_columns} columns but the attributes {selection.attributes!r} "
                f"describe {len(kinds)}: give one letter per column"
            )
        time_index = kinds.index("t")
        groups = [
            [j for j, kind in enumerate(kinds) if kind == str(d)]
            for d in range(1, selection.n_codebooks + 1)
        ]
        used = [time_index] + [j for group in groups for j in group]
        has_header = not all(is_number(first[j]) for j in used)
        names = first if has_header else [f"column{j + 1}" for j in range(n_columns)]
        return has_header, names, kinds.find("n") if "n" in kinds else None, time_index, groups
    names = [cell.strip().strip("'\"") for cell in first]
    time_name = selection.time_column or next((c for c in TIME_COLUMN_NAMES if c in names), "")
    if time_name not in names:
        raise FeatureFileError(
            f"{path} has no time column {time_name or '(frameTime, time, timestamp)'} in its "
            "header: name it with --time-column"
        )
    groups = []
    for wanted in selection.columns:
        missing = [c for c in wanted if c not in names]
        if missing:
            raise FeatureFileError(
                f"{path} has no column {missing[0]!r} (its header starts "
                f"{';'.join(names[:4])!r}): check --columns"
            )
        groups.append([names.index(c) for c in wanted])
    name_index = names.index("name") if "name" in names else None
    return True, names, name_index, names.index(time_name), groups


def read_numeric_csv(path: str | Path, selection: ColumnSelection) -> FeatureTable:
    """Read one recording's frames from a plain numeric CSV.

    Returns
    -------
    FeatureTable
        Of kind ``"numeric"``: ``t_s`` the time column, ``columns`` the names of the
        selected feature columns of every codebook in order, ``values`` their numbers;
        :func:`codebook_slices` tells which belong to which codebook.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as file:
            first_line = file.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureFileError(f"cannot read features file {path} ({exc})") from None
    if not first_line.strip():
        raise FeatureFileError(f"{path} is empty: give a CSV with one frame per line")
    separator = ";" if ";" in first_line else ","
    first = first_line.split(separator)
    has_header, names, name_index, time_index, groups = _layout(selection, first, path)
    used = [time_index] + [j for group in groups for j in group]
    try:
        numbers = np.loadtxt(
            path, delimiter=separator, skiprows=int(has_header), usecols=used,
            dtype=np.float64, ndmin=2, encoding="utf-8", comments=None,
        )  # fmt: skip
        recordings = set()
        if name_index is not None:
            cells = np.loadtxt(
                path, delimiter=separator, skiprows=int(has_header), usecols=[name_index],
                dtype=str, ndmin=1, encoding="utf-8", comments=None,
            )  # fmt: skip
            recordings = {str(cell).strip().strip("'\"") for cell in cells}
    except ValueError as exc:
        raise FeatureFileError(f"{path} is damaged: {exc}") from None
    if len(recordings) > 1:
        shown = ", ".join(sorted(recordings)[:3])
        raise FeatureFileError(
            f"{path} holds {len(recordings)} recordings ({shown}, ...): give one file per recording"
        )
    columns = tuple(names[j] for j in used[1:])
    check_numbers(path, numbers[:, 0], numbers[:, 1:], columns, first_line=1 + has_header)
    recording = recordings.pop() if recordings else path.stem
    return FeatureTable(recording, "numeric", numbers[:, 0], columns, numbers[:, 1:])


def codebook_slices(selection: ColumnSelection) -> list[slice]:
    """Where each codebook's features are among the columns of :func:`read_numeric_csv`."""
    if selection.columns:
        sizes = [len(group) for group in selection.columns]
    else:
        kinds = _expand(selection.attributes)
        sizes = [kinds.count(str(d)) for d in range(1, selection.n_codebooks + 1)]
    bounds = np.cumsum([0, *sizes])
    return [slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(sizes))]
