"""The monitor window: trace history, the rendered canvas, and a real window under Xvfb."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from streamer.errors import StreamerError
from streamer.runtime.display import (
    DIMENSION_COLOURS,
    LANDMARK,
    MonitorWindow,
    TraceHistory,
    render_monitor,
)
from streamer.types import Estimate
from tests.conftest import SCREEN_HEIGHT, SCREEN_WIDTH, read_xwd

DIMENSIONS = ("arousal", "valence", "liking")


def estimate(t_s, arousal=0.0, valence=0.0, liking=math.nan, face=True, speech=False):
    return Estimate(t_s, arousal, valence, liking, face, speech, latency_ms=40.0)


def history_of(*estimates, span_s=60.0):
    history = TraceHistory(span_s)
    for item in estimates:
        history.push(item)
    return history


def pixels_of_colour(canvas, colour_bgr, region=(0, 0, 1280, 720)):
    """(x, y) canvas coordinates of the pixels exactly ``colour_bgr`` inside ``region``."""
    x0, y0, width, height = region
    part = canvas[y0 : y0 + height, x0 : x0 + width]
    ys, xs = np.nonzero(np.all(part == np.array(colour_bgr, dtype=np.uint8), axis=2))
    return xs + x0, ys + y0


def test_display_module_imports_without_loading_cv2():
    code = "import sys, streamer.runtime.display; assert 'cv2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_history_keeps_only_the_last_span():
    history = history_of(*(estimate(i * 0.1, arousal=i / 100) for i in range(101)), span_s=5.0)
    times_s = history.times_s()
    assert times_s.min() >= 10.0 - 5.0 - 1e-9
    assert len(history) == len(times_s) == 51  # t = 5.0 ... 10.0
    assert times_s[-1] == pytest.approx(10.0)
    np.testing.assert_allclose(history.values("arousal"), np.arange(50, 101) / 100)
    assert np.isnan(history.values("liking")).all()
    assert history.latest.t_s == pytest.approx(10.0)


def test_history_starts_over_when_the_clock_restarts():
    history = history_of(estimate(30.0), estimate(30.1), estimate(0.0))
    np.testing.assert_array_equal(history.times_s(), [0.0])


def test_history_rejects_an_unknown_dimension():
    with pytest.raises(ValueError, match="dominance"):
        TraceHistory().values("dominance")


def test_canvas_is_a_bgr_uint8_picture_of_fixed_size():
    small = render_monitor(np.zeros((120, 160, 3), np.uint8), None, TraceHistory(), DIMENSIONS)
    tall = render_monitor(
        np.zeros((1000, 300, 3), np.uint8), None, history_of(estimate(1.0)), DIMENSIONS
    )
    for canvas in (small, tall):
        assert canvas.shape == (720, 1280, 3) and canvas.dtype == np.uint8


def test_landmarks_are_drawn_where_they_are_in_the_picture():
    image = np.full((480, 640, 3), 100, np.uint8)
    landmarks_px = np.stack([np.linspace(100, 540, 49), np.linspace(60, 420, 49)], axis=1)
    history = history_of(estimate(1.0))
    with_face = render_monitor(image, landmarks_px, history, DIMENSIONS)
    without_face = render_monitor(image, None, history, DIMENSIONS)
    # 640x480 fits the 800x450 video panel at scale 450/480, centred horizontally
    scale = 450 / 480
    expected = np.round(landmarks_px * scale + [(800 - 640 * scale) / 2, 0]).astype(int)
    for x, y in expected:
        assert tuple(with_face[y, x]) == LANDMARK
        assert tuple(without_face[y, x]) == (100, 100, 100)
    changed_ys, changed_xs = np.nonzero(np.any(with_face != without_face, axis=2))
    assert len(changed_xs) > 49
    distance_to_nearest = np.min(
        np.hypot(changed_xs[:, None] - expected[:, 0], changed_ys[:, None] - expected[:, 1]), axis=1
    )
    assert distance_to_nearest.max() <= 4  # only dots around the landmarks


def test_bar_fills_right_of_zero_for_positive_and_left_for_negative():
    bars_panel = (800, 0, 480, 450)
    orange = DIMENSION_COLOURS["arousal"]
    positive = render_monitor(None, None, history_of(estimate(1.0, arousal=0.8)), DIMENSIONS)
    negative = render_monitor(None, None, history_of(estimate(1.0, arousal=-0.8)), DIMENSIONS)
    positive_xs, _ = pixels_of_colour(positive, orange, bars_panel)
    negative_xs, _ = pixels_of_colour(negative, orange, bars_panel)
    assert len(positive_xs) > 1000 and len(negative_xs) > 1000
    zero_x = (positive_xs.min() + negative_xs.max()) / 2
    assert positive_xs.max() - zero_x > 100 and zero_x - negative_xs.min() > 100
    assert abs(len(positive_xs) - len(negative_xs)) < 0.05 * len(positive_xs)  # mirror images
    half = render_monitor(None, None, history_of(estimate(1.0, arousal=0.4)), DIMENSIONS)
    half_xs, _ = pixels_of_colour(half, orange, bars_panel)
    assert len(half_xs) == pytest.approx(len(positive_xs) / 2, rel=0.1)


def test_nan_liking_shows_no_bar_and_differs_from_a_numeric_liking():
    bars_panel = (800, 0, 480, 450)
    magenta = DIMENSION_COLOURS["liking"]
    missing = render_monitor(None, None, history_of(estimate(1.0, liking=math.nan)), DIMENSIONS)
    present = render_monitor(None, None, history_of(estimate(1.0, liking=0.5)), DIMENSIONS)
    assert len(pixels_of_colour(missing, magenta, bars_panel)[0]) == 0
    assert len(pixels_of_colour(present, magenta, bars_panel)[0]) > 500
    assert np.any(missing != present)


def test_no_image_draws_a_plain_panel():
    history = history_of(estimate(1.0))
    canvas = render_monitor(None, np.zeros((49, 2)), history, DIMENSIONS)
    with_image = render_monitor(np.full((450, 800, 3), 200, np.uint8), None, history, DIMENSIONS)
    video_panel = canvas[:450, :800]
    assert video_panel.max() < 200  # dark: the background and grey "no video" text only
    assert not np.array_equal(video_panel, with_image[:450, :800])


def test_face_and_speech_indicators_follow_the_latest_estimate():
    green = (80, 220, 80)
    both = render_monitor(None, None, history_of(estimate(1.0, face=True, speech=True)), DIMENSIONS)
    face_only = render_monitor(
        None, None, history_of(estimate(1.0, face=True, speech=False)), DIMENSIONS
    )
    neither = render_monitor(
        None, None, history_of(estimate(1.0, face=False, speech=False)), DIMENSIONS
    )
    counts = [len(pixels_of_colour(c, green)[0]) for c in (both, face_only, neither)]
    assert counts[0] > counts[1] > counts[2] == 0


def test_traces_lie_above_or_below_the_zero_line_by_sign():
    traces_panel = (0, 480, 1280, 200)
    history = history_of(*(estimate(i * 0.1, arousal=0.5, valence=-0.5) for i in range(300)))
    canvas = render_monitor(None, None, history, DIMENSIONS)
    arousal_xs, arousal_ys = pixels_of_colour(canvas, DIMENSION_COLOURS["arousal"], traces_panel)
    valence_xs, valence_ys = pixels_of_colour(canvas, DIMENSION_COLOURS["valence"], traces_panel)
    assert len(arousal_xs) > 100 and len(valence_xs) > 100
    assert arousal_ys.max() < valence_ys.min()  # arousal (+0.5) drawn above valence (-0.5)
    # 30 s of a 60 s window: the traces fill the right half of the plot only
    assert arousal_xs.min() > 600 and arousal_xs.max() > 1200


def test_a_nan_stretch_is_a_gap_in_the_trace():
    traces_panel = (0, 480, 1280, 200)
    liking = [0.5 if i < 200 or i == 400 or i >= 500 else math.nan for i in range(600)]
    history = history_of(*(estimate(i * 0.1, liking=value) for i, value in enumerate(liking)))
    canvas = render_monitor(None, None, history, DIMENSIONS)
    xs, _ = pixels_of_colour(canvas, DIMENSION_COLOURS["liking"], traces_panel)

    def column_of_t(t_s):  # the plot's right edge x=1260 is t=59.9 s, 60 s span 1210 pixels
        return 1260 - (59.9 - t_s) / 60.0 * 1210

    assert np.any(xs < column_of_t(19)) and np.any(xs > column_of_t(51))
    in_gaps = ((xs > column_of_t(21)) & (xs < column_of_t(39))) | (
        (xs > column_of_t(41)) & (xs < column_of_t(49))
    )
    assert not np.any(in_gaps)
    lone_point = np.abs(xs - column_of_t(40)) <= 2
    assert np.any(lone_point)  # a single finite estimate between gaps is still a dot


def test_status_text_is_drawn_at_the_bottom():
    history = history_of(estimate(1.0))
    plain = render_monitor(None, None, history, DIMENSIONS)
    with_status = render_monitor(None, None, history, DIMENSIONS, status_text="q: quit | drops 3")
    changed_ys, _ = np.nonzero(np.any(plain != with_status, axis=2))
    assert len(changed_ys) > 0 and changed_ys.min() > 690


def test_opening_without_a_display_names_the_problem_in_one_line(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(StreamerError) as raised:
        MonitorWindow().open()
    message = str(raised.value)
    assert "\n" not in message and "DISPLAY" in message and "--no-window" in message


# --- a real window on a virtual X server -------------------------------------------------


def screen_until(frame_buffer: Path, is_ready, timeout_s=5.0) -> np.ndarray:
    """The screen (RGB) once ``is_ready(screen)`` holds, or the last one after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        screen = read_xwd(frame_buffer)
        if is_ready(screen) or time.monotonic() > deadline:
            return screen
        time.sleep(0.05)


