"""Word recognition with Whisper (faster-whisper: CTranslate2, int8 on the CPU).

Audio is cut into utterances by the Silero voice-activity model that ships in the
faster-whisper wheel, in windows of 512 samples (32 ms), each seen with the 64 samples
before it and the model's state after the window before, one window at a time, so that a
window's speech probability does not depend on how the audio was cut into blocks. An
utterance starts at a window with probability >= ``VAD_THRESHOLD``, ends after
``MIN_SILENCE_S`` of windows below ``VAD_NEG_THRESHOLD`` (or at ``max_utterance_s``), is
padded by ``PAD_S`` on each side and decoded once, when it has ended: the words are the
same whatever the block sizes (replay equals the offline features), and become final
``MIN_SILENCE_S`` after the utterance's last word.

Streaming (``step_s``, live and real-time replay): within an utterance the audio so far is
decoded again every ``step_s`` of audio (or, when a decode took longer than that, after as
much audio as the decode took, so that the recogniser keeps up with real time), greedily
and without temperature fallback, and the words that two consecutive decodes agree on are
final at once (LocalAgreement-2, Machacek et al. 2023, "Turning Whisper into Real-Time
Transcription System"); the rest become final when the utterance ends. A decode never
spans more than ``max_utterance_s``: its start moves on to the end of the last final word
(or, with none, the utterance is ended there).

Whisper invents text on silence and noise; three guards drop it: a segment whose
no-speech probability is above ``MAX_NO_SPEECH_PROB`` while its mean log-probability is
below ``MIN_AVG_LOGPROB``, a segment whose compression ratio is above
``MAX_COMPRESSION_RATIO`` (repetitions), and words outside the utterance's voiced span.
Word times come from Whisper's cross-attention alignment (``word_timestamps``), on the
media clock, rounded to the millisecond; confidence is Whisper's word probability.
"""

from __future__ import annotations

import re
import time

import numpy as np

from streamer.errors import StreamerError
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ
from streamer.types import Word

WINDOW_SAMPLES = 512  # Silero VAD window (32 ms)
_WINDOWS_PER_S = SAMPLE_RATE_HZ / WINDOW_SAMPLES
CONTEXT_SAMPLES = 64  # samples of the previous window each window is seen with
VAD_THRESHOLD = 0.5  # speech probability that starts (or continues) an utterance
VAD_NEG_THRESHOLD = 0.35  # below this a window is silence
MIN_SILENCE_S = 0.5  # silence that ends an utterance
MIN_SPEECH_S = 0.25  # shorter utterances are dropped
PAD_S = 0.2  # audio kept on each side of an utterance
MAX_NO_SPEECH_PROB = 0.6
MIN_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4
BEAM_SIZE = 5
COMMITTED_OVERLAP_S = 0.1  # a new decode's word starting this far before the last final
# word's end can still be a new word
MAX_REPEATED_WORDS = 5  # a decode that repeats up to this many final words: they are dropped

_EDGE_PUNCTUATION = re.compile(r"^[^\w']+|[^\w']+$")


class WhisperError(StreamerError):
    """faster-whisper is missing or a model cannot be loaded."""


def _import_faster_whisper():
    try:
        import faster_whisper
        from faster_whisper import vad
    except ImportError:
        raise WhisperError(
            "the whisper speech backend is not installed: run `pip install faster-whisper`"
        ) from None
    return faster_whisper, vad


