"""Codebook files: our ``.npz`` and openXBOW's text format (``-B`` writes, ``-b`` reads).

openXBOW's text format (``HyperCodebook.saveHyperCodebook`` / ``loadHyperCodebook``) is a
sequence of ``;``-separated lines; the parts used for one numeric codebook are::

    standardizeInput                  (optional: input standardisation, or else
    0.0;0.0;m1;m2;...                  normalizeInput with minima and ranges; means,
    0.0;0.0;s1;s2;...                  standard deviations (N - 1), one per input column)
    log                               (optional: term frequencies weighted log10(tf + 1))
    codebookNumeric
    size;dimensions;a;gaussian;off    a = assignments; gaussian/off encodings 0.0 = off
    w11;w12;...                       one line per word (standardised space)

The mean and deviation lines cover every input column, so the name column (and the
time column with ``-t``) appear as leading placeholders; we write two (input
``name;time;features``) and read any number, taking the last values as the features'.
openXBOW writes Java ``Float.toString`` numbers; we write the shortest repr of each float64 in the same notation (plain for
1e-3 <= |x| < 1e7, else ``1.0E-4``), which Java parses and which reads back exactly.
Older openXBOW files (``standardization``, header ``size;dimensions``) are read too.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path

import numpy as np

from streamer.bow.calibration import CalibrationPrior
from streamer.bow.codebook import Codebook, CodebookError
from streamer.output_files import write_atomically

NPZ_FORMAT_VERSION = 1
TEXT_PLACEHOLDERS = 2
UNSUPPORTED = (
    "removeLowEnergy",
    "normalization",
    "idf",
    "standardizeOutput",
    "normalizeOutput",
    "codebookText",
    "codebookNumericNGram",
    "codebookSVQ",
)


def save_npz(codebook: Codebook, path: Path) -> None:
    """Write every field, a format version and the checksum to ``path`` (.npz)."""
    standardised = codebook.mean is not None
    fields = {
        "format_version": np.int64(NPZ_FORMAT_VERSION),
        "words": codebook.words,
        "standardised": np.bool_(standardised),
        "mean": codebook.mean if standardised else np.zeros(0),
        "std": codebook.std if standardised else np.zeros(0),
        "assignments": np.int64(codebook.assignments),
        "feature_names": np.array(codebook.feature_names, dtype=str).reshape(-1),
        "group": np.str_(codebook.group),
        "generation": np.str_(codebook.generation),
        "seed": np.int64(codebook.seed),
        "log_weighting": np.bool_(codebook.log_weighting),
        "input_scaling": np.str_(codebook.input_scaling),
        "checksum": np.str_(codebook.checksum),
    }
    if codebook.prior is not None:
        fields.update({
            "prior_mean": codebook.prior.mean, "prior_std": codebook.prior.std,
            "prior_sparse": codebook.prior.sparse,
        })  # fmt: skip
    buffer = io.BytesIO()
    np.savez(buffer, **fields)
    write_atomically(path, buffer.getvalue())


def load_npz(path: Path) -> Codebook:
    """Read a codebook written by :func:`save_npz`, verifying its checksum."""
    damaged = f"codebook {path} is damaged or not a streamer codebook"
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {name: data[name] for name in data.files}
    except ValueError as error:
        if "pickle" in str(error):  # an object array: loading it could run code
            error = "it holds Python objects, which streamer never loads"
        raise CodebookError(f"{damaged} ({error}): fit or copy it again") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CodebookError(f"{damaged} ({error}): fit or copy it again") from None
    try:
        version = int(fields["format_version"])
        if version != NPZ_FORMAT_VERSION:
            raise CodebookError(
                f"codebook {path} has format version {version}, this streamer reads "
                f"{NPZ_FORMAT_VERSION}: refit it"
            )
        standardised = bool(fields["standardised"])
        prior = None
        if "prior_mean" in fields:  # fitted with calibration statistics
            prior = CalibrationPrior(
                fields["prior_mean"], fields["prior_std"], fields["prior_sparse"].astype(bool)
            )
        codebook = Codebook(
            words=fields["words"],
            mean=fields["mean"] if standardised else None,
            std=fields["std"] if standardised else None,
            assignments=int(fields["assignments"]),
            feature_names=tuple(str(name) for name in fields["feature_names"]),
            group=str(fields["group"]),
            generation=str(fields["generation"]),
            seed=int(fields["seed"]),
            log_weighting=bool(fields["log_weighting"]),
            # absent from files written before it existed
            input_scaling=str(fields.get("input_scaling", "standardise")),
            prior=prior,
        )
        stored = str(fields["checksum"])
    except KeyError as error:
        raise CodebookError(f"{damaged} (field {error} is missing): fit it again") from None
    except (TypeError, ValueError) as error:
        raise CodebookError(f"{damaged} ({error}): fit it again") from None
    if stored != codebook.checksum:
        raise CodebookError(
            f"{damaged}: checksum {codebook.checksum} differs from the stored {stored}"
        )
    return codebook


def java_float(value: float) -> str:
    """``value`` in Java ``Float.toString`` notation, with the shortest float64 digits."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python writes this range positionally, e.g. "0.001", "5.0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    exp10 = exponent + len(digits) - 1
    digits = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{digits[0]}.{digits[1:] or '0'}E{exp10}"


