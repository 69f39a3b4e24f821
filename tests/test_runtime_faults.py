"""The runtime when things go wrong: devices that fail and come back, a face that leaves,
a long silence, damaged files, a killed or terminated replay, codebooks that do not fit."""

from __future__ import annotations

import math
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from streamer.cli import main
from streamer.errors import StreamerError
from streamer.sources.camera import CameraError
from streamer.sources.microphone import MicrophoneError
from streamer.types import AudioBlock, VideoFrame
from tests.runtime_media import (
    HOP_S,
    SPEECH_CHILD,
    assert_continuous,
    assert_values,
    csv_lines,
    decode_frames,
    flags,
    looped,
    parse_row,
    process_alive,
    read_rows,
    remux_faststart,
    subprocess_env,
    talking_head,
    times,
    write_video,
)

pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")

FPS = 25


@pytest.fixture(scope="module")
def speaker5(shared_dir):
    """Speaker 5's first 100 pictures (half size, RGB), its sound and its sample rate."""
    from streamer.sources.media_file import read_audio

    video = talking_head(shared_dir, 5)
    samples, rate_hz = read_audio(video)
    return decode_frames(video, 100, scale=0.5), samples, rate_hz


@pytest.fixture(scope="module")
def model():
    from streamer.runtime.model_bundle import load_affect_model

    return load_affect_model()