class _VoiceActivity:
    """Speech probabilities of consecutive 512-sample windows (Silero VAD, ONNX), one window
    at a time with the model's state carried from one to the next, so that the
    probabilities do not depend on how many windows arrive together."""

    def __init__(self, vad_module):
        self._session = vad_module.get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(n,) speech probabilities of (n, 512) float32 windows that follow the last ones."""
        out = np.zeros(len(windows), dtype=np.float32)
        for i, window in enumerate(windows):
            batch = np.concatenate([self._context, window])[None].astype(np.float32)
            output, self._h, self._c = self._session.run(
                None, {"input": batch, "h": self._h, "c": self._c}
            )
            out[i] = float(np.asarray(output).reshape(-1)[0])
            self._context = window[-CONTEXT_SAMPLES:].astype(np.float32)
        return out


class WhisperRecognizer:
    """Whisper words, an utterance at a time or streaming (see the module docstring).

    Parameters
    ----------
    model : str or Path
        A CTranslate2 Whisper model folder (``model.bin``, ``config.json``, ...).
    model_name : str
        What to call it in :attr:`name` (e.g. ``"tiny.en"``).
    cpu_threads : int
        Threads CTranslate2 may use.
    max_utterance_s : float
        No decode spans more audio than this, seconds (Whisper hears 30 s at most).
    step_s : float or None
        Streaming: decode the open utterance every ``step_s`` seconds of audio and hand out
        the words two decodes agree on. None: each utterance is decoded once, at its end.
    """

    def __init__(
        self, model, model_name: str, cpu_threads: int = 2, max_utterance_s=20.0, step_s=None
    ):
        faster_whisper, vad = _import_faster_whisper()
        try:
            self._model = faster_whisper.WhisperModel(
                str(model), device="cpu", compute_type="int8", cpu_threads=int(cpu_threads)
            )
        except Exception as error:  # a folder that is not a CTranslate2 Whisper model
            raise WhisperError(
                f"cannot load the Whisper model {model} ({str(error).splitlines()[0][:120]}): "
                "set speech.whisper_model to a CTranslate2 model folder or a model name"
            ) from None
        self._vad = _VoiceActivity(vad)
        mode = f"streaming every {step_s:g} s" if step_s else "an utterance at a time"
        self.name = (
            f"whisper ({model_name}, faster-whisper int8, {int(cpu_threads)} threads, {mode})"
        )
        self._max_utterance_windows = int(max_utterance_s * SAMPLE_RATE_HZ / WINDOW_SAMPLES)
        self._step_windows = None if not step_s else max(1, round(step_s * _WINDOWS_PER_S))
        self.reset()

    def reset(self) -> None:
        self._vad.reset()
        self._t0_s: float | None = None
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet in a window
        self._audio = np.zeros(0, dtype=np.float32)  # kept samples, from sample _audio_start
        self._audio_start = 0
        self._n_windows = 0
        self._start: int | None = None  # window where the open utterance began
        self._silent_since: int | None = None  # first silent window after its speech
        self._first = 0  # sample where the open utterance's decodes begin
        self._words: list[Word] = []  # final words not yet pulled
        self._open_utterance_state()

    def _open_utterance_state(self) -> None:
        """Streaming state of one utterance: what is final, what the last decode said."""
        self._final_end_s: float | None = None  # end of the utterance's last final word
        self._final_texts: list[str] = []  # the utterance's final words
        self._hypothesis: list[Word] = []  # the last decode's words after the final ones
        self._next_decode = 0  # window at which the next streaming decode is due

    def push(self, samples: np.ndarray, t_s: float) -> None:
        """Add 16 kHz mono samples (float in [-1, 1]) whose first sample is at ``t_s`` s."""
        if self._t0_s is None:
            self._t0_s = float(t_s)
        samples = np.asarray(samples, dtype=np.float32).ravel()
        self._audio = np.concatenate([self._audio, samples])
        self._pending = np.concatenate([self._pending, samples])
        n = len(self._pending) // WINDOW_SAMPLES
        windows = self._pending[: n * WINDOW_SAMPLES].reshape(n, WINDOW_SAMPLES)
        self._pending = self._pending[n * WINDOW_SAMPLES :]
        for probability in self._vad.probabilities(windows):
            self._step(float(probability))
            self._n_windows += 1
        self._forget_old_audio()

    def _step(self, probability: float) -> None:
        i = self._n_windows
        if self._start is None:
            if probability >= VAD_THRESHOLD:
                self._start, self._silent_since = i, None
                pad = int(PAD_S * SAMPLE_RATE_HZ)
                self._first = max(i * WINDOW_SAMPLES - pad, self._audio_start)
                self._open_utterance_state()
                self._next_decode = i + (self._step_windows or 0)
            return
        if probability >= VAD_THRESHOLD:
            self._silent_since = None
        elif probability < VAD_NEG_THRESHOLD and self._silent_since is None:
            self._silent_since = i
        pad_windows = PAD_S * SAMPLE_RATE_HZ / WINDOW_SAMPLES
        silence_windows = MIN_SILENCE_S * SAMPLE_RATE_HZ / WINDOW_SAMPLES
        if self._silent_since is not None and i - self._silent_since >= max(
            silence_windows, pad_windows
        ):
            self._end_utterance(self._silent_since)
        elif self._step_windows is None:
            if i - self._start >= self._max_utterance_windows:
                self._end_utterance(i)
        elif i >= self._next_decode:
            self._decode_so_far(i + 1)

    def _end_utterance(self, end_window: int) -> None:
        """Decode the utterance of windows [start, end_window) with its padding; every word
        after the final ones is final now."""
        pad = int(PAD_S * SAMPLE_RATE_HZ)
        voiced = (self._start * WINDOW_SAMPLES, end_window * WINDOW_SAMPLES)
        last = min(voiced[1] + pad, self._audio_start + len(self._audio))
        self._start = self._silent_since = None
        if voiced[1] - voiced[0] < MIN_SPEECH_S * SAMPLE_RATE_HZ:
            return
        audio = self._audio[self._first - self._audio_start : last - self._audio_start]
        self._make_final(self._after_final(self._decode(audio, self._first, voiced)))

    def _decode_so_far(self, end_window: int) -> None:
        """Streaming: decode the open utterance up to ``end_window``; make final what this
        decode and the one before agree on."""
        end = end_window * WINDOW_SAMPLES
        if end - self._first > self._max_utterance_windows * WINDOW_SAMPLES:
            if self._final_end_s is None:  # nothing final to cut at: end the utterance
                self._end_utterance(end_window)
                return
            final_end = round((self._final_end_s - self._t0_s) * SAMPLE_RATE_HZ)
            self._first = max(self._first, min(final_end, end - WINDOW_SAMPLES))
        audio = self._audio[self._first - self._audio_start : end - self._audio_start]
        started = time.perf_counter()
        voiced = (self._start * WINDOW_SAMPLES, end)
        words = self._after_final(self._decode(audio, self._first, voiced, greedy=True))
        agreed = 0
        for new, old in zip(words, self._hypothesis, strict=False):
            if new.text != old.text:
                break
            agreed += 1
        self._make_final(words[:agreed])
        self._hypothesis = words[agreed:]
        took_windows = (time.perf_counter() - started) * _WINDOWS_PER_S
        self._next_decode = end_window + max(self._step_windows, int(np.ceil(took_windows)))

    def _after_final(self, words: list[Word]) -> list[Word]:
        """The words of a decode that follow the utterance's final words (none of them
        starting before the last final word ends)."""
        if self._final_end_s is None:
            return words
        end_s = self._final_end_s
        words = [w for w in words if w.start_s > end_s - COMMITTED_OVERLAP_S]
        for k in range(min(MAX_REPEATED_WORDS, len(words), len(self._final_texts)), 0, -1):
            if [w.text for w in words[:k]] == self._final_texts[-k:]:
                words = words[k:]  # the decode repeats the last k final words
                break
        return [Word(w.text, max(w.start_s, end_s), max(w.end_s, end_s), w.confidence)
                for w in words]  # fmt: skip

    def _make_final(self, words: list[Word]) -> None:
        if words:
            self._words.extend(words)
            self._final_texts.extend(w.text for w in words)
            self._final_end_s = words[-1].end_s

    def _decode(
        self, audio: np.ndarray, first: int, voiced: tuple[int, int], greedy: bool = False
    ) -> list[Word]:
        """Whisper's words in ``audio`` (whose first sample is sample ``first``), those of
        unlikely segments and outside ``voiced`` (samples) dropped."""
        options = {"beam_size": 1, "temperature": 0.0} if greedy else {"beam_size": BEAM_SIZE}
        segments, _ = self._model.transcribe(
            audio, language="en", word_timestamps=True, vad_filter=False,
            condition_on_previous_text=False, **options,
        )  # fmt: skip
        offset_s = self._t0_s + first / SAMPLE_RATE_HZ
        voiced_s = (voiced[0] / SAMPLE_RATE_HZ, voiced[1] / SAMPLE_RATE_HZ)
        words = []
        for segment in segments:
            if (
                segment.no_speech_prob > MAX_NO_SPEECH_PROB
                and segment.avg_logprob < MIN_AVG_LOGPROB
            ):
                continue
            if segment.compression_ratio > MAX_COMPRESSION_RATIO:
                continue
            for word in segment.words or ():
                text = _EDGE_PUNCTUATION.sub("", word.word.strip().lower())
                # to the millisecond, as the word CSVs keep them (Whisper's step is 20 ms)
                start_s, end_s = round(offset_s + word.start, 3), round(offset_s + word.end, 3)
                outside = end_s <= self._t0_s + voiced_s[0] or start_s >= self._t0_s + voiced_s[1]
                if text and not outside:
                    words.append(Word(text, start_s, end_s, float(word.probability)))
        return words

    def _forget_old_audio(self) -> None:
        """Keep the open utterance's audio (and the padding before it) only."""
        pad = int(PAD_S * SAMPLE_RATE_HZ)
        if self._start is not None:
            keep_from = self._first
        else:
            keep_from = self._n_windows * WINDOW_SAMPLES - pad
        drop = keep_from - self._audio_start
        if drop > 0:
            self._audio = self._audio[drop:]
            self._audio_start += drop

    @property
    def settled_s(self) -> float:
        """Media time (s) before which no word can still come: the open utterance's start
        (or the end of its last final word), else the audio the voice-activity model has
        judged."""
        if self._t0_s is None:
            return 0.0
        window = self._start if self._start is not None else self._n_windows
        settled_s = self._t0_s + window * WINDOW_SAMPLES / SAMPLE_RATE_HZ
        if self._start is not None and self._final_end_s is not None:
            settled_s = max(settled_s, self._final_end_s)
        return settled_s

    def pull(self) -> list[Word]:
        """The words of the utterances that have ended since the last call."""
        words, self._words = self._words, []
        return words

    def flush(self) -> list[Word]:
        """End the stream: decode the open utterance (to the last sample) and return it."""
        if self._start is not None:
            end = self._silent_since
            if end is None:
                end = (self._audio_start + len(self._audio) + WINDOW_SAMPLES - 1) // WINDOW_SAMPLES
            self._end_utterance(end)
        words = self.pull()
        self.reset()
        return words
