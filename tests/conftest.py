"""Shared fixtures: the ``../shared`` data folder, small generated signals, a virtual X
display (Xvfb) and a private PulseAudio server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREEN_WIDTH, SCREEN_HEIGHT = 1600, 900  # the virtual display's screen (pixels)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder (``STREAMER_SHARED`` or ``../shared``); skips the test when absent."""
    path = Path(os.environ.get("STREAMER_SHARED", REPO_ROOT.parent / "shared"))
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set STREAMER_SHARED to use it)")
    return path


@pytest.fixture
def face_model(shared_dir, monkeypatch) -> Path:
    """The MediaPipe face model of ``../shared``, also set as ``STREAMER_FACE_MODEL``."""
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")
    path = shared_dir / "models" / "face_landmarker.task"
    if not path.is_file():
        pytest.skip(f"the face model {path} is absent")
    monkeypatch.setenv("STREAMER_FACE_MODEL", str(path))
    return path


def write_wav(path: Path, samples: np.ndarray, sample_rate_hz: int) -> Path:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = np.clip(np.round(np.asarray(samples) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate_hz)
        file.writeframes(pcm.tobytes())
    return path


def voiced_signal(duration_s: float, sample_rate_hz: int, f0_hz: float = 140.0, seed: int = 0):
    """A vowel-like test signal: a harmonic tone with a little noise and a slow F0 glide."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    f0 = f0_hz * (1.0 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate_hz
    signal = sum(np.sin(k * phase) / k for k in range(1, 12))
    signal = 0.3 * signal / np.max(np.abs(signal)) + 0.003 * rng.standard_normal(t.size)
    return signal


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


@pytest.fixture
def http_folder(tmp_path):
    """A folder served over HTTP on 127.0.0.1, and its base URL (no other address is used)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---- a virtual X display (Xvfb) ---------------------------------------------------------


def read_xwd(path: Path) -> np.ndarray:
    """An XWD ZPixmap file (Xvfb's ``-fbdir`` frame buffer, 24/32 bits a pixel) as RGB uint8."""
    data = path.read_bytes()
    header = np.frombuffer(data[:100], dtype=">u4")
    header_size, _, pixmap_format, _, width, height = header[:6]
    byte_order, bits_per_pixel, bytes_per_line = header[7], header[11], header[12]
    masks, n_colours = header[14:17], header[19]
    assert pixmap_format == 2 and bits_per_pixel == 32, "expected a 32-bit ZPixmap"
    start = int(header_size) + 12 * int(n_colours)
    rows = np.frombuffer(
        data,
        dtype="<u4" if byte_order == 0 else ">u4",
        count=int(height) * int(bytes_per_line) // 4,
        offset=start,
    )
    pixels = rows.reshape(int(height), -1)[:, : int(width)]
    channels = []
    for mask in masks:
        shift = (int(mask) & -int(mask)).bit_length() - 1
        channels.append(((pixels & mask) >> shift).astype(np.uint8))
    return np.stack(channels, axis=2)


@pytest.fixture(scope="session")
def virtual_display(tmp_path_factory):
    """A private Xvfb server: (DISPLAY value, path of its frame buffer as an XWD file).

    One for the whole session: OpenCV's Qt connects to the first display it is shown on and
    would lose its connection if that server stopped while later tests open windows.
    """
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    frame_buffer_dir = tmp_path_factory.mktemp("xvfb")
    for number in range(97, 121):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        command = ["Xvfb", f":{number}", "-screen", "0", f"{SCREEN_WIDTH}x{SCREEN_HEIGHT}x24"]
        command += ["-fbdir", str(frame_buffer_dir), "-nolisten", "tcp", "-br"]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5.0
        while server.poll() is None and time.monotonic() < deadline:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                yield f":{number}", frame_buffer_dir / "Xvfb_screen0"
                server.terminate()
                server.wait(timeout=5)
                return
            time.sleep(0.02)
        server.kill()
        server.wait()
    pytest.skip("no free X display number in :97..:120 for Xvfb")


# ---- a private PulseAudio server with a null sink ----------------------------------------


def _succeeds(args, env, timeout_s=3.0) -> bool:
    try:
        return subprocess.run(args, env=env, capture_output=True, timeout=timeout_s).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _reinitialise_portaudio():
    """PortAudio lists the devices once, when it starts: make it list them again."""
    try:
        import sounddevice
    except (ImportError, OSError):
        pytest.skip("sounddevice or PortAudio is missing (apt-get install libportaudio2)")
    sounddevice._terminate()
    sounddevice._initialize()


@pytest.fixture
def pulse_server():
    """A private PulseAudio server whose only sink is a null sink ``streamer_test``; its
    monitor is the default source. Yields the environment for clients; killed afterwards.

    As root, PulseAudio runs in user mode with a warning ("not intended to be run as root");
    ``--system`` is not needed. ``-n`` skips default.pa (no hardware probing); the socket
    and runtime folders are private, so the user's own server is never touched. PortAudio
    (in this process) reaches it through ALSA's pulse plugin and ``PULSE_SERVER``.
    """
    missing = [tool for tool in ("pulseaudio", "paplay", "pactl") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install pulseaudio pulseaudio-utils)")  # fmt: skip
    _reinitialise_portaudio()  # skips when PortAudio is missing
    runtime = Path(tempfile.mkdtemp(prefix="streamer-pa-"))  # short: socket paths max 108 bytes
    socket = runtime / "native"
    env = dict(os.environ, HOME=str(runtime), XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(runtime / "config"), PULSE_SERVER=f"unix:{socket}")  # fmt: skip
    env.pop("DISPLAY", None)
    log_path = runtime / "pulseaudio.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--system=false", "-n", "--exit-idle-time=-1",
             "--disallow-exit", "--use-pid-file=no", "--log-target=stderr",
             "--load=module-null-sink sink_name=streamer_test rate=44100",
             f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    saved_server = os.environ.get("PULSE_SERVER")
    try:
        deadline_s = time.monotonic() + 5.0
        while not _succeeds(["pactl", "info"], env):
            if server.poll() is not None or time.monotonic() > deadline_s:
                last_lines = log_path.read_text().strip().splitlines()[-2:]
                pytest.skip(f"the PulseAudio server did not start: {' | '.join(last_lines)}")
            time.sleep(0.1)
        assert _succeeds(["pactl", "set-default-source", "streamer_test.monitor"], env)
        os.environ["PULSE_SERVER"] = env["PULSE_SERVER"]
        _reinitialise_portaudio()
        yield env
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server (and its group) is gone
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(5.0)
        shutil.rmtree(runtime, ignore_errors=True)
        try:
            _reinitialise_portaudio()  # PULSE_SERVER still names the dead server: no autospawn
        finally:
            if saved_server is None:
                os.environ.pop("PULSE_SERVER", None)
            else:
                os.environ["PULSE_SERVER"] = saved_server
