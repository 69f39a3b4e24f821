"""The live monitor window: camera picture with landmarks, current affect bars, 60 s traces.

``render_monitor`` draws one BGR canvas with OpenCV's drawing functions only;
``MonitorWindow`` shows canvases in a ``cv2`` window and reports when the user wants to
stop. ``cv2`` is imported inside the functions, so importing this module loads no OpenCV.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections import deque
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.types import Estimate

DIMENSIONS = ("arousal", "valence", "liking")
CANVAS_WIDTH, CANVAS_HEIGHT = 1280, 720
VIDEO_PANEL = (0, 0, 800, 450)  # x, y, width, height in canvas pixels
BARS_PANEL = (800, 0, 480, 450)
TRACES_PANEL = (0, 450, 1280, 248)
STATUS_BASELINE_Y = 712

# Colours are BGR.
BACKGROUND = (24, 24, 24)
PANEL_BACKGROUND = (40, 40, 40)
TEXT = (230, 230, 230)
DIM_TEXT = (140, 140, 140)
GRID = (70, 70, 70)
ZERO_LINE = (130, 130, 130)
LANDMARK = (0, 255, 255)
PRESENT = (80, 220, 80)
ABSENT = (110, 110, 110)
DIMENSION_COLOURS = {
    "arousal": (0, 140, 255),  # orange
    "valence": (255, 170, 0),  # azure
    "liking": (220, 80, 230),  # magenta
}
TICK_STEP_S = 10.0
KEYS_THAT_QUIT = {ord("q"), ord("Q"), 27}  # 27: Esc
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
)


class TraceHistory:
    """The estimates of the last ``span_s`` seconds of media time, oldest first.

    Parameters
    ----------
    span_s : float
        How much history to keep, in seconds of ``Estimate.t_s``.
    """

    def __init__(self, span_s: float = 60.0):
        self.span_s = float(span_s)
        self._estimates: deque[Estimate] = deque()

    def push(self, estimate: Estimate) -> None:
        """Add the newest estimate and drop those older than ``estimate.t_s - span_s``.

        An estimate earlier than the newest one kept (the media clock restarted) clears
        the history first.
        """
        if self._estimates and estimate.t_s < self._estimates[-1].t_s:
            self._estimates.clear()
        self._estimates.append(estimate)
        oldest_kept_s = estimate.t_s - self.span_s
        while self._estimates[0].t_s < oldest_kept_s:
            self._estimates.popleft()

    def __len__(self) -> int:
        return len(self._estimates)

    @property
    def latest(self) -> Estimate | None:
        """The newest estimate, or None when nothing was pushed."""
        return self._estimates[-1] if self._estimates else None

    def times_s(self) -> np.ndarray:
        """Times of the kept estimates, seconds on the media clock, shape (n,)."""
        return np.array([e.t_s for e in self._estimates], dtype=float)

    def values(self, dimension: str) -> np.ndarray:
        """One of ``DIMENSIONS`` for the kept estimates, shape (n,); NaN where the model has none."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}, expected one of {DIMENSIONS}")
        return np.array([getattr(e, dimension) for e in self._estimates], dtype=float)


