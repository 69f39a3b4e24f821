"""Corpora in the AVEC 2017 layout: loading, aligning, and splitting Devel.

A corpus folder holds one sub-folder per modality (``audio_features_xbow_6s/``,
``video_features_xbow_6s/``, ``text_features_xbow_6s/``) and ``labels/``; each holds files
``Train_01.csv``, ``Devel_01.csv``, ``Test_01.csv``, ... with ``;``-separated rows
``name;timestamp;f1;...;fN`` (labels: ``name;timestamp;arousal;valence;liking``), one row
per 0.1 s. Any file may start with a header line (detected: a first line none of whose
fields after the first is a number).

Alignment rules (all failures raise a one-line :class:`CorpusError` naming file and line):

- Timestamps are rounded to 0.1 s; every file must have one row per 0.1 s, no gaps.
- The labels file is the time reference (for an unlabelled Test recording: the first
  modality). Every modality file must start at the same time as the reference.
- A modality file may end up to ``max_pad_s`` before the reference (our ``features bow``
  files stop at the last frame or word); the missing rows repeat its last row. A longer
  shortfall, or rows past the reference's end, is an error.
- Train and Devel recordings need labels; Test recordings without a labels file get
  ``labels=None``. Every requested modality must exist for every recording.
- A labels file without a header has three value columns: arousal, valence, liking. With a
  header it may name any of them (e.g. only arousal and valence); columns are put in the
  order arousal, valence, liking and every labels file of a corpus must name the same ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.training.synthetic import SyntheticTruth, make_synthetic_corpus

__all__ = [
    "Corpus", "CorpusError", "Recording", "SyntheticTruth", "load_corpus",
    "make_synthetic_corpus", "split_devel", "tuning_and_test",
]  # fmt: skip

HOP_S = 0.1  # one row per 0.1 s
LABEL_NAMES = ("arousal", "valence", "liking")
MODALITY_FOLDERS = {
    "audio": "audio_features_xbow_6s",
    "video": "video_features_xbow_6s",
    "text": "text_features_xbow_6s",
}
LABELS_FOLDER = "labels"
PARTITIONS = ("train", "devel", "test")
_FILE_RE = re.compile(r"^(train|devel|test)_(\d+)\.csv$", re.IGNORECASE)


class CorpusError(StreamerError):
    """A corpus file is missing or malformed; the message names the file and the line."""


@dataclass
class Recording:
    """One recording: aligned features of each modality and (optionally) labels.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"Train_01"``.
    partition : str
        ``"train"``, ``"devel"`` or ``"test"``.
    timestamps : np.ndarray
        (n,) float64 times (s), ``k * 0.1`` for consecutive k.
    features : dict of str to np.ndarray
        Modality -> (n, d) float32 features, rows aligned with ``timestamps``.
    labels : np.ndarray or None
        (n, k) float32 labels in the order of ``label_names``; None for unlabelled Test.
    label_names : tuple of str
        Names of the label columns (a subset of arousal, valence, liking, in that order).
    n_padded : dict of str to int
        Modality -> rows repeated at the end to reach the labels' length.
    """

    name: str
    partition: str
    timestamps: np.ndarray
    features: dict[str, np.ndarray]
    labels: np.ndarray | None
    label_names: tuple[str, ...] = LABEL_NAMES
    n_padded: dict[str, int] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of 0.1-s rows."""
        return len(self.timestamps)


@dataclass
class Corpus:
    """A loaded corpus.

    Attributes
    ----------
    folder : Path
        The corpus folder.
    recordings : dict of str to list of Recording
        ``"train"``, ``"devel"``, ``"test"`` -> recordings sorted by name (lists may be empty).
    dims : dict of str to int
        Modality -> number of feature columns.
    label_names : tuple of str
        Label columns (a subset of arousal, valence, liking, in that order).
    """

    folder: Path
    recordings: dict[str, list[Recording]]
    dims: dict[str, int]
    label_names: tuple[str, ...]

    @property
    def modalities(self) -> tuple[str, ...]:
        """The loaded modalities, in the order they were asked for."""
        return tuple(self.dims)


