"""The microphone source, with a fake PortAudio stream (no hardware) and the real path
through a PulseAudio server started by the test (a null sink's monitor as the input)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from streamer.errors import StreamerError
from streamer.features.lld.resample import StreamingResampler
from streamer.sources.microphone import MicrophoneError, MicrophoneSource, list_audio_inputs
from tests.conftest import REPO_ROOT, write_wav

DEVICES = [
    dict(index=0, name="HDA Intel PCH: ALC892 Analog (hw:0,0)", max_input_channels=2,
         default_samplerate=44100.0, is_default_input=False),
    dict(index=1, name="HDA Intel PCH: HDMI 0 (hw:0,3)", max_input_channels=0,
         default_samplerate=48000.0, is_default_input=False),
    dict(index=2, name="USB Microphone: Audio (hw:1,0)", max_input_channels=2,
         default_samplerate=48000.0, is_default_input=True),
    dict(index=3, name="pulse", max_input_channels=32, default_samplerate=44100.0,
         is_default_input=False),
]  # fmt: skip


CAPTURE_CLOCK_S: list[float] = []  # when set, the time.monotonic() the callback sees


@pytest.fixture(autouse=True)
def _fake_capture_clock(monkeypatch):
    CAPTURE_CLOCK_S.clear()
    clock = lambda: CAPTURE_CLOCK_S[-1] if CAPTURE_CLOCK_S else time.monotonic()  # noqa: E731
    monkeypatch.setattr("streamer.sources.microphone._capture_clock", clock)


class FakeStream:
    """A ``sounddevice.InputStream`` stand-in; the test calls ``push()`` to run the callback.

    The callback sees the time of a device that started one block before the first push and
    delivers in real time (however fast the test pushes), plus ``late_s``.
    """

    def __init__(self, callback, finished_callback, close_blocks=False, **settings):
        self.callback = callback
        self.finished_callback = finished_callback
        self.settings = settings
        self.close_blocks = close_blocks
        self.started = False
        self.closed = threading.Event()
        self.first_push_s: float | None = None
        self.n_pushed = 0

    def start(self):
        self.started = True

    def push(self, data, late_s=0.0, overflow=False, n_lost=0):
        """Run the callback with ``data`` (n_frames, n_channels), after ``n_lost`` samples."""
        data = np.asarray(data, np.float32).reshape(len(data), -1)
        if self.first_push_s is None:
            self.first_push_s = time.monotonic()
        self.n_pushed += n_lost + len(data)
        delivered_s = self.first_push_s + (self.n_pushed - len(data)) / self.settings["samplerate"]
        CAPTURE_CLOCK_S.append(delivered_s + late_s)
        try:
            status = SimpleNamespace(input_overflow=overflow)
            self.callback(data, len(data), SimpleNamespace(inputBufferAdcTime=0.0), status)
        finally:
            CAPTURE_CLOCK_S.clear()

    def close(self):
        if self.close_blocks:
            threading.Event().wait(5.0)  # a vanished device: PortAudio's close hangs
        self.closed.set()


class FakeBackend:
    """A stream factory accepting only the ``supported`` (rate, channels) settings."""

    def __init__(self, supported=((16000, 1),), devices=DEVICES, close_blocks=False):
        self.supported = set(supported)
        self.devices = devices
        self.close_blocks = close_blocks
        self.stream: FakeStream | None = None

    def __call__(self, **settings):
        if (settings["samplerate"], settings["channels"]) not in self.supported:
            raise RuntimeError("Error opening InputStream: Invalid sample rate [PaErrorCode -9997]")
        self.stream = FakeStream(close_blocks=self.close_blocks, **settings)
        return self.stream

    def source(self, device="usb", **kwargs) -> MicrophoneSource:
        return MicrophoneSource(
            device, stream_factory=self, query_devices=lambda: self.devices, **kwargs
        )


def test_blocks_arrive_in_order_with_gapless_times():
    backend = FakeBackend()
    ramp = np.arange(8000, dtype=np.float32) / 8000
    session_start_s = time.monotonic()
    with backend.source(block_s=0.05).start(session_start_s) as mic:
        assert backend.stream.started and backend.stream.settings["blocksize"] == 800
        for block in ramp.reshape(10, 800):
            backend.stream.push(block[:, None])
        blocks = [mic.read(1.0) for _ in range(10)]
    assert backend.stream.closed.is_set()
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), ramp)
    assert all(b.sample_rate_hz == 16000 and b.samples.dtype == np.float64 for b in blocks)
    t_s = np.array([b.t_s for b in blocks])
    np.testing.assert_allclose(np.diff(t_s), 0.05, atol=1e-9)  # counted, gapless
    first_sample_s = backend.stream.first_push_s - 0.05 - session_start_s
    assert t_s[0] == pytest.approx(first_sample_s, abs=1e-9)
    assert mic.n_dropped == 0 and mic.n_overflows == 0


def test_times_follow_the_least_delayed_callback():
    backend = FakeBackend()
    with backend.source().start(0.0) as mic:
        stream = backend.stream
        stream.push(np.zeros((800, 1)), late_s=0.3)  # a slow start: bound 0.3 s late
        stream.push(np.zeros((800, 1)), late_s=0.1)  # better: the times move 0.2 s earlier
        stream.push(np.zeros((800, 1)), late_s=0.25)  # jitter: ignored
        stream.push(np.zeros((800, 1)), overflow=True, n_lost=16000, late_s=0.02)  # 1 s lost
        stream.push(np.zeros((800, 1)), late_s=0.04)
        t_s = np.array([mic.read(1.0).t_s for _ in range(5)]) - (stream.first_push_s - 0.05)
    np.testing.assert_allclose(t_s, [0.3, 0.15, 0.2, 1.17, 1.22], atol=1e-9)
    assert mic.n_overflows == 1


def test_full_queue_drops_the_oldest_blocks_and_counts_them():
    backend = FakeBackend()
    with backend.source(queue_blocks=3).start() as mic:
        for value in range(5):
            backend.stream.push(np.full((800, 1), value / 10))
        assert mic.n_dropped == 2
        blocks = [mic.read(1.0) for _ in range(3)]
        assert mic.read(0.01) is None
    assert [b.samples[0] for b in blocks] == pytest.approx([0.2, 0.3, 0.4])
    np.testing.assert_allclose(np.diff([b.t_s for b in blocks]), 0.05, atol=1e-9)


def test_input_overflows_are_counted():
    backend = FakeBackend()
    with backend.source().start() as mic:
        for overflow in [False, True, False, True]:
            backend.stream.push(np.zeros((800, 1)), overflow=overflow)
        assert mic.n_overflows == 2 and mic.n_dropped == 0
        assert [mic.read(1.0).samples.size for _ in range(4)] == [800] * 4


def test_48khz_stereo_device_is_mixed_to_mono_and_resampled_to_16khz():
    backend = FakeBackend(supported={(48000, 2)})
    t = np.arange(48000) / 48000
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 440 * t)], 1)
    with backend.source("usb").start() as mic:
        settings = backend.stream.settings
        assert (settings["samplerate"], settings["channels"], settings["blocksize"]) == (
            48000,
            2,
            2400,
        )
        for block in np.split(stereo.astype(np.float32), 20):
            backend.stream.push(block)
        blocks = []
        while (block := mic.read(0.1)) is not None:
            blocks.append(block)
    samples = np.concatenate([b.samples for b in blocks])
    offline = StreamingResampler(48000, 16000).push(stereo.astype(np.float32).mean(axis=1))
    np.testing.assert_allclose(samples, offline, atol=1e-12)
    assert samples.size > 15000 and all(b.sample_rate_hz == 16000 for b in blocks)
    middle = samples[2000:14000]  # a 0.4-amplitude 440 Hz sine at 16 kHz
    np.testing.assert_allclose(middle, 0.4 * np.sin(2 * np.pi * 440 * t[6000:42000:3]), atol=1e-3)
    starts = np.cumsum([0] + [b.samples.size for b in blocks[:-1]]) / 16000
    np.testing.assert_allclose([b.t_s for b in blocks] - starts, blocks[0].t_s, atol=1e-9)


@pytest.mark.parametrize(
    "device, index",
    [("usb", 2), ("USB MICROPHONE", 2), ("2", 2), (2, 2), ("", 2), ("Pulse", 3), ("alc892", 0)],
)
def test_device_is_chosen_by_index_or_part_of_its_name(device, index):
    backend = FakeBackend(supported={(16000, 1), (44100, 1)})
    mic = backend.source(device)
    assert mic.device_info["index"] == index == backend.stream.settings["device"]
    mic.stop()


@pytest.mark.parametrize(
    "device, message",
    [
        ("webcam", "no audio input matches 'webcam'; the inputs are 'HDA Intel PCH: ALC892"),
        (1, "audio device 1 is not an input device or does not exist"),
        ("9", "audio device 9 is not an input device"),
    ],
)
def test_unknown_device_is_a_one_line_error_listing_the_inputs(device, message):
    with pytest.raises(MicrophoneError, match="^" + message.replace("(", r"\(")) as error:
        FakeBackend().source(device)
    assert "\n" not in str(error.value) and "USB Microphone" in str(error.value)
    assert isinstance(error.value, StreamerError)


def test_no_input_device_at_all_is_a_one_line_error():
    outputs_only = [d for d in DEVICES if d["max_input_channels"] == 0]
    with pytest.raises(MicrophoneError, match="^no microphone: PortAudio finds no audio input"):
        FakeBackend(devices=outputs_only).source("")


def test_settings_the_device_refuses_are_a_one_line_error():
    with pytest.raises(MicrophoneError, match=r"microphone 2 \(USB Microphone.*cannot be opened"):
        FakeBackend(supported=set()).source("usb")


def test_list_audio_inputs_reports_inputs_only():
    inputs = list_audio_inputs(lambda: DEVICES)
    assert [d["index"] for d in inputs] == [0, 2, 3]
    assert inputs[1] == dict(index=2, name="USB Microphone: Audio (hw:1,0)", channels=2,
                             default_samplerate=48000.0, is_default=True)  # fmt: skip


def test_a_stream_whose_callback_stops_ends_with_an_error():
    backend = FakeBackend()
    mic = backend.source(no_audio_timeout_s=2.0).start()
    backend.stream.push(np.zeros((800, 1)))
    started_s = time.monotonic()
    with pytest.raises(MicrophoneError, match="stopped delivering audio: no audio for 2 s"):
        for _ in mic:
            pass
    assert 1.9 < time.monotonic() - started_s < 2.5
    mic.stop()


def test_a_stream_that_never_delivers_ends_with_an_error_after_the_startup_allowance(
    monkeypatch,
):
    monkeypatch.setattr("streamer.sources.microphone._STARTUP_S", 0.3)
    mic = FakeBackend().source(no_audio_timeout_s=0.1).start()
    started_s = time.monotonic()
    with pytest.raises(MicrophoneError, match="no audio within 0.3 s of starting"):
        mic.read(2.0)
    assert 0.25 < time.monotonic() - started_s < 0.6
    mic.stop()


def test_long_digital_silence_is_warned_about_once(caplog):
    backend = FakeBackend()
    with backend.source(no_audio_timeout_s=0.2).start() as mic:
        for value in [0.1] + [0.0] * 10 + [0.1] + [0.0] * 3:  # 0.5 s of zeros, then 0.15 s
            backend.stream.push(np.full((800, 1), value))
        assert len([mic.read(1.0) for _ in range(15)]) == 15
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "only digital silence for 0.2 s" in warnings[0]


def test_a_stream_that_finishes_ends_with_an_error_at_once():
    backend = FakeBackend()
    mic = backend.source().start()
    backend.stream.push(np.zeros((800, 1)))
    backend.stream.finished_callback()  # what sounddevice does when the device fails
    started_s = time.monotonic()
    with pytest.raises(MicrophoneError, match="the audio stream ended") as error:
        assert len(list(mic)) == 1  # the queued block first
    assert "\n" not in str(error.value) and time.monotonic() - started_s < 0.5
    mic.stop()


@pytest.mark.parametrize("close_blocks", [False, True])
def test_stop_is_prompt_and_idempotent(close_blocks):
    backend = FakeBackend(close_blocks=close_blocks)
    mic = backend.source().start()
    delivered = []
    reader = threading.Thread(target=lambda: delivered.extend(mic), daemon=True)
    reader.start()
    backend.stream.push(np.zeros((800, 1)))
    time.sleep(0.1)
    started_s = time.monotonic()
    mic.stop()
    mic.stop()
    reader.join(1.0)
    assert time.monotonic() - started_s < 0.8 and not reader.is_alive()
    assert len(delivered) == 1 and mic.read(0.01) is None
    assert backend.stream.closed.is_set() != close_blocks


def test_missing_portaudio_is_a_one_line_error(tmp_path, monkeypatch):
    fake_package = tmp_path / "sounddevice.py"
    fake_package.write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    expected = "^cannot use the microphone: the PortAudio library is missing \\(apt-get install libportaudio2\\)$"
    with pytest.raises(MicrophoneError, match=expected):
        list_audio_inputs()
    with pytest.raises(MicrophoneError, match=expected):
        MicrophoneSource("")
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(MicrophoneError, match=r"sounddevice package is missing \(pip install"):
        list_audio_inputs()


def test_import_streamer_works_without_sounddevice():
    code = "import sys; sys.modules['sounddevice'] = None; import streamer, streamer.sources.microphone"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


# ---- the real path: PortAudio -> ALSA "pulse" plugin -> PulseAudio null sink monitor ----


def _normalised_xcorr_peak(recording: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Peak of the normalised cross-correlation and its lag in samples (recording later)."""
    n = recording.size + reference.size
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size))
    products = np.fft.irfft(spectrum, size)[: recording.size - reference.size + 1]
    energy = np.concatenate([[0.0], np.cumsum(recording**2)])
    window_energy = energy[reference.size :] - energy[: -reference.size]
    scores = products / np.sqrt(np.maximum(window_energy, 1e-12) * np.sum(reference**2))
    lag = int(np.argmax(scores))
    return float(scores[lag]), lag