def _put_text(canvas, text, origin, scale=0.5, colour=TEXT, thickness=1):
    import cv2

    style = (cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    cv2.putText(canvas, text, (int(origin[0]), int(origin[1])), *style)


def _text_width(text, scale=0.5, thickness=1) -> int:
    import cv2

    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return width


def _draw_video(canvas, image_rgb, landmarks_px) -> None:
    """The camera picture letterboxed into the video panel, landmarks as dots (or "no video")."""
    import cv2

    x0, y0, width, height = VIDEO_PANEL
    cv2.rectangle(canvas, (x0, y0), (x0 + width - 1, y0 + height - 1), PANEL_BACKGROUND, cv2.FILLED)
    if image_rgb is None:
        centre_left = x0 + (width - _text_width("no video", 1.0, 2)) / 2
        _put_text(canvas, "no video", (centre_left, y0 + height / 2), 1.0, DIM_TEXT, 2)
        return
    image_height, image_width = image_rgb.shape[:2]
    scale = min(width / image_width, height / image_height)
    fit_width, fit_height = max(1, round(image_width * scale)), max(1, round(image_height * scale))
    left, top = x0 + (width - fit_width) // 2, y0 + (height - fit_height) // 2
    resized = cv2.resize(image_rgb, (fit_width, fit_height), interpolation=cv2.INTER_AREA)
    canvas[top : top + fit_height, left : left + fit_width] = cv2.cvtColor(
        resized, cv2.COLOR_RGB2BGR
    )
    if landmarks_px is None:
        return
    for x, y in np.asarray(landmarks_px, dtype=float).reshape(-1, 2):
        if math.isfinite(x) and math.isfinite(y):
            centre = (round(left + x * scale), round(top + y * scale))
            cv2.circle(canvas, centre, 2, LANDMARK, cv2.FILLED, cv2.LINE_AA)


def _draw_bars(canvas, latest: Estimate | None, dimensions) -> None:
    """Per dimension a bar from -1 to 1 filled from 0 to the value, the value in digits (or n/a)."""
    import cv2

    x0, y0, width, _ = BARS_PANEL
    track_left, track_right = x0 + 110, x0 + width - 90
    track_middle = (track_left + track_right) // 2
    for index, dimension in enumerate(dimensions):
        top = y0 + 40 + index * 80
        bottom = top + 28
        value = getattr(latest, dimension, math.nan)  # NaN also when nothing was pushed yet
        _put_text(canvas, dimension, (x0 + 16, bottom - 8), 0.6)
        cv2.rectangle(canvas, (track_left, top), (track_right, bottom), GRID, cv2.FILLED)
        if math.isfinite(value):
            clipped = min(1.0, max(-1.0, value))
            end = round(track_middle + clipped * (track_right - track_middle))
            fill_left, fill_right = sorted((track_middle, end))
            colour = DIMENSION_COLOURS[dimension]
            cv2.rectangle(canvas, (fill_left, top), (fill_right, bottom), colour, cv2.FILLED)
            label = f"{value:+.2f}"
        else:
            label = "n/a"
        cv2.line(canvas, (track_middle, top - 4), (track_middle, bottom + 4), TEXT, 1)
        label_colour = TEXT if label != "n/a" else DIM_TEXT
        _put_text(canvas, label, (track_right + 12, bottom - 6), 0.65, label_colour)
        for tick, text in ((track_left, "-1"), (track_middle, "0"), (track_right, "+1")):
            _put_text(canvas, text, (tick - _text_width(text, 0.4) / 2, bottom + 18), 0.4, DIM_TEXT)
    indicators_y = y0 + 40 + len(dimensions) * 80 + 30
    for index, name in enumerate(("face", "speech")):
        present = getattr(latest, name, False)
        centre = (x0 + 30 + index * 130, indicators_y)
        cv2.circle(canvas, centre, 10, PRESENT if present else ABSENT, cv2.FILLED, cv2.LINE_AA)
        _put_text(canvas, name, (centre[0] + 18, centre[1] + 6), 0.6, TEXT if present else DIM_TEXT)
    if latest is not None:
        timing = f"t {latest.t_s:.1f} s   latency {latest.latency_ms:.0f} ms"
        _put_text(canvas, timing, (x0 + 16, indicators_y + 45), 0.5, DIM_TEXT)


def _draw_traces(canvas, history: TraceHistory, dimensions) -> None:
    """Scrolling traces of the last ``history.span_s`` seconds, -1..1, with zero line and legend."""
    import cv2

    x0, y0, width, height = TRACES_PANEL
    left, right, top, bottom = x0 + 50, x0 + width - 20, y0 + 30, y0 + height - 22
    cv2.rectangle(canvas, (left, top), (right, bottom), PANEL_BACKGROUND, cv2.FILLED)

    def row_of(value):
        return bottom - (np.clip(value, -1.0, 1.0) + 1.0) / 2.0 * (bottom - top)

    for level, text in ((1.0, "+1"), (0.0, "0"), (-1.0, "-1")):
        y = round(float(row_of(level)))
        cv2.line(canvas, (left, y), (right, y), ZERO_LINE if level == 0.0 else GRID, 1)
        _put_text(canvas, text, (left - 10 - _text_width(text, 0.4), y + 5), 0.4, DIM_TEXT)
    times_s = history.times_s()
    newest_s = times_s[-1] if len(times_s) else 0.0
    span_s = history.span_s

    def column_of(t_s):
        return right - (newest_s - t_s) / span_s * (right - left)

    first_tick_s = math.ceil((newest_s - span_s) / TICK_STEP_S) * TICK_STEP_S
    for tick_s in np.arange(max(first_tick_s, 0.0), newest_s + 1e-9, TICK_STEP_S):
        x = round(float(column_of(tick_s)))
        cv2.line(canvas, (x, top), (x, bottom), GRID, 1)
        text = f"{tick_s:.0f} s"
        text_left = min(max(x - _text_width(text, 0.4) / 2, left), right - _text_width(text, 0.4))
        _put_text(canvas, text, (text_left, bottom + 16), 0.4, DIM_TEXT)
    legend_x = left
    _put_text(canvas, f"last {span_s:.0f} s", (legend_x, top - 10), 0.5, DIM_TEXT)
    legend_x += _text_width(f"last {span_s:.0f} s") + 30
    for dimension in dimensions:
        colour = DIMENSION_COLOURS[dimension]
        values = history.values(dimension)
        finite = np.isfinite(values)
        points = np.stack([column_of(times_s), row_of(np.nan_to_num(values))], axis=1)
        points = np.round(points).astype(np.int32)
        # one polyline per run of finite values: a NaN stretch is a gap, not a line across it
        runs = np.split(np.arange(len(values)), np.flatnonzero(np.diff(finite)) + 1)
        lines = [
            points[run].repeat(2 if len(run) == 1 else 1, axis=0)
            for run in runs
            if len(run) and finite[run[0]]
        ]
        cv2.polylines(canvas, lines, False, colour, 2, cv2.LINE_AA)
        cv2.line(canvas, (legend_x, top - 15), (legend_x + 24, top - 15), colour, 3)
        label = dimension if finite.any() or not len(values) else f"{dimension} (n/a)"
        _put_text(canvas, label, (legend_x + 32, top - 10), 0.5, TEXT)
        legend_x += 32 + _text_width(label) + 30


def render_monitor(
    image_rgb: np.ndarray | None,
    landmarks_px: np.ndarray | None,
    history: TraceHistory,
    dimensions: tuple[str, ...] = DIMENSIONS,
    status_text: str = "",
) -> np.ndarray:
    """Draw the monitor canvas.

    Parameters
    ----------
    image_rgb : ndarray, shape (height, width, 3), uint8, or None
        The camera picture (RGB); None draws a dark "no video" panel.
    landmarks_px : ndarray, shape (49, 2), or None
        Face landmarks as (x, y) in pixels of ``image_rgb``; None when there is no face.
    history : TraceHistory
        The recent estimates; the newest gives the bars and the face and speech dots.
    dimensions : tuple of str
        The dimensions to draw, e.g. ``("arousal", "valence", "liking")``; NaN values show "n/a".
    status_text : str
        One short line drawn at the bottom, e.g. ``"q: quit | drops 3"``.

    Returns
    -------
    ndarray, shape (720, 1280, 3), uint8
        The canvas in BGR, for ``cv2.imshow``.
    """
    canvas = np.full((CANVAS_HEIGHT, CANVAS_WIDTH, 3), BACKGROUND, dtype=np.uint8)
    _draw_video(canvas, image_rgb, landmarks_px)
    _draw_bars(canvas, history.latest, dimensions)
    _draw_traces(canvas, history, dimensions)
    if status_text:
        _put_text(canvas, status_text, (10, STATUS_BASELINE_Y), 0.45, DIM_TEXT)
    return canvas


def _missing_display() -> str | None:
    """Why no window can be opened here (on Linux), else None.

    Qt aborts the whole process when it cannot reach the X server, so a local display
    (``:N``) whose socket does not exist is caught here first.
    """
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return "no display to open the monitor window on (DISPLAY is not set): run with --no-window, or start an X server"
    local = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if local and not Path(f"/tmp/.X11-unix/X{local.group(1)}").exists():
        return f"cannot reach the display {display} (no X server listens there): run with --no-window, or fix DISPLAY"
    return None


def check_display() -> None:
    """Raise a one-line StreamerError when no window can be opened here."""
    problem = _missing_display()
    if problem is not None:
        raise StreamerError(problem)


def _point_qt_at_system_fonts() -> None:
    """Let OpenCV's bundled Qt find system fonts (it ships none and warns on every window)."""
    if "QT_QPA_FONTDIR" in os.environ:
        return
    for folder in map(Path, SYSTEM_FONT_DIRS):
        if any(folder.glob("*.ttf")):
            os.environ["QT_QPA_FONTDIR"] = str(folder)
            return


class MonitorWindow:
    """An OpenCV window showing monitor canvases; usable as a context manager.

    Parameters
    ----------
    title : str
        Window title, also OpenCV's name for the window.
    """

    def __init__(self, title: str = "streamer monitor"):
        self.title = title
        self._is_open = False
        self._was_shown = False

    def open(self) -> MonitorWindow:
        """Create the window; raises StreamerError when there is no display to open it on."""
        check_display()
        _point_qt_at_system_fonts()
        import cv2

        cv2.namedWindow(
            self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        )
        self._is_open, self._was_shown = True, False
        return self

    def show(self, canvas: np.ndarray) -> bool:
        """Show ``canvas`` (BGR uint8) and handle window events for 1 ms.

        Returns
        -------
        bool
            True when the user asked to stop: pressed q, Q or Esc, or closed the window.
        """
        if not self._is_open:
            raise RuntimeError("MonitorWindow.show() before open()")
        import cv2

        if not self._was_shown:
            cv2.resizeWindow(self.title, canvas.shape[1], canvas.shape[0])
        cv2.imshow(self.title, canvas)
        self._was_shown = True
        key = cv2.waitKey(1)
        if key != -1 and (key & 0xFF) in KEYS_THAT_QUIT:
            return True
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:  # Qt: the last window was closed, there is nothing left to ask
            return True

    def close(self) -> None:
        """Destroy the window; does nothing when it is not open."""
        if not self._is_open:
            return
        import cv2

        self._is_open = False
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the GUI backend process the destruction
        except cv2.error:  # already closed by the user
            pass

    def __enter__(self) -> MonitorWindow:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()
