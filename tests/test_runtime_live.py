"""``streamer monitor`` end to end without hardware: a "camera" playing a talking head, the
real microphone path (PortAudio -> PulseAudio null sink, fed by paplay), the window on a
virtual X display, stopped by SIGTERM; the window is photographed from Xvfb's frame buffer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from streamer.runtime.display import CANVAS_HEIGHT, CANVAS_WIDTH, LANDMARK, VIDEO_PANEL
from tests.conftest import read_xwd, write_wav
from tests.runtime_media import (
    assert_continuous,
    assert_values,
    csv_lines,
    flags,
    read_rows,
    talking_head,
)

pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")

SCREENSHOT_COPY = "/tmp/monitor_screenshot.png"  # always written, for people to look at
SESSION_ROWS = 60  # stop after 6 s of estimates
YELLOW_RGB = LANDMARK[::-1]  # the landmark dots (BGR in the canvas)


class VideoFileCapture:
    """A ``cv2.VideoCapture`` stand-in for a webcam: a video file's pictures (BGR) at the
    file's own frame rate, from its start again at its end."""

    def __init__(self, path):
        import cv2

        self._cv2 = cv2
        self._capture = cv2.VideoCapture(str(path))
        self._frame_s = 1.0 / (self._capture.get(cv2.CAP_PROP_FPS) or 25.0)
        self._due_s: float | None = None
        self.properties: dict = {}

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return self._capture.isOpened()

    def read(self):
        now_s = time.monotonic()
        self._due_s = now_s if self._due_s is None else self._due_s + self._frame_s
        if self._due_s > now_s:
            time.sleep(self._due_s - now_s)
        ok, image = self._capture.read()
        if not ok:
            self._capture.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        return ok, image

    def set(self, prop, value):
        self.properties[prop] = value
        return True

    def get(self, prop):
        return self.properties.get(prop, 0.0)

    def release(self):
        self._capture.release()


class Loudspeaker:
    """Plays a WAV file into the null sink over and over (``paplay``) until stopped."""

    def __init__(self, wav, env):
        self._wav, self._env = wav, env
        self._stop = threading.Event()
        self._player: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            command = ["paplay", "-d", "streamer_test", str(self._wav)]
            self._player = subprocess.Popen(command, env=self._env)
            self._player.wait()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._player is not None:
            self._player.kill()
        self._thread.join(5.0)


def _window_of(screen):
    """The monitor canvas on the screen (the part drawn on the black root window), or None."""
    ys, xs = np.nonzero(screen.any(axis=2))
    if not len(ys):
        return None
    y, x = int(ys.min()), int(xs.min())
    window = screen[y : y + CANVAS_HEIGHT, x : x + CANVAS_WIDTH]
    return window if window.shape[:2] == (CANVAS_HEIGHT, CANVAS_WIDTH) else None


def _yellow_in_video_panel(window) -> int:
    x0, y0, width, height = VIDEO_PANEL
    panel = window[y0 : y0 + height, x0 : x0 + width]
    return int(np.all(panel == YELLOW_RGB, axis=2).sum())


class Photographer:
    """Photographs the screen every 0.3 s; keeps the last window showing landmark dots."""

    def __init__(self, frame_buffer, min_yellow: int = 30):
        self._frame_buffer = frame_buffer
        self._min_yellow = min_yellow
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.shot: np.ndarray | None = None  # the last window with landmarks, else the last
        self.yellow = 0  # landmark-yellow pixels in its video panel
        self.n_shots = 0

    def _run(self):
        while not self._stop.wait(0.3):
            with contextlib.suppress(Exception):  # a frame buffer caught mid-write
                window = _window_of(read_xwd(self._frame_buffer))
                if window is None:
                    continue
                self.n_shots += 1
                yellow = _yellow_in_video_panel(window)
                if yellow >= self._min_yellow or self.yellow < self._min_yellow:
                    self.shot, self.yellow = window.copy(), yellow

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5.0)


def _stop_after_rows(csv, n_rows: int, done: threading.Event, timeout_s: float = 60.0):
    """Send this process SIGTERM once ``csv`` holds ``n_rows`` rows (or after ``timeout_s``)."""
    deadline_s = time.monotonic() + timeout_s
    while not done.wait(0.1):
        enough = csv.exists() and len(csv_lines(csv)[1]) >= n_rows
        if enough or time.monotonic() > deadline_s:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def test_monitor_shows_the_camera_and_logs_estimates_from_the_microphone(
    shared_dir, face_model, pulse_server, virtual_display, monkeypatch, tmp_path, capsys
):
    import cv2

    from streamer.cli import build_parser
    from streamer.runtime.commands import run_monitor
    from streamer.runtime.model_bundle import load_affect_model
    from streamer.sources.camera import CameraSource
    from streamer.sources.media_file import read_audio
    from streamer.sources.microphone import list_audio_inputs

    if not any(d["name"] == "pulse" for d in list_audio_inputs()):
        pytest.skip("PortAudio has no 'pulse' device (apt-get install libasound2-plugins)")
    display, frame_buffer = virtual_display
    monkeypatch.setenv("DISPLAY", display)
    video = talking_head(shared_dir, 5)
    samples, rate_hz = read_audio(video)
    wav = write_wav(tmp_path / "speaker5.wav", samples, rate_hz)
    csv = tmp_path / "monitor.csv"
    args = build_parser().parse_args(["monitor", "--mic", "pulse", "--csv", str(csv)])

    def open_camera(device):
        return CameraSource(device, capture_factory=lambda _: VideoFileCapture(video))

    done = threading.Event()
    stopper = threading.Thread(target=_stop_after_rows, args=(csv, SESSION_ROWS, done))
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # a late SIGTERM is harmless
    try:
        with Loudspeaker(wav, pulse_server), Photographer(frame_buffer) as photographer:
            stopper.start()
            status = run_monitor(args, open_camera=open_camera)
    finally:
        done.set()
        stopper.join(5.0)
        signal.signal(signal.SIGTERM, previous)
    messages = capsys.readouterr().err

    shot = photographer.shot
    assert shot is not None, f"no window on the virtual screen ({photographer.n_shots} shots)"
    for path in filter(None, (os.environ.get("STREAMER_SCREENSHOT"), SCREENSHOT_COPY)):
        cv2.imwrite(path, shot[..., ::-1])
    assert status == 0, messages
    assert "stopped by SIGTERM" in messages
    n_colours = len(np.unique(shot.reshape(-1, 3), axis=0))
    assert n_colours > 1000, f"the window shows only {n_colours} colours"  # a picture
    assert photographer.yellow >= 30, "no landmark dots on the picture"

    estimates = read_rows(csv)
    assert len(estimates) >= SESSION_ROWS
    assert_continuous(estimates)
    assert_values(estimates, load_affect_model().dimensions)
    assert flags(estimates, "face").mean() >= 0.8
    assert flags(estimates, "speech").sum() >= 3, "no speech heard from the microphone"
