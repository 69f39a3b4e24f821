"""Live audio from a microphone through sounddevice (PortAudio).

PortAudio's callback only copies each block into a bounded queue (when full, the oldest
block is dropped and counted) and counts the input overflows PortAudio reports. The
consumer's thread (``read()``) mixes the channels to mono and resamples to 16 kHz.

Timestamps count samples: input sample ``k`` is at ``t_anchor_s + k / rate_hz``, gapless and
exact on the device's clock. The anchor comes from ``time.monotonic()`` in the callback:
sample ``k`` cannot have been captured after the callback that delivered it minus the
samples that follow it in the block, and the smallest such bound over the last 10 s (the
least-delayed callback) is the anchor; it follows device clock drift, and after an input
overflow (samples lost, which counting cannot see) it starts afresh. PortAudio's
``inputBufferAdcTime`` is not used: through ALSA's pulse plugin (the usual Linux path) it was
0.75 s early, then jumped 0.55 s with no sample lost (speech played into PulseAudio got
times before it was played), and some host APIs report 0 for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from streamer.errors import StreamerError
from streamer.features.lld.resample import StreamingResampler
from streamer.types import AudioBlock

_LOG = logging.getLogger(__name__)
_capture_clock = time.monotonic  # read in the callback (tests replace it)
_FIX_HINT = (
    "choose another input with --set microphone.device=NAME_OR_INDEX, see `streamer devices`"
)
_POLL_S = 0.05  # how often a waiting reader checks for a stalled or stopped stream
_CLOSE_TIMEOUT_S = 0.5  # stop() waits this long for PortAudio to close the stream
_CLOCK_WINDOW_S = 10.0  # the anchor is the best bound of the callbacks in this window
_STARTUP_S = 5.0  # devices may take this long to deliver their first block (Bluetooth, Pulse)


class MicrophoneError(StreamerError):
    """A microphone that cannot be found or opened, or that stopped delivering audio."""


class _RawBlock(NamedTuple):
    data: np.ndarray  # (n_frames, n_channels) float32, as PortAudio delivered it
    start_index: int  # input sample number of data[0] since the stream started
    callback_s: float  # time.monotonic() when the callback ran
    overflow: bool  # PortAudio lost input before this block


def _import_sounddevice():
    """Import sounddevice, turning a missing package or PortAudio into a one-line error."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError at import when libportaudio2 is absent
        missing = "the PortAudio library is missing (apt-get install libportaudio2)"
        if isinstance(exc, ImportError):
            missing = "the sounddevice package is missing (pip install sounddevice)"
        raise MicrophoneError(f"cannot use the microphone: {missing}") from exc
    return sounddevice


def _query_sounddevice() -> list[dict]:
    """PortAudio's devices as dicts with ``is_default_input`` added."""
    sd = _import_sounddevice()
    try:
        default_index = sd.query_devices(kind="input")["index"]
    except Exception:  # PortAudioError, or ValueError: no default input device
        default_index = -1
    return [dict(d, is_default_input=d["index"] == default_index) for d in sd.query_devices()]


def _open_sounddevice_stream(**kwargs):
    return _import_sounddevice().InputStream(dtype="float32", **kwargs)


def list_audio_inputs(query_devices: Callable[[], list[dict]] | None = None) -> list[dict]:
    """The audio input devices, as ``{"index", "name", "channels", "default_samplerate",
    "is_default"}`` dicts (``default_samplerate`` in Hz).

    Raises ``MicrophoneError`` when PortAudio or sounddevice is missing.
    """
    devices = (query_devices or _query_sounddevice)()
    return [
        dict(index=d["index"], name=d["name"], channels=d["max_input_channels"],
             default_samplerate=float(d["default_samplerate"]),
             is_default=bool(d.get("is_default_input", False)))
        for d in devices if d["max_input_channels"] > 0
    ]  # fmt: skip


