"""Streaming word recognition with PocketSphinx 5 (English model bundled in its wheel).

Audio is cut into utterances by PocketSphinx's voice-activity ``Endpointer`` (30 ms frames);
each utterance is decoded when it ends, with cepstral mean normalisation over the whole
utterance (``full_utt=True``), which is far more accurate than the live CMN estimate at the
start of a stream, and with 0.1 s of audio kept on each side. Words therefore become final when their utterance ends. Because the
endpointer and decoder always see the same 30 ms frames, the words do not depend on the
sizes of the blocks given to :meth:`PocketsphinxRecognizer.push`.
"""

from __future__ import annotations

import re

import numpy as np

from streamer.errors import StreamerError
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ, PcmChunks
from streamer.types import Word

FRAMES_PER_S = 100  # the decoder's frame rate (``frate``)

# Decoder settings (see benchmarks/speech_wer.py). More Gaussians per frame (topn 8, default
# 4) and wider beams (default beam 1e-48, wbeam 7e-29, pbeam 1e-48) remove approximation and
# pruning errors for ~50 % more CPU (real-time factor 0.11 -> 0.17); the three language
# weights move together, keeping PocketSphinx's own offsets (lw 6.5, fwdflatlw 8.5,
# bestpathlw 9.5 by default), to lw 8: the lower end of the range (8-9) where the WER
# averaged over 8 time-shifted copies of the jfk clip is lowest and stable (22 % vs 25 %
# with topn 8 alone and 30 % with all defaults). Small data: only 22 reference words.
DEFAULT_DECODER_SETTINGS: dict[str, float] = {
    "topn": 8,
    "beam": 1e-60,
    "wbeam": 1e-40,
    "pbeam": 1e-60,
    "lw": 8.0,
    "fwdflatlw": 10.0,
    "bestpathlw": 11.0,
}

_VARIANT = re.compile(r"\(\d+\)$")


class PocketsphinxError(StreamerError):
    """PocketSphinx is missing or cannot start."""


def _import_pocketsphinx():
    try:
        import pocketsphinx
    except ImportError:
        raise PocketsphinxError(
            "the pocketsphinx speech backend is not installed: run `pip install pocketsphinx`"
        ) from None
    return pocketsphinx


def is_filler(word: str) -> bool:
    """Whether a decoder token is silence, a sentence mark or a noise filler."""
    return word.startswith(("<", "[", "+")) or word in ("", "<sil>")


