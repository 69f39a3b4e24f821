"""Agreement metrics between a label trace and a prediction trace, as AVEC 2017 scores them.

The AVEC scoring script (``calc_scores.py`` of the AVEC 2018 CES baseline, the SEWA follow-up
by the AVEC 2017 organisers, and the organisers' Matlab ``CCC_calc.m``) computes, for
x = labels and y = predictions of length N::

    cov   = 1/N       * sum((x - mean x) * (y - mean y))     # np.nanmean
    var_x = 1/(N - 1) * sum((x - mean x) ** 2)               # Matlab's nanvar
    var_y = 1/(N - 1) * sum((y - mean y) ** 2)
    CCC   = 2 * cov / (var_x + var_y + (mean x - mean y) ** 2)

Because the covariance is over N and the variances over N - 1, identical traces score
(N - 1) / N, not 1. :func:`ccc_lin` gives Lin's textbook CCC (everything over N).

Inputs must be finite, 1-D and of equal length. Anything else raises a one-line
:class:`~streamer.errors.StreamerError` (the script instead silently skips NaNs in the sums
but still divides the variances by the full length).
"""

from __future__ import annotations

import numpy as np

from streamer.errors import StreamerError


def _pair(y_true, y_pred, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Both traces as float64 1-D arrays, checked for shape, length and finiteness."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim != 1 or p.ndim != 1:
        raise StreamerError(
            f"metrics need 1-D traces, got shapes {t.shape} and {p.shape}: flatten them first"
        )
    if t.shape != p.shape:
        raise StreamerError(
            f"labels have {t.size} values but predictions {p.size}: align them to the same rows"
        )
    if t.size < min_len:
        raise StreamerError(f"metric needs at least {min_len} values, got {t.size}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise StreamerError("labels or predictions contain NaN or inf: drop or fill those rows")
    return t, p


def ccc(y_true, y_pred) -> float:
    """Concordance correlation coefficient exactly as the AVEC 2017 scoring script.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Gold-standard labels and predictions (same unit, e.g. arousal in [-1, 1]), n >= 2.

    Returns
    -------
    float
        ``2 cov / (var_t + var_p + (mean_t - mean_p)^2)`` with the covariance over n and the
        variances over n - 1; identical traces give (n - 1) / n. A constant prediction
        against varying labels gives 0.0.

    Raises
    ------
    StreamerError
        Length < 2, shape mismatch, NaN/inf, or both traces the same constant (0 / 0).
    """
    t, p = _pair(y_true, y_pred, 2)
    n = t.size
    mt, mp = t.mean(), p.mean()
    cov = np.mean((t - mt) * (p - mp))
    var_t = np.sum((t - mt) ** 2) / (n - 1)
    var_p = np.sum((p - mp) ** 2) / (n - 1)
    denom = var_t + var_p + (mt - mp) ** 2
    if denom == 0.0:
        raise StreamerError("CCC is undefined: labels and predictions are the same constant")
    return float(2.0 * cov / denom)


def ccc_lin(y_true, y_pred) -> float:
    """Lin's (1989) concordance correlation coefficient, every moment over n.

    Same inputs, degenerate cases and errors as :func:`ccc`; identical traces give 1.0.
    Use :func:`ccc` for numbers comparable with AVEC results.
    """
    t, p = _pair(y_true, y_pred, 2)
    mt, mp = t.mean(), p.mean()
    denom = t.var() + p.var() + (mt - mp) ** 2
    if denom == 0.0:
        raise StreamerError("CCC is undefined: labels and predictions are the same constant")
    return float(2.0 * np.mean((t - mt) * (p - mp)) / denom)


def pcc(y_true, y_pred) -> float:
    """Pearson correlation coefficient.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Labels and predictions, n >= 2.

    Returns
    -------
    float
        Pearson's r in [-1, 1]; 0.0 when either trace is constant (no linear association
        can be measured). Note: the AVEC script's PCC divides its over-N covariance by
        over-(N - 1) deviations, i.e. reports r * (N - 1) / N; this function returns r.

    Raises
    ------
    StreamerError
        Length < 2, shape mismatch, NaN/inf.
    """
    t, p = _pair(y_true, y_pred, 2)
    dt, dp = t - t.mean(), p - p.mean()
    norm = np.sqrt(np.sum(dt**2) * np.sum(dp**2))
    if norm == 0.0:
        return 0.0
    return float(np.clip(np.sum(dt * dp) / norm, -1.0, 1.0))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in the unit of the labels.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Labels and predictions, n >= 1.

    Raises
    ------
    StreamerError
        Empty input, shape mismatch, NaN/inf.
    """
    t, p = _pair(y_true, y_pred, 1)
    return float(np.sqrt(np.mean((t - p) ** 2)))
