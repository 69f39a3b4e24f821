"""Annotation-delay compensation: pair the label at time t with the features at t - d.

Raters react late, so the label at t describes what happened around t - d. The AVEC 2018
CES (SEWA) baseline compensates by moving the labels ``round(d / hop)`` rows to the front
(zero-padding their end) and shifting predictions back (zero-padding their start) before
scoring. :func:`shift_features` gives the same row pairing while keeping every label: the
feature rows move ``round(d / hop)`` rows later and the first row is repeated at the
start, so a model trained on the shifted features needs no shifting of its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamer.errors import StreamerError


def delay_rows(delay_s: float, hop_s: float = 0.1) -> int:
    """Number of rows a delay spans, rounded as the AVEC scripts do (``round(d / hop)``)."""
    if not hop_s > 0.0:
        raise StreamerError(f"hop must be positive, got {hop_s} s")
    if not delay_s >= 0.0:
        raise StreamerError(f"delay must be >= 0 s, got {delay_s} s")
    return int(np.round(delay_s / hop_s))


def shift_features(features, delay_s: float, hop_s: float = 0.1) -> np.ndarray:
    """Delay one recording's features so row t holds the features of time t - delay_s.

    Parameters
    ----------
    features : array_like, shape (n_rows, n_features)
        One feature row per hop, row k at time k * hop_s.
    delay_s : float
        Annotation delay d in seconds, >= 0 (paper: 1.5 s arousal/valence, 2.5 s liking).
    hop_s : float
        Row spacing in seconds (0.1 s for AVEC 2017 SEWA).

    Returns
    -------
    np.ndarray, shape (n_rows, n_features)
        ``out[t] = features[max(t - n, 0)]`` with n = round(delay_s / hop_s): the first
        n rows repeat the first feature row; a delay of the whole recording or longer gives
        the first row everywhere. A new array; the input is untouched.
    """
    x = np.asarray(features)
    if x.ndim != 2:
        raise StreamerError(
            f"features must be (n_rows, n_features), got shape {x.shape}: one recording at a time"
        )
    n = delay_rows(delay_s, hop_s)
    if x.shape[0] == 0 or n == 0:
        return x.copy()
    idx = np.maximum(np.arange(x.shape[0]) - n, 0)
    return x[idx]


def delay_grid_search(
    delays_s: Sequence[float], score_fn: Callable[[float], float]
) -> tuple[float, np.ndarray]:
    """Score every candidate delay and return the best one (the paper's Fig. 2 curve).

    Parameters
    ----------
    delays_s : sequence of float
        Candidate delays in seconds, evaluated in the given order.
    score_fn : callable
        ``score_fn(delay_s) -> float``, e.g. the validation CCC of a model trained with
        features shifted by delay_s. Higher is better; NaN counts as worst.

    Returns
    -------
    best_delay_s : float
        The delay with the highest score (the earliest one on ties).
    scores : np.ndarray, shape (len(delays_s),)
        All scores, in the order of ``delays_s``.
    """
    delays = [float(d) for d in delays_s]
    if not delays:
        raise StreamerError("delay grid is empty: give at least one delay in seconds")
    scores = np.array([float(score_fn(d)) for d in delays], dtype=np.float64)
    if np.isnan(scores).all():
        raise StreamerError("every delay scored NaN: check the validation data and score_fn")
    best = int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))
    return delays[best], scores
