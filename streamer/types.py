"""The items that flow between stages. Every item carries ``t_s``: seconds on the media clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AudioBlock:
    """Consecutive mono audio samples.

    Attributes
    ----------
    t_s : float
        Time of the first sample, in seconds on the media clock.
    samples : ndarray, shape (n_samples,)
        Mono samples, float64 in [-1, 1].
    sample_rate_hz : int
        Samples per second.
    """

    t_s: float
    samples: np.ndarray
    sample_rate_hz: int


@dataclass(frozen=True)
class VideoFrame:
    """One decoded picture.

    Attributes
    ----------
    t_s : float
        Presentation time in seconds on the media clock (a file's timestamp, or seconds
        since a live session started).
    image : ndarray, shape (height, width, 3), uint8
        RGB pixels, C-contiguous (MediaPipe needs contiguous memory).
    index : int
        Frame number from 0 in the order the source delivered frames.
    """

    t_s: float
    image: np.ndarray
    index: int


@dataclass(frozen=True)
class Word:
    """A recognised word with its time span.

    Attributes
    ----------
    text : str
        The word as the recogniser spelled it (see ``streamer.features.speech.words``
        for the lower-cased tokens the text bag counts).
    start_s, end_s : float
        Start and end on the media clock, in seconds.
    confidence : float
        The recogniser's confidence in [0, 1].
    """

    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class FeatureFrames:
    """A run of feature frames at regular times (for example LLDs every 10 ms).

    Attributes
    ----------
    t_s : ndarray, shape (n_frames,)
        Frame times in seconds (openSMILE's ``frameTime``: the start of each frame).
    values : ndarray, shape (n_frames, n_features)
        One row per frame.
    names : tuple of str
        Column names, ``len(names) == n_features``.
    """

    t_s: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> FeatureFrames:
        """No frames, with the given columns."""
        return cls(np.zeros(0), np.zeros((0, len(names))), names)

    @classmethod
    def concat(cls, parts: list[FeatureFrames], names: tuple[str, ...]) -> FeatureFrames:
        """Join runs of frames in time order."""
        if not parts:
            return cls.empty(names)
        return cls(
            np.concatenate([p.t_s for p in parts]),
            np.concatenate([p.values for p in parts]),
            names,
        )


@dataclass(frozen=True)
class Estimate:
    """The affect estimate of one 0.1 s hop.

    Attributes
    ----------
    t_s : float
        End of the hop, seconds on the media clock (the bags cover ``(t_s - 6, t_s]``).
    arousal, valence, liking : float
        Scaled estimates, nominally in [-1, 1]; NaN when the model has no network for that
        dimension (the default model has no liking).
    face : bool
        A face was found in at least one frame of the hop ``(t_s - 0.1, t_s]``.
    speech : bool
        The voice was voiced in at least a fifth of the hop's 10 ms audio frames.
    latency_ms : float
        Wall-clock time from the moment the media up to ``t_s`` was captured (live, or
        real-time replay) or read (fast replay) to the moment the estimate was made, ms.
    """

    t_s: float
    arousal: float
    valence: float
    liking: float
    face: bool
    speech: bool
    latency_ms: float
