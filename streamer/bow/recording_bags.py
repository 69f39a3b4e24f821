"""The bags of one recording from its features CSV: audio, video (pose + eyes + landmarks),
text, or the selected columns of any numeric CSV.

Bags are computed at every hop from 0 s to the recording's last row (for a video, rows
without a face count for the duration but not in the bags). Video bags are the pose,
eye and landmark bags side by side, in the order the codebooks are given; so are the bags
of a numeric CSV's feature groups (one per codebook, see ``column_selection``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamer.bow.calibration import running_calibration
from streamer.bow.codebook import Codebook
from streamer.bow.feature_tables import GROUP_COLUMNS, VIDEO_GROUPS, FeatureTable
from streamer.bow.rolling import bags, text_assignments
from streamer.config import BowConfig
from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary


def recording_bags(
    table: FeatureTable,
    books: list[Codebook | Vocabulary],
    config: BowConfig,
    slices: list[slice] | None = None,
    calibration=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hop times (s) and bags (n_hops, total words) of one recording.

    ``slices`` gives each codebook's columns of a numeric table (:func:`codebook_slices`).
    ``calibration`` (a ``CalibrationConfig``): per-person calibration, causal over the
    recording (one person), as the runtime applies it (:mod:`streamer.bow.calibration`).

    Raises
    ------
    StreamerError
        When a codebook does not fit the file (another group, other feature names or
        dimensions), or a word file is given a codebook instead of a vocabulary.
    """
    end_s = float(table.t_s.max()) if len(table.t_s) else 0.0
    if table.kind == "numeric" and len(slices or ()) != len(books):
        raise StreamerError(
            f"{table.recording}: {len(books)} codebooks for {len(slices or ())} feature groups of "
            "--attributes/--columns: give one codebook per group, in order"
        )
    parts = []
    for i, book in enumerate(books):
        if isinstance(book, Vocabulary):
            if table.kind != "text":
                raise StreamerError(
                    f"{table.recording}: a text vocabulary was given for {table.kind} features: "
                    "give it the word CSVs of `streamer features text`"
                )
            t_s, assignments = text_assignments(table.words, book)
            n_words = len(book)
        else:
            if table.kind == "text":
                raise StreamerError(
                    f"{table.recording}: a word file needs the text vocabulary, not the "
                    f"{book.group or 'numeric'} codebook: fit one with "
                    "`streamer codebooks fit --group text`"
                )
            if table.kind == "numeric":
                t_s, values = table.t_s, table.values[:, slices[i]]
                book.check_features(table.columns[slices[i]])
            else:
                group = book.group or _group_of(book, table)
                t_s, values = table.group(group)
                book.check_features(GROUP_COLUMNS[group])
                running = running_calibration(book, calibration)
                values = values if running is None else running.push(values)
            assignments = book.quantise(values)
            n_words = len(book.words)
        parts.append(
            bags(
                t_s,
                assignments,
                n_words,
                window_s=config.window_s,
                hop_s=config.hop_s,
                window=config.window,
                weighting=config.weighting,
                normalise=config.normalise,
                end_s=end_s,
            )
        )
    times = parts[0][0]
    return times, np.hstack([bag for _, bag in parts])


MANIFEST_NAME = "codebooks.json"


def write_codebook_manifest(
    folder: Path, paths: list[str], books: list[Codebook | Vocabulary]
) -> Path:
    """Record which codebooks made the bags in ``folder`` (``codebooks.json``): file names,
    groups, sizes and checksums, so that a model trained on them can refuse others."""
    entries = []
    for path, book in zip(paths, books, strict=True):
        if isinstance(book, Vocabulary):
            entries.append({"file": Path(path).name, "group": "text", "n_words": len(book)})
        else:
            entries.append({"file": Path(path).name, "group": book.group, "n_words": book.n_words})
        entries[-1]["checksum"] = book.checksum
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST_NAME
    manifest.write_text(json.dumps({"codebooks": entries}, indent=2) + "\n", encoding="utf-8")
    return manifest


def _group_of(book: Codebook, table: FeatureTable) -> str:
    """The feature group of a codebook that does not name it (openXBOW's files), by dimension."""
    kinds = ("audio",) if table.kind == "audio" else VIDEO_GROUPS
    matching = [g for g in kinds if len(GROUP_COLUMNS[g]) == book.n_dims]
    if not matching:
        expected = ", ".join(f"{g} {len(GROUP_COLUMNS[g])}" for g in kinds)
        raise StreamerError(
            f"{table.recording}: a codebook of {book.n_dims} dimensions does not fit its "
            f"{table.kind} features ({expected} dimensions): give the codebook fitted on such files"
        )
    return matching[0]