def test_window_shows_the_canvas_on_screen(virtual_display, monkeypatch):
    display, frame_buffer = virtual_display
    monkeypatch.setenv("DISPLAY", display)
    history = TraceHistory()
    image = np.zeros((480, 640, 3), np.uint8)
    image[..., 1] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    landmarks_px = np.stack(
        [np.linspace(200, 440, 49), 240 + 60 * np.sin(np.linspace(0, 6, 49))], axis=1
    )
    with MonitorWindow("streamer monitor test") as window:
        for i in range(200):
            history.push(
                estimate(
                    i * 0.1,
                    math.sin(i / 30) * 0.8,
                    math.cos(i / 45) * 0.6,
                    face=True,
                    speech=i % 20 < 10,
                )
            )
        canvas = render_monitor(image, landmarks_px, history, DIMENSIONS, "q: quit | drops 3")
        for _ in range(5):
            assert window.show(canvas) is False
        canvas_rgb = canvas[..., ::-1]

        def shows_canvas(screen):
            return any(
                _differs_off_cursor(screen, y, x, canvas_rgb).sum() == 0
                for y, x in _non_black_corner(screen)
            )

        screen = screen_until(frame_buffer, shows_canvas)
        window.show(canvas)
    if os.environ.get("STREAMER_SCREENSHOT"):
        import cv2

        cv2.imwrite(os.environ["STREAMER_SCREENSHOT"], screen[..., ::-1])
    corners = _non_black_corner(screen)
    assert corners, "nothing was drawn on the virtual screen"
    y, x = corners[0]
    shown = screen[y : y + 720, x : x + 1280]
    assert len(np.unique(shown.reshape(-1, 3), axis=0)) > 200  # a picture, not a blank window
    for colour_bgr in (DIMENSION_COLOURS["arousal"], DIMENSION_COLOURS["valence"], LANDMARK):
        assert np.all(shown == colour_bgr[::-1], axis=2).sum() > 100
    assert _differs_off_cursor(screen, y, x, canvas_rgb).sum() == 0  # shown pixel for pixel