def _choose_device(device: int | str, inputs: list[dict]) -> dict:
    """The input device named by ``device``: an index, part of a name, or "" (default)."""
    if not inputs:
        raise MicrophoneError(
            "no microphone: PortAudio finds no audio input device (connect one, or start PulseAudio or PipeWire; `streamer devices` lists the inputs)"
        )
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    if isinstance(device, int):
        for info in inputs:
            if info["index"] == device:
                return info
        found = ", ".join(f"{d['index']}: {d['name']}" for d in inputs)
        raise MicrophoneError(
            f"audio device {device} is not an input device or does not exist; the inputs are {found} ({_FIX_HINT})"
        )
    wanted = device.strip().lower()
    if not wanted:
        return next((d for d in inputs if d["is_default"]), inputs[0])
    exact = [d for d in inputs if d["name"].lower() == wanted]
    matches = exact or [d for d in inputs if wanted in d["name"].lower()]
    if not matches:
        names = ", ".join(repr(d["name"]) for d in inputs)
        raise MicrophoneError(
            f"no audio input matches {device!r}; the inputs are {names} ({_FIX_HINT})"
        )
    return matches[0]


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class MicrophoneSource:
    """Mono 16 kHz audio blocks from a live input device, via a bounded drop-oldest queue.

    Parameters
    ----------
    device : int or str
        Device index (an int or a string of digits), a case-insensitive part of its name, or
        "" for the system's default input (the first input when there is no default).
    sample_rate_hz : int
        Rate of the delivered blocks in Hz. The device is opened at this rate in mono when
        it accepts that, else at its default rate in mono, else with all its channels.
    block_s : float
        Duration of the blocks PortAudio hands over, in seconds.
    queue_blocks : int
        Blocks kept for a slow consumer; older blocks are dropped (``n_dropped``).
    no_audio_timeout_s : float
        Seconds without audio after which the stream counts as dead (device unplugged);
        the first block may take up to 5 s (some devices and servers start slowly).
    stream_factory : callable, optional
        ``stream_factory(device=, samplerate=, channels=, blocksize=, callback=,
        finished_callback=)`` returns a stream with ``start()`` and ``close()``; defaults to a
        float32 ``sounddevice.InputStream``. It raises when the settings are not supported.
    query_devices : callable, optional
        Returns the devices as sounddevice's dicts (``index``, ``name``,
        ``max_input_channels``, ``default_samplerate``) plus ``is_default_input``.

    Raises
    ------
    MicrophoneError
        If PortAudio is missing or the device cannot be found or opened. The stream is
        opened here (and started by ``start()``), so errors come early.
    """

    def __init__(
        self,
        device: int | str = "",
        sample_rate_hz: int = 16000,
        block_s: float = 0.05,
        queue_blocks: int = 100,
        no_audio_timeout_s: float = 2.0,
        stream_factory: Callable[..., object] | None = None,
        query_devices: Callable[[], list[dict]] | None = None,
    ) -> None:
        if queue_blocks < 1:
            raise ValueError(f"queue_blocks must be at least 1, got {queue_blocks}")
        self.sample_rate_hz = int(sample_rate_hz)
        self.no_audio_timeout_s = float(no_audio_timeout_s)
        self.device_info = _choose_device(device, list_audio_inputs(query_devices))
        self.device = device
        self._stream, self.device_rate_hz, self.n_channels = self._open(
            stream_factory or _open_sounddevice_stream, block_s
        )
        self._resampler = StreamingResampler(self.device_rate_hz, self.sample_rate_hz)
        self._blocks: deque[_RawBlock] = deque(maxlen=queue_blocks)
        self._blocks_changed = threading.Condition()
        self._stop_requested = threading.Event()
        self._started = False
        self._finished = False  # the stream ended (PortAudio's finished_callback)
        self._failure: str | None = None
        self._n_dropped = 0
        self._n_overflows = 0
        self._n_captured = 0  # input samples seen by the callback, dropped ones included
        self._last_audio_s = 0.0  # time.monotonic() of the last callback (or of start())
        self._origin_s = 0.0  # session start, time.monotonic()
        self._bounds: deque[tuple[float, float]] = deque()  # (callback_s, bound on t_s of 0)
        self._segment_start = 0  # input index where the resampler's current run began
        self._n_out = 0  # samples the resampler emitted in the current run
        self._next_index = 0  # input index the consumer expects next
        self._zeros_since_s: float | None = None  # callback time of the first all-zero block

    def _open(self, factory: Callable[..., object], block_s: float):
        """Open the stream at the first settings the device accepts."""
        info = self.device_info
        default_hz = int(round(float(info["default_samplerate"])))
        candidates = [(self.sample_rate_hz, 1), (default_hz, 1), (default_hz, info["channels"])]
        fixed = dict(
            device=info["index"], callback=self._callback, finished_callback=self._on_finished
        )
        error: Exception | None = None
        for rate_hz, channels in dict.fromkeys(candidates):
            blocksize = max(1, round(block_s * rate_hz))
            try:
                stream = factory(
                    samplerate=rate_hz, channels=channels, blocksize=blocksize, **fixed
                )
            except Exception as exc:  # PortAudioError: settings not supported, device busy
                error = exc
                continue
            return stream, rate_hz, channels
        raise MicrophoneError(
            f"microphone {info['index']} ({info['name']}) cannot be opened: {_first_line(error)} (close other programs using it, or {_FIX_HINT})"
        )

    @property
    def n_dropped(self) -> int:
        """Blocks dropped because the consumer fell behind (the oldest go first)."""
        return self._n_dropped

    @property
    def n_overflows(self) -> int:
        """Blocks before which PortAudio reported lost input (``status.input_overflow``)."""
        return self._n_overflows

    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio's thread: copy the block into the queue, count overflows; nothing else."""
        now_s = _capture_clock()
        overflow = bool(getattr(status, "input_overflow", False))
        if overflow:
            self._n_overflows += 1
        block = _RawBlock(indata.copy(), self._n_captured, now_s, overflow)
        self._n_captured += frames
        with self._blocks_changed:
            self._last_audio_s = time.monotonic()
            if len(self._blocks) == self._blocks.maxlen:
                self._n_dropped += 1  # the deque drops the oldest on append
            self._blocks.append(block)
            self._blocks_changed.notify_all()

    def _on_finished(self) -> None:
        with self._blocks_changed:
            self._finished = True
            self._blocks_changed.notify_all()

    def start(self, session_start_s: float | None = None) -> MicrophoneSource:
        """Start recording; block times ``t_s`` count seconds from ``session_start_s``.

        ``session_start_s`` is a ``time.monotonic()`` value shared by the session's sources
        (default: now).
        """
        if self._started:
            return self
        self._started = True
        self._origin_s = time.monotonic() if session_start_s is None else session_start_s
        self._last_audio_s = time.monotonic()
        try:
            self._stream.start()
        except Exception as exc:
            self.stop()
            raise MicrophoneError(
                f"microphone {self.device_info['name']!r} cannot start: {_first_line(exc)} ({_FIX_HINT})"
            ) from exc
        return self

    def _block_time_s(self, raw: _RawBlock) -> float:
        """Session time of the block's first input sample (see the module docstring)."""
        rate_hz = self.device_rate_hz
        end_index = raw.start_index + len(raw.data)
        bound_s = raw.callback_s - self._origin_s - end_index / rate_hz  # for sample 0
        bounds = self._bounds
        if raw.overflow:
            bounds.clear()
        while bounds and bounds[-1][1] >= bound_s:  # keep increasing bounds: front is the min
            bounds.pop()
        bounds.append((raw.callback_s, bound_s))
        while bounds[0][0] < raw.callback_s - _CLOCK_WINDOW_S:
            bounds.popleft()
        return bounds[0][1] + raw.start_index / rate_hz

    def _convert(self, raw: _RawBlock) -> AudioBlock:
        """Mono, resampled ``AudioBlock`` from a raw block (may hold no samples yet)."""
        t_block_s = self._block_time_s(raw)
        if raw.start_index != self._next_index or raw.overflow:  # a gap: start a new run
            self._resampler.reset()
            self._segment_start, self._n_out = raw.start_index, 0
        self._next_index = raw.start_index + len(raw.data)
        mono = raw.data.astype(np.float64).mean(axis=1)
        out = np.clip(self._resampler.push(mono), -1.0, 1.0)
        # output sample m of this run sits at input position segment_start + m * in / out
        position = self._segment_start + self._n_out * self.device_rate_hz / self.sample_rate_hz
        self._n_out += out.size
        t_s = t_block_s + (position - raw.start_index) / self.device_rate_hz
        return AudioBlock(t_s, out, self.sample_rate_hz)

    def _check_digital_silence(self, raw: _RawBlock) -> None:
        """Warn once per stretch of exact zeros longer than ``no_audio_timeout_s``: a muted
        input, or a sound server that died (ALSA's pulse plugin then feeds zeros forever)."""
        if raw.data.any():
            self._zeros_since_s = None
        elif self._zeros_since_s is None:
            self._zeros_since_s = raw.callback_s
        elif raw.callback_s - self._zeros_since_s > self.no_audio_timeout_s:
            self._zeros_since_s = float("inf")  # warned; wait for sound before warning again
            _LOG.warning(
                "microphone %r has delivered only digital silence for %g s: is it muted, or has its sound server (PulseAudio, PipeWire) stopped?",
                self.device_info["name"],
                self.no_audio_timeout_s,
            )

    def _stall_message(self) -> str:
        reason = f"no audio for {self.no_audio_timeout_s:g} s (was it unplugged?)"
        if self._finished:
            reason = "the audio stream ended (was it unplugged or taken by another program?)"
        elif not self._n_captured:
            reason = (
                f"no audio within {_STARTUP_S:g} s of starting (is it used by another program?)"
            )
        return f"microphone {self.device_info['name']!r} stopped delivering audio: {reason} (reconnect it, or {_FIX_HINT})"

    def read(self, timeout_s: float | None = None) -> AudioBlock | None:
        """The oldest queued block as mono float64 at ``sample_rate_hz``, waiting up to
        ``timeout_s`` seconds (None: no limit).

        Returns None on timeout or once the source is stopped and drained. Raises
        ``MicrophoneError`` when the stream ended or gave no audio for
        ``no_audio_timeout_s``, once the blocks before that are consumed.
        """
        if not self._started:
            raise RuntimeError("call start() before read()")
        deadline_s = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            wait_s = _POLL_S if deadline_s is None else min(_POLL_S, deadline_s - time.monotonic())
            with self._blocks_changed:
                self._blocks_changed.wait_for(
                    lambda: self._blocks or self._finished or self._stop_requested.is_set(),
                    max(0.0, wait_s),
                )
                raw = self._blocks.popleft() if self._blocks else None
                silent_s = time.monotonic() - self._last_audio_s
            if raw is not None:
                self._check_digital_silence(raw)
                block = self._convert(raw)
                if block.samples.size:
                    return block
                continue  # the resampler is still filling its window
            if self._stop_requested.is_set():
                return None
            allowed_s = self.no_audio_timeout_s if self._n_captured else _STARTUP_S
            if self._failure is None and (self._finished or silent_s > allowed_s):
                self._failure = self._stall_message()
            if self._failure is not None:
                raise MicrophoneError(self._failure)
            if deadline_s is not None and time.monotonic() >= deadline_s:
                return None

    def __iter__(self) -> Iterator[AudioBlock]:
        """Blocks until ``stop()``; raises ``MicrophoneError`` when the audio stops."""
        self.start()
        while not self._stop_requested.is_set():
            block = self.read(_POLL_S)
            if block is not None:
                yield block

    def stop(self) -> None:
        """Stop recording and close the stream; returns within about 0.5 s. Idempotent.

        PortAudio's close runs on a helper thread: if it blocks (a vanished device), the
        daemon thread is left behind rather than hanging the caller.
        """
        if self._stop_requested.is_set():
            return
        with self._blocks_changed:
            self._stop_requested.set()
            self._blocks_changed.notify_all()
        closer = threading.Thread(target=self._close_stream, name="microphone-close", daemon=True)
        closer.start()
        closer.join(_CLOSE_TIMEOUT_S)
        if closer.is_alive():
            _LOG.warning("microphone %r: closing the stream blocks; left to finish", self.device)

    def _close_stream(self) -> None:
        try:
            self._stream.close()
        except Exception as exc:  # closing a vanished device may fail; nothing to recover
            _LOG.debug("microphone %r: close failed: %s", self.device, exc)

    def __enter__(self) -> MicrophoneSource:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
