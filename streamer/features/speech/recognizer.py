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
