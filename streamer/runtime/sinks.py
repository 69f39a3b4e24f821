"""Where estimates go: a CSV file flushed row by row, a PNG plot, a text summary and a
replay progress bar.

The CSV has one row per 0.1 s hop, ``t_s;arousal;valence;liking;face;speech;latency_ms``;
a dimension the model has no network for (NaN) is an empty field.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.feature_csv import FlushedCsv
from streamer.output_files import write_atomically
from streamer.types import Estimate

ESTIMATE_COLUMNS = ("t_s", "arousal", "valence", "liking", "face", "speech", "latency_ms")
DIMENSIONS = ("arousal", "valence", "liking")


def _missing_folder_error(path: Path, fix: str) -> StreamerError:
    return StreamerError(f"cannot write {path}: folder {path.parent} does not exist ({fix})")


def _seconds_text(t_s: float) -> str:
    """Seconds with up to 6 decimals, trailing zeros trimmed (``12.3``, ``0.05``, ``7.0``)."""
    if not math.isfinite(t_s):
        return ""
    text = f"{t_s:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


class EstimateCsvWriter(FlushedCsv):
    """Write estimates as CSV rows, each flushed to the OS as soon as it is written.

    A process killed at any moment (even ``kill -9``) loses no row ``write`` returned from.

    Parameters
    ----------
    path : str or Path
        The file to create or overwrite (its folder is created if needed).
    separator : str
        Column separator, ``;`` or ``,``.
    float_digits : int
        Significant digits of arousal, valence and liking.
    """

    def __init__(self, path: str | Path, separator: str = ";", float_digits: int = 7):
        if separator not in (";", ","):
            raise ValueError(f"separator must be ';' or ',', got {separator!r}")
        super().__init__(path, list(ESTIMATE_COLUMNS), separator)
        self._value_format = f"%.{int(float_digits)}g"

    def write(self, estimate: Estimate) -> None:
        """Append one estimate and flush it to the OS."""
        self._write_lines([self.format_row(estimate)])

    def format_row(self, estimate: Estimate) -> str:
        """The CSV text of one estimate, without the line end."""
        dims = [getattr(estimate, d) for d in DIMENSIONS]
        fields = [
            _seconds_text(estimate.t_s),
            *("" if math.isnan(v) else self._value_format % v for v in dims),
            "1" if estimate.face else "0",
            "1" if estimate.speech else "0",
            "" if math.isnan(estimate.latency_ms) else f"{estimate.latency_ms:.1f}",
        ]
        return self.separator.join(fields)

    def __enter__(self) -> EstimateCsvWriter:
        return self


def read_estimates_csv(path: str | Path) -> list[Estimate]:
    """Read a file written by `EstimateCsvWriter` (``;`` or ``,``; empty field -> NaN).

    An unterminated, malformed last line (a row cut by a killed writer) is skipped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StreamerError(f"cannot read {path}: {exc.strerror} (check the path)") from None
    lines = text.split("\n")
    cut_last = lines.pop()  # "" when the file ends with a line end
    header = lines[0] if lines else cut_last
    separator = ";" if ";" in header else ","
    if tuple(header.strip().split(separator)) != ESTIMATE_COLUMNS:
        raise StreamerError(
            f"{path} is not an estimates CSV: its header is not {','.join(ESTIMATE_COLUMNS)}"
        )
    rows = [(n, line) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    estimates = [_parse_row(path, n, line, separator) for n, line in rows]
    if lines and cut_last.strip():
        with contextlib.suppress(StreamerError):  # a row cut by a killed writer is dropped
            estimates.append(_parse_row(path, len(lines) + 1, cut_last, separator))
    return estimates


def _parse_row(path: Path, line_number: int, line: str, separator: str) -> Estimate:
    fields = line.strip().split(separator)
    try:
        if len(fields) != len(ESTIMATE_COLUMNS):
            raise ValueError
        t_s, arousal, valence, liking, latency_ms = (
            float(f) if f else math.nan for f in (*fields[:4], fields[6])
        )
        face, speech = (int(f) != 0 for f in fields[4:6])
        return Estimate(t_s, arousal, valence, liking, face, speech, latency_ms)
    except ValueError:
        raise StreamerError(f"{path} line {line_number} is not an estimate row: {line!r}") from None


def _spans(times_s: np.ndarray, present: np.ndarray, hop_s: float) -> list[tuple[float, float]]:
    """``(start_s, width_s)`` of each run of hops with ``present``; hop ``t`` covers (t - hop, t]."""
    spans: list[tuple[float, float]] = []
    for t, on in zip(times_s, present, strict=True):
        if not on:
            continue
        if spans and abs(spans[-1][0] + spans[-1][1] - (t - hop_s)) < 1e-6 * max(hop_s, 1.0):
            spans[-1] = (spans[-1][0], spans[-1][1] + hop_s)
        else:
            spans.append((t - hop_s, hop_s))
    return spans


def plot_estimates(estimates: list[Estimate], path: str | Path, title: str = "") -> Path:
    """Plot the estimates over time as a PNG of 10 x 5 in at 100 dpi.

    The top panel shows arousal, valence and liking (scaled, -1..1) against media time (s);
    a dimension that is NaN throughout is left out and named in the legend. The thin bottom
    panel shades the hops with a face and with speech.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise _missing_folder_error(path, "create it or choose another plot file")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times_s = np.array([e.t_s for e in estimates], dtype=float)
    hop_s = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.1
    fig, (ax, ax_presence) = plt.subplots(
        2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [4, 1]}
    )
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    for i, dim in enumerate(DIMENSIONS):
        values = np.array([getattr(e, dim) for e in estimates], dtype=float)
        if np.all(np.isnan(values)):
            ax.plot([], [], " ", label=f"{dim}: not available in this model")
        else:
            ax.plot(times_s, values, color=f"C{i}", linewidth=1.2, label=dim)
    ax.set_ylim(-1.0, 1.0)
    ax.set_ylabel("estimate (scaled)")
    ax.grid(alpha=0.3)
    legend_place = {"loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "ncols": 3}
    ax.legend(**legend_place, fontsize="small", frameon=False)  # above the panel, off the data
    if title:
        ax.set_title(title, loc="left")
    if not estimates:
        ax.text(0.5, 0.5, "no estimates", transform=ax.transAxes, ha="center")
    for row, (name, color) in enumerate([("speech", "C4"), ("face", "C7")]):
        present = np.array([getattr(e, name) for e in estimates], dtype=bool)
        ax_presence.broken_barh(_spans(times_s, present, hop_s), (row + 0.1, 0.8), color=color)
    ax_presence.set_ylim(0.0, 2.0)
    ax_presence.set_yticks([0.5, 1.5], ["speech", "face"])
    ax_presence.set_xlabel("time (s)")
    ax_presence.grid(axis="x", alpha=0.3)
    if len(times_s):
        ax_presence.set_xlim(min(times_s[0] - hop_s, 0.0), times_s[-1])
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, dpi=100, format="png")
    plt.close(fig)
    write_atomically(path, image.getvalue())
    return path


def summarise(
    estimates: list[Estimate], duration_s: float | None, n_dropped: dict[str, int]
) -> str:
    """A few lines for people: duration, hops, drops, face and speech coverage, each
    dimension's mean and range, and latency median and 95th percentile (ms).

    Parameters
    ----------
    estimates : list of Estimate
        The run's estimates, one per hop.
    duration_s : float or None
        Media duration in seconds (None when unknown).
    n_dropped : dict of str to int
        Items dropped per source (for example ``{"video": 3, "audio": 0}``).
    """
    n = len(estimates)
    duration = "unknown" if duration_s is None else f"{duration_s:.1f} s"
    drops = ", ".join(f"{source} {count}" for source, count in n_dropped.items()) or "none"
    lines = [f"media duration: {duration}", f"hops: {n}", f"dropped: {drops}"]
    for name in ("face", "speech"):
        share = f"{100.0 * sum(getattr(e, name) for e in estimates) / n:.1f} %" if n else "n/a"
        lines.append(f"{name} coverage: {share} of hops")
    for dim in DIMENSIONS:
        values = np.array([getattr(e, dim) for e in estimates], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            lines.append(
                f"{dim}: mean {values.mean():+.3f}, range {values.min():+.3f}..{values.max():+.3f}"
            )
        else:
            lines.append(f"{dim}: not available")
    latency = np.array([e.latency_ms for e in estimates], dtype=float)
    latency = latency[np.isfinite(latency)]
    if latency.size:
        median, p95 = np.percentile(latency, [50, 95])
        lines.append(f"latency: median {median:.1f} ms, p95 {p95:.1f} ms")
    else:
        lines.append("latency: n/a")
    return "\n".join(lines)


class ReplayProgress:
    """A replay progress bar on stderr: ``[#####.....]  42% 12.3/30.0 s  3.1x real time``.

    Parameters
    ----------
    duration_s : float or None
        Media duration in seconds; None or <= 0 shows the media seconds done only.
    stream : file, optional
        Where to draw (default ``sys.stderr``).
    clock : callable, optional
        Wall clock in seconds (default ``time.perf_counter``; tests pass their own).
    """

    width = 30  # characters of the bar
    min_interval_s = 0.1  # wall-clock seconds between redraws

    def __init__(self, duration_s: float | None, stream=None, *, clock=time.perf_counter):
        self.duration_s = duration_s if duration_s is not None and duration_s > 0 else None
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._started = clock()
        self._last_draw: float | None = None
        self._last_length = 0
        self.t_s = 0.0
        self.closed = False

    def update(self, t_s: float) -> None:
        """Note media time ``t_s`` (s) done; redraw if 0.1 s of wall clock has passed."""
        self.t_s = t_s
        now = self._clock()
        if self._last_draw is None or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            self._draw(t_s, now)

    def close(self) -> None:
        """Draw the full bar and end the line (again is a no-op)."""
        if self.closed:
            return
        self.closed = True
        self._draw(self.duration_s if self.duration_s is not None else self.t_s, self._clock())
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, shown_s: float, now: float) -> None:
        elapsed_s = now - self._started
        speed = f"  {self.t_s / elapsed_s:.1f}x real time" if elapsed_s > 0 else ""
        if self.duration_s is None:
            text = f"{shown_s:.1f} s{speed}"
        else:
            fraction = min(max(shown_s / self.duration_s, 0.0), 1.0)
            filled = int(self.width * fraction)
            text = (
                f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:3.0f}% "
                f"{shown_s:.1f}/{self.duration_s:.1f} s{speed}"
            )
        self.stream.write("\r" + text.ljust(self._last_length))
        self._last_length = len(text)
        self.stream.flush()