def _differs_off_cursor(screen, y, x, canvas_rgb) -> np.ndarray:
    """Where the screen at (y, x) differs from the canvas, away from Xvfb's mouse cursor.

    Xvfb draws its cursor into the frame buffer, at the screen's centre until it is moved.
    """
    shown = screen[y : y + canvas_rgb.shape[0], x : x + canvas_rgb.shape[1]]
    if shown.shape != canvas_rgb.shape:  # the window is not (yet) all on the screen
        return np.ones(canvas_rgb.shape[:2], dtype=bool)
    differs = np.any(shown != canvas_rgb, axis=2)
    cursor_y, cursor_x = SCREEN_HEIGHT // 2 - y, SCREEN_WIDTH // 2 - x
    differs[max(cursor_y - 2, 0) : cursor_y + 32, max(cursor_x - 2, 0) : cursor_x + 32] = False
    return differs


def _non_black_corner(screen) -> list[tuple[int, int]]:
    """The top-left (y, x) of what is drawn on the black root window, if anything is."""
    ys, xs = np.nonzero(screen.any(axis=2))
    return [(int(ys.min()), int(xs.min()))] if len(ys) else []


def test_window_reports_quit_keys_and_closing(virtual_display, monkeypatch):
    import cv2

    monkeypatch.setenv("DISPLAY", virtual_display[0])
    canvas = render_monitor(None, None, TraceHistory(), DIMENSIONS)
    window = MonitorWindow("streamer monitor keys")
    window.open()
    try:
        assert window.show(canvas) is False
        for key in (ord("q"), ord("Q"), 27):
            with monkeypatch.context() as patch:
                patch.setattr(cv2, "waitKey", lambda _delay_ms, key=key: key)
                assert window.show(canvas) is True
        with monkeypatch.context() as patch:
            patch.setattr(cv2, "waitKey", lambda _delay_ms: ord("x"))
            assert window.show(canvas) is False
        with monkeypatch.context() as patch:  # the user closed the window
            patch.setattr(cv2, "getWindowProperty", lambda _title, _prop: 0.0)
            assert window.show(canvas) is True
    finally:
        window.close()
        window.close()  # closing twice is harmless
    with pytest.raises(RuntimeError):
        window.show(canvas)
