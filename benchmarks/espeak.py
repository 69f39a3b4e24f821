"""Speech synthesis with eSpeak NG through ``ctypes``, with the true time span of every word.

The library and its voice data come from the PyPI package ``espeakng-loader``. eSpeak
runs in ``AUDIO_OUTPUT_SYNCHRONOUS`` mode: ``espeak_Synth`` returns once the whole text
is spoken, having passed 16-bit samples and event lists to our callback.

Word starts are eSpeak's own ``espeakEVENT_WORD`` times (``audio_position``, ms). eSpeak
reports no word ends, so they are derived by the END-OF-WORD RULE: a word ends at the next
boundary event after its start (the next word's start, or an ``espeakEVENT_END`` at a
clause or sentence end, or the end of the audio), moved back over the silence just before
that boundary: to the end of the last 2 ms frame before the boundary whose RMS exceeds
-60 dBFS (eSpeak's pauses are digital silence), and never earlier than one frame after
the word's start.
"""

from __future__ import annotations

import ctypes
import functools
import re
from dataclasses import dataclass

import numpy as np

# enum espeak_EVENT_TYPE (speak_lib.h)
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_END = 5
EVENT_MSG_TERMINATED = 6
AUDIO_OUTPUT_SYNCHRONOUS = 2  # enum espeak_AUDIO_OUTPUT
POS_CHARACTER = 1  # enum espeak_POSITION_TYPE
CHARS_UTF8 = 1  # espeakCHARS_UTF8
PARAMETER_RATE = 1  # enum espeak_PARAMETER: espeakRATE, words per minute (80-450)
FRAME_S = 0.002
SILENCE_DBFS = -60.0