@dataclass
class _Table:
    """One parsed file: times (s), values (n, d), header fields or None, first data line."""

    path: Path
    times_s: np.ndarray
    values: np.ndarray
    header: list[str] | None
    first_line: int  # 1-based line number of the first data row

    def line(self, row: int) -> int:
        """1-based line number of data row ``row``."""
        return self.first_line + row


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_table(path: Path, dtype: type, separator: str = ";") -> _Table:
    """Parse ``name;timestamp;v1;...`` rows (optional header) into a :class:`_Table`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not a UTF-8 text file (expected ;-separated rows)") from None
    text = text.rstrip()
    if not text:
        raise CorpusError(f"{path} line 1: empty file (expected ;-separated rows)")
    lines = text.split("\n")
    first = lines[0].split(separator)
    if len(first) < 3:
        raise CorpusError(
            f"{path} line 1: expected at least 3 ;-separated fields (name;timestamp;values), got {len(first)}"
        )
    header = None
    if not any(_is_number(f) for f in first[1:]):  # a corrupted data row is not a header
        header = [f.strip() for f in first]
        lines = lines[1:]
    first_line = 2 if header else 1
    if not lines or not lines[0].strip():
        raise CorpusError(f"{path} line {first_line}: no data rows")
    n_sep = len(first) - 1
    for i, line in enumerate(lines):
        if line.count(separator) != n_sep:
            what = "an empty line" if not line.strip() else f"{line.count(separator) + 1} fields"
            raise CorpusError(
                f"{path} line {first_line + i}: {what} where line 1 has {n_sep + 1} (every row needs the same columns)"
            )
    try:
        data = np.loadtxt(
            lines, delimiter=separator, usecols=range(1, n_sep + 1), dtype=dtype,
            comments=None, ndmin=2,
        )  # fmt: skip
    except ValueError as exc:
        for i, line in enumerate(lines):
            for j, value in enumerate(line.split(separator)[1:], start=2):
                if not _is_number(value):
                    raise CorpusError(
                        f"{path} line {first_line + i}, field {j}: {value.strip()!r} is not a number"
                    ) from None
        raise CorpusError(f"{path}: {exc}") from None
    finite = np.isfinite(data)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise CorpusError(
            f"{path} line {first_line + row}, field {col + 2}: {data[row, col]} (values must be finite numbers)"
        )
    times_s = data[:, 0].astype(np.float64)
    table = _Table(path, times_s, data[:, 1:], header, first_line)
    _check_grid(table)
    return table


def _hop_index(times_s: np.ndarray) -> np.ndarray:
    return np.rint(times_s / HOP_S).astype(np.int64)


def _check_grid(table: _Table) -> None:
    """Raise unless the rows are consecutive 0.1-s hops."""
    steps = np.diff(_hop_index(table.times_s))
    bad = np.flatnonzero(steps != 1)
    if bad.size:
        row = int(bad[0]) + 1
        raise CorpusError(
            f"{table.path} line {table.line(row)}: timestamp {table.times_s[row]:.3f} s follows "
            f"{table.times_s[row - 1]:.3f} s (rows must be every {HOP_S} s, in order)"
        )


def _align(table: _Table, ref: _Table, max_pad_s: float) -> tuple[np.ndarray, int]:
    """Rows of ``table`` on the time grid of ``ref``: (values, number of repeated rows)."""
    k_ref, k = _hop_index(ref.times_s[:1])[0], _hop_index(table.times_s[:1])[0]
    if k != k_ref:
        raise CorpusError(
            f"{table.path} line {table.line(0)}: starts at {table.times_s[0]:.3f} s but "
            f"{ref.path} starts at {ref.times_s[0]:.3f} s (line {ref.line(0)})"
        )
    n, n_ref = len(table.times_s), len(ref.times_s)
    if n > n_ref:
        raise CorpusError(
            f"{table.path} line {table.line(n_ref)}: row at {table.times_s[n_ref]:.3f} s is past "
            f"the end of {ref.path} ({n_ref} rows, last {ref.times_s[-1]:.3f} s, line "
            f"{ref.line(n_ref - 1)}); both files must cover the same times"
        )
    n_pad = n_ref - n
    if n_pad * HOP_S > max_pad_s + 1e-9:
        raise CorpusError(
            f"{table.path} line {table.line(n - 1)}: ends at {table.times_s[-1]:.3f} s ({n} rows) "
            f"but {ref.path} runs to {ref.times_s[-1]:.3f} s ({n_ref} rows); at most "
            f"{max_pad_s:g} s may be padded (max_pad_s)"
        )
    values = table.values
    if n_pad:
        values = np.concatenate([values, np.repeat(values[-1:], n_pad, axis=0)])
    return values, n_pad


def _label_names(table: _Table) -> tuple[str, ...]:
    """Label column names from the header (or the AVEC three), checked; in canonical order."""
    n_values = table.values.shape[1]
    if table.header is None:
        if n_values != len(LABEL_NAMES):
            raise CorpusError(
                f"{table.path} line 1: {n_values} label columns without a header; give a header "
                f"naming them (name;timestamp;arousal;valence) or use arousal;valence;liking"
            )
        return LABEL_NAMES
    names = [h.lower() for h in table.header[2:]]
    unknown = [h for h in names if h not in LABEL_NAMES]
    if unknown or len(set(names)) != len(names):
        raise CorpusError(
            f"{table.path} line 1: label columns {';'.join(table.header[2:])} must be distinct "
            f"names among {', '.join(LABEL_NAMES)}"
        )
    return tuple(n for n in LABEL_NAMES if n in names)


def _reorder_labels(table: _Table, names: tuple[str, ...]) -> np.ndarray:
    if table.header is None:
        return table.values.astype(np.float32)
    columns = [h.lower() for h in table.header[2:]]
    return table.values[:, [columns.index(n) for n in names]].astype(np.float32)


def _list_files(folder: Path) -> dict[str, Path]:
    """Stem -> path of the ``Train_NN.csv`` / ``Devel_NN.csv`` / ``Test_NN.csv`` files."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: folder not found (an AVEC 2017 corpus needs it)")
    return {p.stem: p for p in sorted(folder.iterdir()) if _FILE_RE.match(p.name)}