def test_real_microphone_records_speech_played_into_pulseaudio(pulse_server, shared_dir, tmp_path):
    from streamer.sources.media_file import read_audio

    speech, rate_hz = read_audio(shared_dir / "media" / "speech" / "jfk.flac")
    speech = speech[: 8 * rate_hz]  # 8 s of the 11 s recording keeps the test short
    wav = write_wav(tmp_path / "jfk.wav", 0.9 * speech / np.max(np.abs(speech)), rate_hz)
    if not any(d["name"] == "pulse" for d in list_audio_inputs()):
        pytest.skip("PortAudio has no 'pulse' device (apt-get install libasound2-plugins)")
    session_start_s = time.monotonic()
    blocks, read_at_s = [], []
    with MicrophoneSource("pulse", block_s=0.05).start(session_start_s) as mic:
        blocks.append(mic.read(6.0))  # a fresh null sink can take 2 s to start
        first_block_s = time.monotonic() - session_start_s
        read_at_s.append(time.monotonic())
        played_at_s = time.monotonic()
        player = subprocess.Popen(["paplay", "-d", "streamer_test", str(wav)], env=pulse_server)
        try:
            while time.monotonic() - played_at_s < 8.8:
                blocks.append(mic.read(1.0))
                read_at_s.append(time.monotonic())
            assert player.wait(5.0) == 0
        finally:
            player.kill()
        n_dropped, n_overflows = mic.n_dropped, mic.n_overflows
    assert all(b is not None for b in blocks) and n_dropped == 0
    recording = np.concatenate([b.samples for b in blocks])
    reference = StreamingResampler(rate_hz, 16000)
    reference = np.concatenate([reference.push(speech), reference.flush()])
    peak, lag = _normalised_xcorr_peak(recording, reference)
    t_s = np.array([b.t_s for b in blocks])
    rate = (t_s[-1] - t_s[0]) / (read_at_s[-1] - read_at_s[0])
    sound_at_s = t_s[0] + lag / 16000  # session time of the speech's first sample
    print(f"\nnormalised cross-correlation peak {peak:.4f} at lag {lag / 16000:.3f} s; "
          f"t_s span / wall span {rate:.4f}; speech heard {sound_at_s - (played_at_s - session_start_s):.3f} s "
          f"after paplay started; first block after {first_block_s:.2f} s; overflows {n_overflows}")  # fmt: skip
    assert peak > 0.9
    assert abs(rate - 1.0) < 0.03
    assert np.all(np.diff(t_s) > 0)
    assert -0.05 < sound_at_s - (played_at_s - session_start_s) < 0.5  # paplay startup
