"""Shared fixtures: the ``../shared`` data folder and small generated signals."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder (``STREAMER_SHARED`` or ``../shared``); skips the test when absent."""
    path = Path(os.environ.get("STREAMER_SHARED", REPO_ROOT.parent / "shared"))
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set STREAMER_SHARED to use it)")
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
