"""openSMILE's 3-frame moving-average smoothing (``_sma3`` and ``_sma3nz``).

openSMILE's contour smoother with ``smaWin = 3`` replaces each frame by the mean of
itself and its two neighbours. With ``noZeroSma = 1`` (the ``nz`` variants) a frame
whose value is 0 (unvoiced) stays 0 and zero-valued neighbours are left out of the
mean. At the first and last frame of a stream the missing neighbour is replaced by a
copy of the edge frame, as openSMILE does.
"""

from __future__ import annotations

import numpy as np


def sma3(values: np.ndarray, no_zero: np.ndarray | bool = False) -> np.ndarray:
    """Smooth each column of ``values`` over 3 frames.

    Parameters
    ----------
    values : ndarray, shape (n_frames, n_columns)
        Raw per-frame descriptors, in frame order.
    no_zero : bool or ndarray of bool, shape (n_columns,)
        Columns that follow the ``nz`` rule (zeros stay zero and are not averaged).

    Returns
    -------
    ndarray, shape (n_frames, n_columns)
        Smoothed descriptors.
    """
    values = np.asarray(values, dtype=np.float64)
    n_frames, n_columns = values.shape
    no_zero = np.broadcast_to(np.asarray(no_zero, dtype=bool), (n_columns,))
    if n_frames == 0:
        return values.copy()
    padded = np.concatenate([values[:1], values, values[-1:]])
    weight = np.ones_like(padded)
    weight[:, no_zero] = padded[:, no_zero] != 0.0
    total = padded[:-2] + padded[1:-1] + padded[2:]
    count = weight[:-2] + weight[1:-1] + weight[2:]
    smoothed = total / np.maximum(count, 1.0)
    smoothed[:, no_zero] = np.where(values[:, no_zero] == 0.0, 0.0, smoothed[:, no_zero])
    return smoothed