def format_openxbow(codebook: Codebook, placeholders: int = TEXT_PLACEHOLDERS) -> str:
    """The text of ``codebook`` in openXBOW's codebook format."""
    lines = []
    if codebook.mean is not None:
        if codebook.input_scaling == "normalise":  # minimum and range; openXBOW's placeholders
            lines.append("normalizeInput")
            lead_mean, lead_std = ["Infinity"] * placeholders, ["1.0"] * placeholders
        else:
            lines.append("standardizeInput")
            lead_mean = lead_std = ["0.0"] * placeholders
        lines.append(";".join(lead_mean + [java_float(v) for v in codebook.mean]))
        lines.append(";".join(lead_std + [java_float(v) for v in codebook.std]))
    if codebook.log_weighting:
        lines.append("log")
    lines.append("codebookNumeric")
    lines.append(f"{codebook.n_words};{codebook.n_dims};{codebook.assignments};0.0;0.0")
    lines.extend(";".join(java_float(v) for v in word) for word in codebook.words)
    return "\n".join(lines) + "\n"


def save_openxbow(codebook: Codebook, path: Path) -> None:
    """Write ``codebook`` in openXBOW's text format (readable by ``openXBOW -b``)."""
    write_atomically(path, format_openxbow(codebook))


def load_openxbow(path: Path) -> Codebook:
    """Read an openXBOW codebook file (one numeric codebook)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CodebookError(f"cannot read codebook {path}: {error}") from None
    return parse_openxbow(text, str(path))


def _floats(line: str, where: str) -> list[float]:
    try:
        return [float(cell) for cell in line.strip().split(";")]
    except ValueError:
        raise CodebookError(f"{where}: expected ';'-separated numbers, got {line[:60]!r}") from None


def parse_openxbow(text: str, source: str = "openXBOW codebook") -> Codebook:
    """Parse openXBOW's codebook text; other openXBOW options raise a one-line error."""
    lines = text.splitlines()
    mean_line = std_line = None
    input_scaling = "standardise"
    log_weighting = False
    words = None
    assignments = 1
    i = 0

    def take(what: str) -> str:
        nonlocal i
        if i >= len(lines):
            raise CodebookError(f"{source}: the file ends before the {what}")
        i += 1
        return lines[i - 1]

    while i < len(lines):
        line = take("next line").strip()
        key = line.split(";")[0]
        where = f"{source}, line {i}"
        if not line:
            continue
        if key in ("standardizeInput", "standardization", "normalizeInput"):
            if mean_line is not None:
                raise CodebookError(f"{where}: the input is scaled twice ({key!r})")
            mean_line = _floats(take("means or minima"), f"{source}, line {i + 1}")
            std_line = _floats(take("deviations or ranges"), f"{source}, line {i + 1}")
            input_scaling = "normalise" if key == "normalizeInput" else "standardise"
        elif key == "log":
            log_weighting = True
        elif key == "codebookNumeric":
            if words is not None:
                raise CodebookError(
                    f"{where}: several numeric codebooks in one file are not supported"
                )
            header = take("codebook size line").strip().split(";")
            try:
                n_words, n_dims = int(header[0]), int(header[1])
                assignments = int(header[2]) if len(header) > 2 else 1
                encodings = [float(v) for v in header[3:5]]
            except (ValueError, IndexError):
                raise CodebookError(
                    f"{source}, line {i}: bad codebook size line {header!r}"
                ) from None
            if any(encodings):
                raise CodebookError(
                    f"{source}, line {i}: Gaussian encoding / off-codewords are not supported"
                )
            rows = []
            for _ in range(n_words):
                row = _floats(take(f"{n_words} words"), f"{source}, line {i}")
                if len(row) < n_dims:
                    raise CodebookError(f"{source}, line {i}: {len(row)} values, expected {n_dims}")
                rows.append(row[:n_dims])
            words = np.array(rows, dtype=np.float64).reshape(n_words, n_dims)
        elif key in UNSUPPORTED:
            raise CodebookError(f"{where}: openXBOW option {key!r} is not supported")
        else:
            raise CodebookError(f"{where}: unexpected line {line[:60]!r}")
    if words is None:
        raise CodebookError(f"{source}: no 'codebookNumeric' section")
    mean = std = None
    if mean_line is not None:
        extra = len(mean_line) - words.shape[1]  # leading name, time and other columns
        if len(std_line) != len(mean_line) or extra < 0:
            raise CodebookError(
                f"{source}: {len(mean_line)} means and {len(std_line)} deviations do not fit "
                f"{words.shape[1]} dimensions (the input's columns, features last)"
            )
        mean = np.array(mean_line[extra:])
        std = np.array(std_line[extra:])
        std[std == 0] = 1.0  # openXBOW would divide by zero
    return Codebook(
        words=words,
        mean=mean,
        std=std,
        assignments=assignments,
        generation="",
        log_weighting=log_weighting,
        input_scaling=input_scaling,
    )