class PocketsphinxRecognizer:
    """Streaming recogniser on the PocketSphinx English model.

    Parameters
    ----------
    decoder_settings : dict, optional
        PocketSphinx configuration overrides (e.g. ``{"lw": 6.5}``); ``None`` uses
        :data:`DEFAULT_DECODER_SETTINGS`, ``{}`` the PocketSphinx defaults.
    vad_mode : int
        Aggressiveness of the voice activity detection, 0 (loose) to 3.
    vad_window_s : float
        Length of the endpointer's decision window, in seconds.
    vad_ratio : float
        Fraction of the window that must be (non-)speech to switch state.
    pad_s : float
        Audio kept before and after each utterance the endpointer found, in seconds: the
        decoder needs a little silence around the speech (and the first and last phones).
    max_utterance_s : float
        Longest wait for words, in seconds: an utterance this long is decoded up to its
        quietest 30 ms frame in the last third and the rest starts a new utterance.
    """

    def __init__(
        self,
        decoder_settings: dict | None = None,
        vad_mode: int = 0,
        vad_window_s: float = 0.3,
        vad_ratio: float = 0.9,
        pad_s: float = 0.1,
        max_utterance_s: float = 10.0,
    ):
        ps = _import_pocketsphinx()
        self._ps = ps
        settings = dict(DEFAULT_DECODER_SETTINGS if decoder_settings is None else decoder_settings)
        settings.setdefault("loglevel", "FATAL")
        self._vad = (vad_mode, vad_window_s, vad_ratio)
        self._max_utterance_s = float(max_utterance_s)
        self._pad_s = float(pad_s)
        self.settings = settings
        self.name = "pocketsphinx (en-us, bundled model)"
        self.reset()

    def reset(self) -> None:
        """Forget the stream; the next push starts a new one.

        The decoder is rebuilt too (about 0.2 s): its Gaussian selection carries state from
        one utterance to the next, and a new stream must not depend on the previous one.
        """
        try:
            self._decoder = self._ps.Decoder(**self.settings)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise PocketsphinxError(
                f"pocketsphinx could not start with settings {self.settings}: {exc} "
                "(check the settings or reinstall pocketsphinx)"
            ) from None
        mode, window, ratio = self._vad
        self._endpointer = self._ps.Endpointer(window=window, ratio=ratio, vad_mode=mode)
        self._frame_len = self._endpointer.frame_bytes // 2  # samples per VAD frame
        frame_s = self._endpointer.frame_length
        self._pad = int(round(self._pad_s / frame_s))
        self._max_frames = max(1, int(self._max_utterance_s / frame_s))
        self._keep = int(np.ceil(window / frame_s)) + self._pad + 2
        self._chunks = PcmChunks(self._frame_len)
        self._frames: list[np.ndarray] = []  # recent VAD frames; frames[0] is frame _first
        self._first = 0
        self._n_fed = 0  # frames given to the endpointer
        self._utt_from: int | None = None  # first speech frame of the open utterance
        self._decoded_to = 0  # end frame of the last decoded span (spans never overlap)
        self._t0_s: float | None = None
        self._ready: list[Word] = []

    def push(self, samples: np.ndarray, t_s: float) -> None:
        """Add 16 kHz mono samples (float in [-1, 1]) whose first sample is at ``t_s`` s."""
        if self._t0_s is None:
            self._t0_s = float(t_s)
        for frame in self._chunks.push(samples):  # one call per 30 ms frame
            self._step(frame)

    def _step(self, frame: np.ndarray) -> None:
        """Run the endpointer on one frame; decode an utterance when it ends."""
        endpointer = self._endpointer
        was_in_speech = endpointer.in_speech
        speech = endpointer.process(frame.tobytes())
        self._frames.append(frame)
        self._n_fed += 1
        if speech is not None and not was_in_speech:
            self._utt_from = self._frame_at(endpointer.speech_start)
        if speech is not None and not endpointer.in_speech and self._utt_from is not None:
            self._decode(self._utt_from, self._frame_at(endpointer.speech_end))
            self._utt_from = None
        elif self._utt_from is not None and self._n_fed - self._utt_from >= self._max_frames:
            cut = self._quietest_frame()  # decode a long utterance up to a pause
            self._decode(self._utt_from, cut, pad_end=False)
            self._utt_from = cut
        oldest = self._n_fed - self._keep
        if self._utt_from is not None:
            oldest = min(oldest, self._utt_from - self._pad)
        if oldest - self._first > self._keep:  # forget old frames in batches
            del self._frames[: oldest - self._first]
            self._first = oldest

    @property
    def settled_s(self) -> float:
        """Media time (s) before which no word can still come: the open utterance's start
        (less its padding), else as far back as the endpointer may still start one."""
        if self._t0_s is None:
            return 0.0
        frame = (
            self._utt_from - self._pad if self._utt_from is not None else self._n_fed - self._keep
        )
        frame = max(frame, self._decoded_to, 0)
        return self._t0_s + frame * self._frame_len / SAMPLE_RATE_HZ

    def _quietest_frame(self) -> int:
        """Index of the lowest-energy frame in the last third of the open utterance."""
        search = max(1, (self._n_fed - self._utt_from) // 3)
        recent = np.stack(self._frames[len(self._frames) - search :]).astype(np.float64)
        return self._n_fed - search + int(np.argmin(np.mean(recent**2, axis=1)))

    def _frame_at(self, time_s: float) -> int:
        """The endpointer's (accumulated float) time as a whole frame index."""
        return int(round(time_s / self._endpointer.frame_length))

    def _decode(self, start: int, end: int, pad_end: bool = True, tail=None) -> None:
        """Decode frames [start, end) with ``pad_s`` of context each side; queue the words."""
        start = max(start - self._pad, self._first, self._decoded_to)
        end = min(end + self._pad if pad_end else end, self._n_fed)
        self._decoded_to = end
        pieces = self._frames[start - self._first : end - self._first]
        if tail is not None:
            pieces = pieces + [tail]
        if not pieces:
            return
        offset = self._t0_s + start * self._frame_len / SAMPLE_RATE_HZ
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(np.concatenate(pieces).tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        if decoder.hyp() is None:
            return
        decoder.get_prob()  # computes the lattice posteriors that seg().prob reports
        for seg in decoder.seg():
            text = _VARIANT.sub("", seg.word)
            if is_filler(text):
                continue
            self._ready.append(
                Word(
                    text=text,
                    start_s=offset + seg.start_frame / FRAMES_PER_S,
                    end_s=offset + (seg.end_frame + 1) / FRAMES_PER_S,
                    confidence=float(min(max(seg.prob, 0.0), 1.0)),
                )
            )

    def pull(self) -> list[Word]:
        """Return the words finished since the last call (possibly none), in time order."""
        words, self._ready = self._ready, []
        return words

    def flush(self) -> list[Word]:
        """End the stream: finish the last utterance and return the words not yet pulled."""
        if self._utt_from is not None:  # still in speech: decode up to the last sample
            self._decode(self._utt_from, self._n_fed, tail=self._chunks.take_remainder())
            self._utt_from = None
        self._chunks.take_remainder()
        return self.pull()
