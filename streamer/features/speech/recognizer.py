"""The recogniser interface every speech backend implements, and the backend choice.

A recogniser takes 16 kHz mono audio (float in [-1, 1]) with the media time of its first
sample, and hands out words once they are final. Times of words are on the media clock:
a backend counts samples from the time of the first block it was given.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamer.types import Word

SAMPLE_RATE_HZ = 16000


class SpeechRecognizer(Protocol):
    """Streaming speech recognition with word times.

    Attributes
    ----------
    name : str
        The backend, e.g. ``"vosk"`` or ``"pocketsphinx"`` (and the model it uses).
    """

    name: str
    settled_s: float  # media time (s) before which every word has been handed out or pulled

    def push(self, samples: np.ndarray, t_s: float) -> None:
        """Add 16 kHz mono samples whose first sample is at media time ``t_s`` seconds.

        Blocks must be consecutive; ``t_s`` of the first block sets the clock.
        """

    def pull(self) -> list[Word]:
        """Return the words finished since the last call (possibly none), in time order."""

    def flush(self) -> list[Word]:
        """End the stream: finish the last utterance and return its words."""

    def reset(self) -> None:
        """Forget the stream; the next push starts a new one."""


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] (or int16 already) as little-endian int16 PCM."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples.astype("<i2", copy=False)
    scaled = np.round(samples.astype(np.float64) * 32767.0)
    return np.clip(scaled, -32768, 32767).astype("<i2")


class PcmChunks:
    """Float samples in, fixed-size int16 PCM chunks out; the remainder waits for more.

    Parameters
    ----------
    chunk_samples : int
        Samples per chunk (e.g. 480 for 30 ms at 16 kHz).
    """

    def __init__(self, chunk_samples: int):
        self.chunk_samples = chunk_samples
        self.remainder = np.zeros(0, dtype="<i2")  # samples not yet in a chunk

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The complete chunks now available, shape (n_chunks, chunk_samples), int16."""
        pcm = to_int16(samples).ravel()
        if self.remainder.size:
            pcm = np.concatenate([self.remainder, pcm])
        n_chunks = pcm.size // self.chunk_samples
        self.remainder = pcm[n_chunks * self.chunk_samples :].copy()
        return pcm[: n_chunks * self.chunk_samples].reshape(n_chunks, self.chunk_samples)

    def take_remainder(self) -> np.ndarray:
        """The samples left over (fewer than a chunk), emptying the buffer."""
        remainder, self.remainder = self.remainder, np.zeros(0, dtype="<i2")
        return remainder
