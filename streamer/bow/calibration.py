"""Per-person calibration: each feature read against the person's own mean and spread.

A resting face and voice differ from person to person (a deep voice, a face that looks
sad at rest); the codebooks were fitted on many people. Calibration moves each frame
from the person's own statistics into the population's before it is quantised:

    x' = mu0 + (x - m) * s0 / s

with ``mu0``, ``s0`` the population mean and standard deviation of the feature (the
:class:`CalibrationPrior`, fitted on the training frames) and ``m``, ``s`` the person's,
shrunk towards the population by a prior worth ``prior_frames`` frames:

    m = (w0 mu0 + sum x) / (w0 + n),   s^2 = (w0 s0^2 + sum (x - m)^2) / (w0 + n)

At run time (:class:`RunningCalibration`) the sums run over the frames since the session
began, causally: a frame is read against the frames up to and including itself, so the
person's own share ``n / (n + w0)`` grows from 0 (a new face reads as the population's)
to 1. The population statistics are those of the training people's neutral voices and
faces, and in training each speaker's, actor's or person's frames are read against
their own neutral ones (:func:`calibrate_person`; a person with no neutral item is left
as they are): a person at rest then reads as the population at rest, as after the first
seconds of a calm session at run time. A demo recording, being one speaker and one
actor, is calibrated causally as at run time.

Sparse features (``*_sma3nz`` LLDs: F0, jitter, shimmer... are 0 when unvoiced) are
counted over their non-zero frames only, and a 0 stays 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.errors import StreamerError

_MIN_STD = 1e-6  # a constant feature keeps its own spread, not a division by zero
# Frames per second of each group's stream, to turn ``calibration.prior_s`` into frames:
# LLDs every 10 ms; face frames at the demo corpus's and a typical camera's 25 per second.
FRAMES_PER_S = {"audio": 100.0, "pose": 25.0, "eyes": 25.0, "landmarks": 25.0}


@dataclass(frozen=True)
class CalibrationPrior:
    """The population's statistics of one feature group.

    Attributes
    ----------
    mean, std : np.ndarray, shape (d,)
        Mean and standard deviation of each feature over the training frames (non-zero
        frames for sparse features), feature units.
    sparse : np.ndarray of bool, shape (d,)
        Features where 0 means "not measured".
    """

    mean: np.ndarray
    std: np.ndarray
    sparse: np.ndarray

    def __post_init__(self) -> None:
        mean, std = (np.asarray(v, dtype=np.float64) for v in (self.mean, self.std))
        sparse = np.asarray(self.sparse, dtype=bool)
        if not (mean.shape == std.shape == sparse.shape) or mean.ndim != 1 or (std <= 0).any():
            raise StreamerError("a calibration prior needs (d,) means, positive stds and flags")
        for name, value in (("mean", mean), ("std", std), ("sparse", sparse)):
            object.__setattr__(self, name, value)

    @classmethod
    def fit(cls, frames: np.ndarray, sparse) -> CalibrationPrior:
        """Statistics of training frames (n, d); ``sparse``: (d,) bool."""
        frames = np.asarray(frames, dtype=np.float64)
        sparse = np.asarray(sparse, dtype=bool)
        counted = ~sparse | (frames != 0)
        n = counted.sum(axis=0)
        if frames.ndim != 2 or frames.shape[1] != len(sparse) or (n == 0).any():
            raise StreamerError("calibration needs (n, d) training frames with every feature measured")
        mean = np.where(counted, frames, 0).sum(axis=0) / n
        var = np.where(counted, (frames - mean) ** 2, 0).sum(axis=0) / n
        return cls(mean, np.maximum(np.sqrt(var), _MIN_STD), sparse)


def sparse_columns(names) -> np.ndarray:
    """Which features are sparse: the LLDs whose name ends in ``nz``."""
    return np.array([str(name).endswith("nz") for name in names], dtype=bool)


def _apply(frames, counted, sums, squares, n, prior: CalibrationPrior, w0: float) -> np.ndarray:
    """Frames moved into the population's statistics, given the person's running sums."""
    mean0, std0 = prior.mean, prior.std
    mean = (w0 * mean0 + sums) / (w0 + n)
    var = (w0 * std0**2 + squares - 2 * mean * sums + n * mean**2) / (w0 + n)
    std = np.sqrt(np.maximum(var, _MIN_STD**2))
    moved = mean0 + (frames - mean) * std0 / std
    return np.where(counted, moved, frames)


def calibrate_person(frames: np.ndarray, prior: CalibrationPrior, prior_frames: float,
                     weight: float = 1.0, reference: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """One person's frames (n, d) read against their ``reference`` frames (training).

    ``reference``: the frames (m, d) whose statistics are the person's (default: all of
    ``frames``); ``weight``: how many frames each given frame stands for (a photograph's
    few tracked frames stand for the whole clip it is shown as).
    """
    frames = np.asarray(frames, dtype=np.float64)
    reference = frames if reference is None else np.asarray(reference, dtype=np.float64)
    seen = ~prior.sparse | (reference != 0)
    values = np.where(seen, reference, 0.0)
    counted = ~prior.sparse | (frames != 0)
    return _apply(frames, counted, weight * values.sum(axis=0), weight * (values**2).sum(axis=0),
                  weight * seen.sum(axis=0), prior, prior_frames)  # fmt: skip


class RunningCalibration:
    """Causal calibration of one feature group's stream (run time, demo recordings).

    Parameters
    ----------
    prior : CalibrationPrior
        The population's statistics.
    prior_frames : float
        What the prior is worth, in frames.

    ``push`` gives the same frames whatever the block sizes (up to float rounding).
    """

    def __init__(self, prior: CalibrationPrior, prior_frames: float):
        self.prior = prior
        self.prior_frames = float(prior_frames)
        self.reset()

    def reset(self) -> None:
        """A new person: forget the statistics."""
        d = len(self.prior.mean)
        self._n, self._sums, self._squares = np.zeros(d), np.zeros(d), np.zeros(d)

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Calibrated frames (n, d), each read against the frames up to itself."""
        frames = np.asarray(frames, dtype=np.float64)
        if not len(frames):
            return frames.reshape(0, len(self.prior.mean))
        counted = ~self.prior.sparse | (frames != 0)
        values = np.where(counted, frames, 0.0)
        n = self._n + np.cumsum(counted, axis=0)
        sums = self._sums + np.cumsum(values, axis=0)
        squares = self._squares + np.cumsum(values**2, axis=0)
        self._n, self._sums, self._squares = n[-1], sums[-1], squares[-1]
        return _apply(frames, counted, sums, squares, n, self.prior, self.prior_frames)


def running_calibration(book, settings) -> RunningCalibration | None:
    """The stream calibration of one codebook's group, or None when ``settings``
    (a ``CalibrationConfig``: ``audio``, ``face``, ``prior_s``) leave that group raw.

    Raises
    ------
    StreamerError
        Calibration is on but the codebook keeps no prior (fitted without one).
    """
    if settings is None or book.group not in FRAMES_PER_S:
        return None
    if not (settings.audio if book.group == "audio" else settings.face):
        return None
    if book.prior is None:
        raise StreamerError(
            f"calibration of the {book.group} features is on but the {book.group} codebook "
            "keeps no calibration prior: use codebooks from `streamer pretrain`, or turn "
            f"calibration.{'audio' if book.group == 'audio' else 'face'} off"
        )
    return RunningCalibration(book.prior, settings.prior_s * FRAMES_PER_S[book.group])