class EspeakEvent(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h (API revision 12): 40 bytes on x86_64.

    Offsets: type 0, unique_identifier 4, text_position 8, length 12, audio_position 16,
    sample 20 (all 4-byte ints; an enum is an int), user_data 24 (8-byte pointer) and the
    union ``id`` {int number; const char *name; char string[8]} at 32 (8 bytes).
    """

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # characters from the start of the text, 1-based
        ("length", ctypes.c_int),  # word length in characters (WORD events)
        ("audio_position", ctypes.c_int),  # ms into the synthesised audio
        ("sample", ctypes.c_int),  # internal; in practice the same time in samples
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # the union, 8 bytes, pointer-aligned
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(EspeakEvent)
)


@dataclass(frozen=True)
class TrueWord:
    """A synthesised word and its true time span.

    Attributes
    ----------
    text : str
        The word as written in the text (punctuation stripped).
    start_s, end_s : float
        Start (eSpeak's word event) and derived end, in seconds from the audio's start;
        NaN inside a run of words that eSpeak speaks as one unit with one event (as "was
        the" in "that was the best"): the run's first word has the start, its last the end.
    """

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Synthesis:
    """Synthesised speech of one text.

    Attributes
    ----------
    samples : np.ndarray
        Mono float samples in [-1, 1].
    sample_rate_hz : int
        Their rate in Hz (eSpeak's, 22050).
    words : list of TrueWord
        The spoken words in order.
    """

    samples: np.ndarray
    sample_rate_hz: int
    words: list[TrueWord]


class Espeak:
    """The eSpeak NG library (one per process: eSpeak keeps global state).

    Parameters
    ----------
    voice : str
        eSpeak voice name, e.g. ``"en-us"``.
    """

    def __init__(self, voice: str = "en-us"):
        import espeakng_loader

        self._lib = lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate_hz = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if self.sample_rate_hz <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self._callback = _CALLBACK(self._on_synth)  # kept alive as long as the library
        lib.espeak_SetSynthCallback(self._callback)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"eSpeak has no voice {voice!r}")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int]] = []

    def _on_synth(self, wav, n_samples, events) -> int:
        """Collect one buffer of samples and its events (type, text position, ms)."""
        if wav and n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n_samples,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            event = events[i]
            self._events.append((event.type, event.text_position, event.audio_position))
            i += 1
        return 0

    def synthesize(self, text: str, rate_wpm: int = 175) -> Synthesis:
        """Speak plain ``text`` at ``rate_wpm`` words per minute; return audio and words."""
        self._chunks, self._events = [], []
        self._lib.espeak_SetParameter(PARAMETER_RATE, int(rate_wpm), 0)
        data = text.encode("utf-8") + b"\0"
        error = self._lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        if error != 0:
            raise RuntimeError(f"espeak_Synth failed with error {error}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        samples = pcm.astype(np.float64) / 32768.0
        words = _words_from_events(text, self._events, samples, self.sample_rate_hz)
        return Synthesis(samples, self.sample_rate_hz, words)


@functools.lru_cache(maxsize=1)
def espeak(voice: str = "en-us") -> Espeak:
    """The process's eSpeak instance (created on first use)."""
    return Espeak(voice)


def _words_from_events(
    text: str, events: list[tuple[int, int, int]], samples: np.ndarray, rate_hz: int
) -> list[TrueWord]:
    """Words of ``text`` with their spans from eSpeak's (type, text position, ms) events.

    A WORD event's 1-based character position names the whitespace-separated token it
    falls in (eSpeak's ``length`` is unreliable for contractions); several events in one
    token keep the first start. Tokens without an event of their own belong to the
    preceding event's unit and get NaN for the unknown boundaries inside it.
    """
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    duration_s = samples.size / rate_hz
    starts: list[tuple[float, int]] = []  # (start in s, token index)
    boundaries = [duration_s]
    for kind, position, ms in events:
        if kind == EVENT_WORD:
            index = next((k for k, (a, b) in enumerate(tokens) if a <= position - 1 < b), None)
            if index is not None and (not starts or starts[-1][1] < index):
                starts.append((ms / 1000.0, index))
            boundaries.append(ms / 1000.0)
        elif kind in (EVENT_END, EVENT_MSG_TERMINATED):
            boundaries.append(ms / 1000.0)
    boundaries = np.array(sorted(boundaries))
    start_times = np.array([s for s, _ in starts])
    next_boundary = [boundaries[boundaries > s + 1e-9].min(initial=duration_s) for s in start_times]
    ends = word_ends(samples, rate_hz, start_times, np.array(next_boundary))
    first_tokens = [index for _, index in starts] + [len(tokens)]
    words = [TrueWord(_strip(text, tokens[k]), np.nan, np.nan) for k in range(first_tokens[0])]
    for g, (start_s, index) in enumerate(starts):
        group = range(index, first_tokens[g + 1])  # tokens spoken as one unit
        for k in group:
            start = start_s if k == group[0] else np.nan
            end = float(ends[g]) if k == group[-1] else np.nan
            words.append(TrueWord(_strip(text, tokens[k]), start, end))
    return words


def _strip(text: str, span: tuple[int, int]) -> str:
    """The token of ``text`` at ``span`` without leading and trailing punctuation."""
    return re.sub(r"^[^\w']+|[^\w']+$", "", text[span[0] : span[1]])


def word_ends(
    samples: np.ndarray, rate_hz: int, starts_s: np.ndarray, boundaries_s: np.ndarray
) -> np.ndarray:
    """Word ends in seconds: each boundary moved back over the silence before it.

    Parameters
    ----------
    samples : np.ndarray
        The synthesised signal, floats in [-1, 1].
    rate_hz : int
        Its sample rate in Hz.
    starts_s, boundaries_s : np.ndarray
        Each word's start and the next boundary event after it, in seconds.

    Returns
    -------
    np.ndarray
        The end of the last 2 ms frame before the boundary with RMS above -60 dBFS,
        at least one frame after the start and at most the boundary, in seconds.
    """
    frame = max(1, int(round(FRAME_S * rate_hz)))
    n_frames = samples.size // frame
    rms = np.sqrt(np.mean(samples[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1))
    loud = rms > 10.0 ** (SILENCE_DBFS / 20.0)
    ends = np.empty(len(starts_s))
    for i, (start_s, boundary_s) in enumerate(zip(starts_s, boundaries_s, strict=True)):
        first = int(start_s * rate_hz) // frame
        last = min(int(boundary_s * rate_hz) // frame, n_frames)  # frames [first, last)
        loud_frames = np.flatnonzero(loud[first:last])
        end_frame = first + 1 + (loud_frames[-1] if loud_frames.size else 0)
        ends[i] = min(end_frame * frame / rate_hz, boundary_s)
    return np.maximum(ends, np.minimum(starts_s + FRAME_S, boundaries_s))