def load_corpus(
    folder: str | Path,
    modalities: tuple[str, ...] = ("audio", "video", "text"),
    max_pad_s: float = 1.0,
) -> Corpus:
    """Load a corpus in the AVEC 2017 layout (see the module docstring for the rules).

    Parameters
    ----------
    folder : str or Path
        The corpus folder (holding the modality folders and ``labels/``).
    modalities : tuple of str
        Modalities to load, among ``audio``, ``video``, ``text``.
    max_pad_s : float
        Longest time (s) a modality file may end before the labels; its last row is repeated.

    Returns
    -------
    Corpus
        Recordings of each partition, feature dimensions, label names.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: corpus folder not found")
    unknown = [m for m in modalities if m not in MODALITY_FOLDERS]
    if unknown or not modalities:
        raise CorpusError(
            f"unknown modalities {unknown or '(none)'}: choose among {', '.join(MODALITY_FOLDERS)}"
        )
    files = {m: _list_files(folder / MODALITY_FOLDERS[m]) for m in modalities}
    label_files = _list_files(folder / LABELS_FOLDER)
    stems = sorted(set(label_files).union(*files.values()))
    if not stems:
        raise CorpusError(f"{folder}: no Train_NN.csv, Devel_NN.csv or Test_NN.csv files found")
    recordings: dict[str, list[Recording]] = {p: [] for p in PARTITIONS}
    dims: dict[str, int] = {}
    dims_from: dict[str, Path] = {}
    label_names: tuple[str, ...] | None = None
    names_from: Path | None = None
    for stem in stems:
        partition = _FILE_RE.match(stem + ".csv").group(1).lower()
        present = {m: f[stem] for m, f in files.items() if stem in f}
        if stem in label_files:
            present["labels"] = label_files[stem]
        example = next(iter(present.values()))
        for m in modalities:
            if m not in files or stem not in files[m]:
                raise CorpusError(
                    f"{folder / MODALITY_FOLDERS[m] / (stem + '.csv')}: file missing "
                    f"({example} exists); every recording needs every modality"
                )
        if stem not in label_files and partition != "test":
            raise CorpusError(
                f"{folder / LABELS_FOLDER / (stem + '.csv')}: file missing ({example} exists); "
                f"Train and Devel recordings need labels"
            )
        tables = {m: _read_table(files[m][stem], np.float32) for m in modalities}
        labels = None
        if stem in label_files:
            ref = _read_table(label_files[stem], np.float64)
            names = _label_names(ref)
            if label_names is None:
                label_names, names_from = names, ref.path
            elif names != label_names:
                raise CorpusError(
                    f"{ref.path} line 1: label columns {', '.join(names)} differ from "
                    f"{', '.join(label_names)} in {names_from}"
                )
            labels = _reorder_labels(ref, names)
        else:
            ref = tables[modalities[0]]
        features, n_padded = {}, {}
        for m, table in tables.items():
            d = table.values.shape[1]
            if m not in dims:
                dims[m], dims_from[m] = d, table.path
            elif d != dims[m]:
                raise CorpusError(
                    f"{table.path} line {table.line(0)}: {d} feature columns where "
                    f"{dims_from[m]} has {dims[m]} (a modality has one dimension)"
                )
            features[m], n_padded[m] = _align(table, ref, max_pad_s)
        timestamps = np.round(_hop_index(ref.times_s) * HOP_S, 6)
        recordings[partition].append(
            Recording(stem, partition, timestamps, features, labels, label_names or (), n_padded)
        )
    label_names = label_names or LABEL_NAMES
    for recording in recordings["test"]:  # unlabelled ones read before the first labels file
        recording.label_names = label_names
    _check_labels_vary(folder, recordings, label_names)
    return Corpus(folder, recordings, dims, label_names)


def _check_labels_vary(folder: Path, recordings: dict, label_names) -> None:
    """A one-line error when a dimension's labels are one constant over a labelled partition:
    the CCC, and so training and evaluation, are undefined on it."""
    for partition in ("train", "devel"):
        labelled = [r for r in recordings[partition] if r.labels is not None]
        if not labelled:
            continue
        values = np.concatenate([r.labels for r in labelled])
        for k, name in enumerate(label_names):
            if np.ptp(values[:, k]) == 0:
                raise CorpusError(
                    f"the {name} labels of every {partition.title()} recording in "
                    f"{folder / LABELS_FOLDER} are {values[0, k]:g}: the CCC is undefined on "
                    "constant labels; give labels that vary (or leave that column out)"
                )


def split_devel(
    corpus: Corpus, n_tuning: int = 5, seed: int = 0
) -> tuple[list[Recording], list[Recording]]:
    """Split Devel by recording into a tuning subset and a test subset (the paper: 5 and 9).

    Parameters
    ----------
    corpus : Corpus
        A loaded corpus.
    n_tuning : int
        Recordings in the tuning subset; the rest form the test subset.
    seed : int
        Seed of the random choice (same seed and corpus -> same split).

    Returns
    -------
    tuning, test : list of Recording
        Both sorted by name.
    """
    devel = sorted(corpus.recordings["devel"], key=lambda r: r.name)
    if not 1 <= n_tuning < len(devel):
        raise CorpusError(
            f"cannot take {n_tuning} tuning recordings from {len(devel)} Devel recordings in "
            f"{corpus.folder} (choose 1 to {len(devel) - 1})"
        )
    chosen = set(np.random.default_rng(seed).permutation(len(devel))[:n_tuning].tolist())
    tuning = [r for i, r in enumerate(devel) if i in chosen]
    test = [r for i, r in enumerate(devel) if i not in chosen]
    return tuning, test


def tuning_and_test(corpus: Corpus, training) -> tuple[list[Recording], list[Recording]]:
    """The tuning and test recordings that ``training.test_partition`` asks for.

    ``"devel"``: ``split_devel`` with ``training.tuning_recordings`` and ``training.seed``
    (the paper's protocol). ``"test"``: every Devel recording for tuning and the labelled
    Test recordings for testing (a corpus such as the demo corpus that has Test labels).
    """
    if training.test_partition == "devel":
        return split_devel(corpus, training.tuning_recordings, training.seed)
    tuning = sorted(corpus.recordings["devel"], key=lambda r: r.name)
    test = sorted(
        (r for r in corpus.recordings["test"] if r.labels is not None), key=lambda r: r.name
    )
    if not tuning or not test:
        raise CorpusError(
            f"training.test_partition is 'test' but {corpus.folder} has {len(tuning)} Devel and "
            f"{len(test)} labelled Test recordings: add them or set training.test_partition: devel"
        )
    return tuning, test