def _one_error_line(stderr: str) -> str:
    """The ``streamer: error: ...`` line, checked to be the only one and the last line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("streamer: error: ")]
    assert len(errors) == 1, f"expected one error line in {stderr!r}"
    assert lines[-1] == errors[0], f"the error is not a single last line: {lines[-3:]}"
    return errors[0]


# ---- live devices that fail ------------------------------------------------------------


class FakeCamera:
    """A live camera: ``images`` looped at ``FPS``, each frame given at its time on the session
    clock; raises CameraError at ``fail_at_s`` (an unplugged camera)."""

    n_dropped = 0

    def __init__(self, images, fail_at_s: float | None = None):
        self.images = images
        self.fail_at_s = fail_at_s
        self.times_s: list[float] = []
        self._stopped = threading.Event()
        self._start_s = 0.0

    def start(self, session_start_s: float) -> FakeCamera:
        self._start_s = session_start_s
        return self

    def __iter__(self):
        k = math.ceil((time.monotonic() - self._start_s) * FPS)  # the next frame from now
        while not self._stopped.is_set():
            t_s = k / FPS
            if self.fail_at_s is not None and t_s >= self.fail_at_s:
                raise CameraError("camera 0 stopped delivering frames: none for 2 s (unplugged)")
            if self._stopped.wait(max(self._start_s + t_s - time.monotonic(), 0.0)):
                return
            self.times_s.append(t_s)
            yield VideoFrame(t_s, self.images[k % len(self.images)], k)
            k += 1

    def stop(self) -> None:
        self._stopped.set()


class FakeMicrophone:
    """A live microphone: ``samples`` looped, in 50 ms blocks given when recorded (at their
    end on the session clock); raises MicrophoneError at ``fail_at_s``."""

    n_dropped = 0
    block_s = 0.05

    def __init__(self, samples, rate_hz: int, fail_at_s: float | None = None):
        self.samples, self.rate_hz, self.fail_at_s = samples, rate_hz, fail_at_s
        self.times_s: list[float] = []
        self._stopped = threading.Event()
        self._start_s = 0.0

    def start(self, session_start_s: float) -> FakeMicrophone:
        self._start_s = session_start_s
        return self

    def __iter__(self):
        n_block = round(self.block_s * self.rate_hz)
        k = math.ceil((time.monotonic() - self._start_s) / self.block_s)
        while not self._stopped.is_set():
            t_s = k * self.block_s
            if self.fail_at_s is not None and t_s >= self.fail_at_s:
                raise MicrophoneError(
                    "microphone 'x' stopped delivering audio: the audio stream ended"
                )
            if self._stopped.wait(max(self._start_s + t_s + self.block_s - time.monotonic(), 0.0)):
                return
            first = k * n_block
            samples = np.take(self.samples, np.arange(first, first + n_block), mode="wrap")
            self.times_s.append(t_s)
            yield AudioBlock(t_s, samples, self.rate_hz)
            k += 1

    def stop(self) -> None:
        self._stopped.set()


class Opener:
    """``open_camera`` / ``open_microphone``: the n-th call (from 1) gives ``make(n)``, or
    raises ``error`` when ``make(n)`` is None (the device is not back yet)."""

    def __init__(self, make, error: StreamerError):
        self.make, self.error = make, error
        self.sources: list = []

    def __call__(self, device):
        source = self.make(len(self.sources) + 1)
        self.sources.append(source)
        if source is None:
            raise self.error
        return source


def _run_live(config, model, open_camera, open_microphone, until_s: float):
    """Estimates of a live session until ``until_s`` of session time, and its stats."""
    from streamer.runtime.session import live_session

    pipeline = live_session(config, model, camera=0, microphone="x",
                            open_camera=open_camera, open_microphone=open_microphone)  # fmt: skip
    estimates = []
    try:
        for estimate in pipeline:
            estimates.append(estimate)
            if estimate.t_s >= until_s:
                break
    finally:
        pipeline.close()
    return estimates, pipeline.stats


def _live_config(*overrides):
    from streamer.runtime.session import session_config

    return session_config(overrides=["runtime.reconnect_interval_s=0.5", *overrides])


def test_estimates_go_on_while_the_camera_is_away_and_it_is_reopened(speaker5, model, face_model):
    images, samples, rate_hz = speaker5
    config = _live_config()

    def camera(n):  # unplugged at 2 s; three reopen attempts fail; the fourth works
        if n == 1:
            return FakeCamera(images, fail_at_s=2.0)
        return FakeCamera(images) if n >= 5 else None

    cameras = Opener(camera, CameraError("camera 0 cannot be opened: no such device /dev/video0"))
    microphones = Opener(lambda n: FakeMicrophone(samples, rate_hz), MicrophoneError("-"))
    estimates, stats = _run_live(config, model, cameras, microphones, until_s=5.5)

    assert len(cameras.sources) == 5 and len(microphones.sources) == 1
    assert_continuous(estimates)  # no gap in t_s through the outage
    assert_values(estimates, model.dimensions)
    gone_s, back_s = cameras.sources[0].times_s[-1], cameras.sources[-1].times_s[0]
    assert 1.9 < back_s - gone_s < 3.0, (gone_s, back_s)  # 4 reconnect intervals
    t_s, face = times(estimates), flags(estimates, "face")
    before = face[t_s <= gone_s - HOP_S]
    # the latest video bag stands in for max_stale_s, then the video counts as missing
    away = face[(t_s >= gone_s + config.runtime.max_stale_s + 0.15) & (t_s <= back_s - 0.15)]
    after = face[t_s >= back_s + 0.25]
    assert before.mean() >= 0.9 and len(before) >= 15
    assert len(away) >= 3 and not away.any(), f"face flags while the camera was away: {away}"
    assert after.mean() >= 0.9 and len(after) >= 5
    camera_errors = [e for e in stats.errors if e.startswith("video: ") and "camera" in e]
    assert len(camera_errors) == 4 and stats.errors == camera_errors  # failure + 3 reopens
    assert "stopped delivering" in camera_errors[0] and "cannot be opened" in camera_errors[1]


def test_a_failed_microphone_leaves_a_video_only_session(speaker5, model, face_model):
    images, samples, rate_hz = speaker5
    config = _live_config()
    cameras = Opener(lambda n: FakeCamera(images), CameraError("-"))
    microphones = Opener(  # the microphone goes at 1.5 s and does not come back
        lambda n: FakeMicrophone(samples, rate_hz, fail_at_s=1.5) if n == 1 else None,
        MicrophoneError("no audio input matches 'x'; the inputs are 'pulse'"),
    )
    estimates, stats = _run_live(config, model, cameras, microphones, until_s=4.5)

    assert_continuous(estimates)
    assert_values(estimates, model.dimensions)
    gone_s = microphones.sources[0].times_s[-1] + FakeMicrophone.block_s
    t_s, speech = times(estimates), flags(estimates, "speech")
    assert flags(estimates, "face").mean() >= 0.9  # the video goes on
    assert speech[t_s < gone_s].any(), "no speech flag while the microphone worked"
    assert not speech[t_s >= gone_s + config.runtime.max_stale_s + 0.15].any()
    mic_errors = [e for e in stats.errors if e.startswith("audio: ")]
    assert stats.errors == mic_errors and len(mic_errors) >= 3  # failure + reopen attempts
    assert "microphone 'x' stopped delivering audio" in mic_errors[0]
    assert all("no audio input matches 'x'" in e for e in mic_errors[1:])
    assert len(microphones.sources) == len(mic_errors)


def test_a_recogniser_that_cannot_start_ends_the_session_cleanly(
    shared_dir, face_model, monkeypatch
):
    import streamer
    from streamer.features.face.tracker import FaceTracker

    closed = []
    close = FaceTracker.close
    monkeypatch.setattr(FaceTracker, "close", lambda self: closed.append(self) or close(self))
    no_model = ["speech.backend=vosk", "speech.vosk_model_path=/nonexistent/vosk-model"]
    pipeline = streamer.stream(talking_head(shared_dir, 5), overrides=no_model)
    with pytest.raises(StreamerError, match="the speech recogniser did not start") as raised:
        list(pipeline)
    assert "\n" not in str(raised.value)
    deadline_s = time.monotonic() + 5.0
    while any(t.name.startswith("streamer-") for t in threading.enumerate()):
        assert time.monotonic() < deadline_s, "the session's worker threads were left running"
        time.sleep(0.05)
    assert len(closed) == 1  # the face worker released MediaPipe


# ---- media that change -----------------------------------------------------------------


def test_face_leaving_the_picture_clears_the_face_flag(speaker5, model, face_model, tmp_path):
    images, samples, rate_hz = speaker5
    blank = np.zeros_like(images[0])
    pictures = images[:50] + [blank] * 75 + images[50:100]  # face 0-2 s, none 2-5 s, face 5-7 s
    video = write_video(
        tmp_path / "face_leaves.mp4", pictures, FPS, looped(samples, 7 * rate_hz), rate_hz
    )
    out = tmp_path / "face_leaves.csv"
    assert main(["replay", str(video), "--csv", str(out)]) == 0
    estimates = read_rows(out)
    assert_continuous(estimates)
    assert 6.85 <= estimates[-1].t_s <= 7.0
    assert_values(estimates, model.dimensions)
    t_s, face = times(estimates), flags(estimates, "face")
    assert face[t_s <= 1.95].mean() >= 0.95
    assert not face[(t_s >= 2.15) & (t_s <= 4.95)].any()  # hop t holds the frames of (t - 0.1, t]
    assert face[t_s >= 5.15].mean() >= 0.95


def test_a_long_silence_clears_the_speech_flag(speaker5, model, face_model, tmp_path):
    images, samples, rate_hz = speaker5
    pictures = [images[k % len(images)] for k in range(int(12.5 * FPS))]
    speech_s, silence_s = 2.0, 8.5  # speech 0-2 s, silence 2-10.5 s, speech 10.5-12.5 s
    n = int(speech_s * rate_hz)
    sound = np.concatenate([samples[:n], np.zeros(int(silence_s * rate_hz)), samples[n : 2 * n]])
    video = write_video(tmp_path / "silence.mp4", pictures, FPS, sound, rate_hz)
    out = tmp_path / "silence.csv"
    assert main(["replay", str(video), "--csv", str(out)]) == 0
    estimates = read_rows(out)
    assert_continuous(estimates)
    assert 12.35 <= estimates[-1].t_s <= 12.5
    assert_values(estimates, model.dimensions)
    t_s, speech = times(estimates), flags(estimates, "speech")
    assert speech[t_s < speech_s].any() and speech[t_s > speech_s + silence_s].any()
    # a hop's LLD frames reach 60 ms past it; AAC smears a little: a margin either side
    assert not speech[(t_s >= speech_s + 0.25) & (t_s <= speech_s + silence_s - 0.15)].any()
    assert flags(estimates, "face").mean() >= 0.95


# ---- damaged files ---------------------------------------------------------------------


def test_a_truncated_video_keeps_the_rows_before_the_damage(
    shared_dir, face_model, tmp_path, capsys
):
    from streamer.sources.media_file import probe_media

    whole = remux_faststart(talking_head(shared_dir, 5), tmp_path / "indexed_first.mp4")
    duration_s = probe_media(whole)[2]
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(0.6 * len(data))])
    out = tmp_path / "cut.csv"
    capsys.readouterr()
    assert main(["replay", str(cut), "--csv", str(out)]) == 2
    error = _one_error_line(capsys.readouterr().err)
    assert str(cut) in error and ("truncated" in error or "corrupt" in error)
    estimates = read_rows(out)  # every row complete
    assert len(estimates) >= 10
    assert_continuous(estimates)
    assert estimates[-1].t_s <= 0.75 * duration_s  # up to the damage, not beyond


@pytest.mark.parametrize("damage", ["index_cut_off", "not_a_video"])
def test_an_unreadable_file_is_a_one_line_error_before_any_row(
    shared_dir, face_model, tmp_path, capsys, damage
):
    path = tmp_path / "damaged.mp4"
    if damage == "index_cut_off":  # this MP4's index (moov) is at its end
        data = talking_head(shared_dir, 5).read_bytes()
        path.write_bytes(data[: int(0.6 * len(data))])
    else:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    out = tmp_path / "rows.csv"
    capsys.readouterr()
    assert main(["replay", str(path), "--csv", str(out)]) == 2
    error = _one_error_line(capsys.readouterr().err)
    assert str(path) in error
    assert not out.exists() or csv_lines(out)[1] == []


# ---- a replay killed or terminated -----------------------------------------------------


def _start_realtime_replay(shared_dir, face_model, out, stderr_path):
    command = [sys.executable, "-m", "streamer", "replay", str(talking_head(shared_dir, 1)),
               "--realtime", "--csv", str(out)]  # fmt: skip
    with stderr_path.open("w") as stderr:
        return subprocess.Popen(command, env=subprocess_env(face_model),
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip


def _wait_for_rows(process, out, n_rows: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (out.exists() and len(csv_lines(out)[1]) >= n_rows):
        assert process.poll() is None, f"the replay ended early with status {process.returncode}"
        assert time.monotonic() < deadline, f"no {n_rows} rows within {timeout_s} s"
        time.sleep(0.05)


def _speech_children(pid: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(pid), "-f", SPEECH_CHILD], capture_output=True, text=True
    )
    return [int(line) for line in found.stdout.split()]


def _gone_within(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def pgrep():
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not installed (apt-get install procps)")


def test_kill_9_during_a_replay_leaves_only_complete_rows(shared_dir, face_model, pgrep, tmp_path):
    out, stderr = tmp_path / "killed.csv", tmp_path / "stderr.txt"
    process = _start_realtime_replay(shared_dir, face_model, out, stderr)
    try:
        _wait_for_rows(process, out, 10)
        children = _speech_children(process.pid)
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        process.kill()
    text = out.read_text()
    assert text.endswith("\n"), "a row was cut"
    estimates = [parse_row(line) for line in csv_lines(out)[1]]  # every line complete
    assert len(estimates) >= 10
    assert_continuous(estimates)
    assert len(children) == 1, "no speech recogniser process was found"
    assert _gone_within(children[0], 10.0), "the recogniser outlived its killed parent"
    assert "Traceback" not in stderr.read_text()  # the orphaned recogniser ended quietly


def test_sigterm_stops_a_realtime_replay_cleanly(shared_dir, face_model, pgrep, tmp_path):
    out, stderr = tmp_path / "stopped.csv", tmp_path / "stderr.txt"
    process = _start_realtime_replay(shared_dir, face_model, out, stderr)
    try:
        _wait_for_rows(process, out, 10)
        children = _speech_children(process.pid)
        process.send_signal(signal.SIGTERM)
        status = process.wait(20)
    finally:
        process.kill()
    messages = stderr.read_text()
    assert status == 0, messages
    assert "stopped by SIGTERM" in messages
    estimates = read_rows(out)
    assert 10 <= len(estimates) < 55  # stopped well before the end of the 6.1 s video
    assert_continuous(estimates)
    assert len(children) == 1, "no speech recogniser process was found"
    assert not process_alive(children[0]), "the recogniser outlived the session"
    still_running = subprocess.run(["pgrep", "-f", SPEECH_CHILD], capture_output=True, text=True)
    assert str(children[0]) not in still_running.stdout.split()


# ---- models and codebooks that do not fit ----------------------------------------------


def test_a_codebook_the_model_was_not_trained_with_is_refused(
    shared_dir, face_model, tmp_path, capsys
):
    from streamer.bow.codebook import Codebook
    from streamer.bow.feature_tables import GROUP_COLUMNS
    from streamer.runtime.model_bundle import (
        SHIPPED_CODEBOOKS_DIR,
        SHIPPED_MODELS_DIR,
        ModelMismatchError,
        load_affect_model,
    )

    models = shutil.copytree(SHIPPED_MODELS_DIR, tmp_path / "models")
    codebooks = shutil.copytree(SHIPPED_CODEBOOKS_DIR, tmp_path / "codebooks")
    assert load_affect_model(models, codebooks).dimensions  # the copies load
    frames = np.random.default_rng(0).normal(size=(300, 3))
    other = Codebook.fit(frames, 20, group="pose", feature_names=GROUP_COLUMNS["pose"])
    other.save(codebooks / "pose.npz")

    with pytest.raises(ModelMismatchError) as raised:
        load_affect_model(models, codebooks)
    assert "pose.npz" in str(raised.value) and "\n" not in str(raised.value)
    out = tmp_path / "rows.csv"
    video = str(talking_head(shared_dir, 5))
    capsys.readouterr()
    status = main(["replay", video, "--models", str(models), "--csv", str(out),
                   "--set", f"runtime.codebooks_dir={codebooks}"])  # fmt: skip
    assert status == 2
    assert str(codebooks / "pose.npz") in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_missing_models_folder_is_a_one_line_error(shared_dir, tmp_path, capsys):
    from streamer.runtime.model_bundle import load_affect_model

    missing = tmp_path / "no_such_models"
    with pytest.raises(StreamerError, match="does not exist"):
        load_affect_model(missing)
    video = str(talking_head(shared_dir, 5))
    for folder in (missing, tmp_path):  # absent; present but holding no model
        capsys.readouterr()
        assert main(["replay", video, "--models", str(folder)]) == 2
        assert str(folder) in _one_error_line(capsys.readouterr().err)
