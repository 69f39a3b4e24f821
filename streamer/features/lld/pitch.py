"""Sub-harmonic-summation (SHS) F0 candidates of openSMILE's eGeMAPS v01a pitch chain.

Per 60 ms frame (960 samples at 16 kHz) this reimplements, vectorised over frames:

1. Gaussian window (sigma 0.4), zero padding to 1024 samples, FFT magnitude
   (``gemapsv01a_fftmagG60``).
2. ``cSpecScale``: spectral peak enhancement (bins further than 2 bins from any local
   maximum, between two maxima, are zeroed), 3-tap smoothing (1/4, 1/2, 1/4), natural
   cubic-spline resampling of the linear spectrum onto an octave (log2) axis of 513
   points from 25 Hz to 8000 Hz, and an arctan auditory weighting.
3. ``cPitchShs``: the octave spectrum is shifted down by ``log2(h)`` octaves for the
   harmonics h = 2..15, weighted by ``0.85 ** (h - 1)`` and summed; the 6 highest local
   maxima are refined by parabolic interpolation and given a voicing
   ``1 - mean(SHS) / peak``. Candidates outside 55..1000 Hz are dropped and the
   best-scored candidate is swapped to the front (``cPitchBase``).

The Viterbi smoother that turns the candidates into the final F0 lives in
:mod:`streamer.features.lld.pitch_viterbi`.

Every function here is pure and works row by row, so results do not depend on how the
frames are split into batches (bitwise).
"""

from __future__ import annotations

import numpy as np

from streamer.features.lld.framing import FRAME60, SAMPLE_RATE_HZ
from streamer.features.lld.parabola import parabola_vertex

FFT_LENGTH = 1024
N_BINS = FFT_LENGTH // 2 + 1
MIN_FREQ_HZ = 25.0
MIN_PITCH_HZ = 55.0
MAX_PITCH_HZ = 1000.0
N_CANDIDATES = 6
N_HARMONICS = 15
COMPRESSION = 0.85
VOICING_CUTOFF = float(np.float32(0.7))
ENERGY_THRESHOLD = 0.001
SEMITONE_BASE_HZ = 27.5
_CHUNK_FRAMES = 1024


def _gaussian_window(length: int = FRAME60, sigma: float = 0.4) -> np.ndarray:
    """openSMILE's Gaussian window: ``exp(-0.5 * ((n - (N-1)/2) / (sigma (N-1)/2))**2)``."""
    half = (length - 1) / 2.0
    t = (np.arange(length) - half) / (sigma * half)
    return np.exp(-0.5 * t * t)


def _spline_tables() -> dict:
    """Constants of the natural cubic spline from the linear FFT axis to the octave axis."""
    delta_f = SAMPLE_RATE_HZ / FFT_LENGTH
    x = np.empty(N_BINS)
    x[1:] = np.log2(np.arange(1, N_BINS) * delta_f)
    x[0] = 2.0 * x[1] - x[2]  # openSMILE's heuristic position of the DC bin
    max_f = delta_f * (N_BINS - 1)
    target = np.log2(MIN_FREQ_HZ) + np.arange(N_BINS) * (
        (np.log2(max_f) - np.log2(MIN_FREQ_HZ)) / (N_BINS - 1)
    )
    # Tridiagonal elimination coefficients (independent of the spectrum values).
    sigma = np.zeros(N_BINS)
    sigma[1:-1] = (x[1:-1] - x[:-2]) / (x[2:] - x[:-2])
    diag_inv = np.zeros(N_BINS)
    upper = np.zeros(N_BINS)
    for i in range(1, N_BINS - 1):
        diag_inv[i] = 1.0 / (sigma[i] * upper[i - 1] + 2.0)
        upper[i] = (sigma[i] - 1.0) * diag_inv[i]
    # Interpolation weights for each target point.
    upper_idx = np.searchsorted(x, target, side="left")
    upper_idx = np.clip(upper_idx, 1, N_BINS - 1)
    lower_idx = upper_idx - 1
    width = x[upper_idx] - x[lower_idx]
    a = (x[upper_idx] - target) / width
    b = 1.0 - a
    width2 = width * width / 6.0
    n_octaves = np.log2(max_f / MIN_FREQ_HZ)
    points_per_octave = N_BINS / n_octaves
    atan_s = points_per_octave * np.log2(65.0 / 50.0) - 1.0
    weight = 0.5 + np.arctan(3.0 * (np.arange(1, N_BINS + 1) - atan_s) / points_per_octave) / np.pi
    # openSMILE stores points per octave as a 32-bit float before using it for the shifts.
    ppo32 = float(np.float32(points_per_octave))
    shifts = [int(np.floor(ppo32 * np.log2(h))) for h in range(2, N_HARMONICS + 1)]
    return {
        "x": x,
        "target_log2": target,
        "step_log2": (target[-1] - target[0]) / (N_BINS - 1),
        "slope_den_hi": (x[2:] - x[1:-1]) * (x[2:] - x[:-2]),
        "slope_den_lo": (x[1:-1] - x[:-2]) * (x[2:] - x[:-2]),
        "sigma": sigma,
        "diag_inv": diag_inv,
        "upper": upper,
        "lower_idx": lower_idx,
        "coef_a": a,
        "coef_b": b,
        "coef_c": (a * a * a - a) * width2,
        "coef_d": (b * b * b - b) * width2,
        "aud_weight": weight,
        "shifts": shifts,
    }


_WINDOW = _gaussian_window()
_TABLES = _spline_tables()


def gaussian_spectrum60(frames60: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrum and RMS energy of the Gaussian-windowed 60 ms frames.

    openSMILE's ``gemapsv01a_fftmagG60`` (window sigma 0.4, zero-padded to 1024 samples)
    and ``cEnergy`` (rms=1) of the same windowed frames. The harmonics use this spectrum too.

    Parameters
    ----------
    frames60 : ndarray, shape (n_frames, 960)
        Raw 60 ms frames of the 16 kHz signal (wave scale, [-1, 1]).

    Returns
    -------
    magnitude : ndarray, shape (n_frames, 513)
        ``|FFT|`` for the bins 0..8000 Hz in steps of 15.625 Hz (unnormalised).
    rms_energy : ndarray, shape (n_frames,)
        Root mean square of the windowed samples (same scale as the signal).
    """
    windowed = np.asarray(frames60, dtype=np.float64) * _WINDOW
    magnitude = np.abs(np.fft.rfft(windowed, n=FFT_LENGTH, axis=-1))
    return magnitude, np.sqrt((windowed * windowed).sum(axis=-1) / FRAME60)


def _enhance_peaks_t(mag_t: np.ndarray) -> np.ndarray:
    """openSMILE's SHS peak enhancement on a (bins, frames) array.

    Bins between the first and the last local maximum that are at least 3 bins away from
    every maximum are zeroed. With a single maximum openSMILE reads an unset position (0)
    and zeroes all bins from 3 upwards; without any maximum nothing changes.
    """
    n = mag_t.shape[0]
    is_peak = np.empty(mag_t.shape, dtype=bool)
    is_peak[0] = mag_t[0] > mag_t[1]
    is_peak[1:-1] = (mag_t[1:-1] > mag_t[:-2]) & (mag_t[1:-1] >= mag_t[2:])
    is_peak[-1] = mag_t[-1] > mag_t[-2]
    near = is_peak.copy()
    for d in (1, 2):
        near[d:] |= is_peak[:-d]
        near[:-d] |= is_peak[d:]
    first = np.argmax(is_peak, axis=0)
    last = n - 1 - np.argmax(is_peak[::-1], axis=0)
    n_peaks = is_peak.sum(axis=0)
    idx = np.arange(n)[:, None]
    zero = np.where(
        n_peaks >= 2,
        ~near & (idx >= first) & (idx <= last),
        (n_peaks == 1) & (idx >= 3),
    )
    return np.where(zero, 0.0, mag_t)


def _octave_spectrum_t(mag_t: np.ndarray) -> np.ndarray:
    """``cSpecScale`` on a (513 bins, frames) magnitude array; returns (513 points, frames)."""
    tb = _TABLES
    y = _enhance_peaks_t(mag_t)
    yt = y.copy()
    yt[1:-1] = (y[:-2] + 2.0 * y[1:-1] + y[2:]) / 4.0
    yt[0] = (2.0 * y[0] + y[1]) / 4.0
    # Natural cubic spline: second derivatives by forward elimination and back substitution
    # (a recursion over bins, vectorised over frames).
    slope_diff = (yt[2:] - yt[1:-1]) / tb["slope_den_hi"][:, None] - (yt[1:-1] - yt[:-2]) / (
        tb["slope_den_lo"][:, None]
    )
    rhs = (6.0 * tb["diag_inv"][1:-1])[:, None] * slope_diff
    decay = (-tb["sigma"] * tb["diag_inv"])[1:-1]
    u = np.zeros_like(yt)
    tmp = np.empty(yt.shape[1])
    for i in range(1, N_BINS - 1):
        np.multiply(u[i - 1], decay[i - 1], out=tmp)
        np.add(rhs[i - 1], tmp, out=u[i])
    y2 = np.zeros_like(yt)
    upper = tb["upper"]
    for i in range(N_BINS - 2, -1, -1):
        np.multiply(y2[i + 1], upper[i], out=tmp)
        np.add(tmp, u[i], out=y2[i])
    k = tb["lower_idx"]
    out = (
        tb["coef_a"][:, None] * yt[k]
        + tb["coef_b"][:, None] * yt[k + 1]
        + tb["coef_c"][:, None] * y2[k]
        + tb["coef_d"][:, None] * y2[k + 1]
    )
    return np.where(out > 0.0, out * tb["aud_weight"][:, None], 0.0)


def _shs_spectrum_t(octave_t: np.ndarray) -> np.ndarray:
    """Sub-harmonic sum (15 harmonics, compression 0.85) of a (points, frames) array, >= 0."""
    n = octave_t.shape[0]
    total = octave_t.copy()
    tmp = np.empty_like(octave_t)
    scale = COMPRESSION
    for shift in _TABLES["shifts"]:
        part = tmp[: n - shift]
        np.multiply(octave_t[shift:], scale, out=part)
        total[: n - shift] += part
        scale *= COMPRESSION
    total /= N_HARMONICS
    return np.maximum(total, 0.0, out=total)


def _pick_candidates_t(ss_t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 6 highest local maxima of a (points, frames) SHS spectrum, parabola-refined.

    Returns candidate F0 (Hz), voicing and score, shape (n_frames, 6) each, ordered as
    openSMILE's greedy peak picker orders them (score descending, ties by frequency),
    zeros for missing candidates.
    """
    n_frames = ss_t.shape[1]
    tb = _TABLES
    inner = ss_t[1:-1]
    key = np.where((ss_t[:-2] < inner) & (inner > ss_t[2:]), inner, -np.inf)
    cols = np.arange(n_frames)
    picked = np.empty((N_CANDIDATES, n_frames), dtype=np.int64)
    valid = np.empty((N_CANDIDATES, n_frames), dtype=bool)
    for c in range(N_CANDIDATES):  # argmax returns the first maximum, as the greedy picker
        best = np.argmax(key, axis=0)
        picked[c] = best
        valid[c] = np.isfinite(key[best, cols])
        key[best, cols] = -np.inf
    j = picked + 1  # bin index in ss_t
    y1, y2, y3 = ss_t[j - 1, cols], ss_t[j, cols], ss_t[j + 1, cols]
    f_min = tb["target_log2"][0]
    step = tb["step_log2"]
    x2 = j * step + f_min
    x1 = (j - 1.0) * step + f_min
    x3 = (j + 1.0) * step + f_min
    vertex, score = parabola_vertex(x1, x2, x3, y1, y2, y3)
    ss_mean = ss_t.mean(axis=0)
    positive = np.where(score > 0.0, score, 1.0)
    voicing = np.where((score > 0.0) & (score > ss_mean), 1.0 - ss_mean / positive, 0.0)
    f0 = np.where(valid, np.exp2(vertex), 0.0)
    voicing = np.where(valid, voicing, 0.0)
    score = np.where(valid, score, 0.0)
    return f0.T, voicing.T, score.T


def _range_and_reorder(
    f0: np.ndarray, voicing: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop candidates outside 55..1000 Hz (keeping order) and swap the best score to slot 0."""
    keep = (f0 >= MIN_PITCH_HZ) & (f0 <= MAX_PITCH_HZ)
    order = np.argsort(~keep, axis=1, kind="stable")
    keep = np.take_along_axis(keep, order, axis=1)
    f0 = np.where(keep, np.take_along_axis(f0, order, axis=1), 0.0)
    voicing = np.where(keep, np.take_along_axis(voicing, order, axis=1), 0.0)
    score = np.where(keep, np.take_along_axis(score, order, axis=1), 0.0)
    best = np.argmax(score, axis=1)
    swap = np.tile(np.arange(N_CANDIDATES), (f0.shape[0], 1))
    rows = np.arange(f0.shape[0])
    swap[rows, best] = 0
    swap[:, 0] = best
    f0 = np.take_along_axis(f0, swap, axis=1)
    voicing = np.take_along_axis(voicing, swap, axis=1)
    score = np.take_along_axis(score, swap, axis=1)
    return f0, voicing, score, keep.sum(axis=1)


def shs_candidates(magnitude60: np.ndarray, rms_energy: np.ndarray) -> dict[str, np.ndarray]:
    """F0 candidates of openSMILE's ``cPitchShs``, from :func:`gaussian_spectrum60`.

    Parameters
    ----------
    magnitude60 : ndarray, shape (n_frames, 513)
        Magnitude spectra of the Gaussian-windowed 60 ms frames.
    rms_energy : ndarray, shape (n_frames,)
        RMS energy of the same windowed frames (passed through for the energy gate).

    Returns
    -------
    dict of ndarray
        ``f0_candidates`` (n_frames, 6) in Hz, 0 where missing; ``voicing`` (n_frames, 6)
        in [0, 1); ``scores`` (n_frames, 6); ``n_candidates`` (n_frames,);
        ``rms_energy`` (n_frames,).
    """
    magnitude60 = np.asarray(magnitude60, dtype=np.float64)
    if magnitude60.ndim != 2 or magnitude60.shape[1] != N_BINS:
        raise ValueError(f"magnitude60 must have shape (n, {N_BINS}), got {magnitude60.shape}")
    if magnitude60.shape[0] > _CHUNK_FRAMES:  # bounded working set; rows are independent
        parts = [
            shs_candidates(
                magnitude60[start : start + _CHUNK_FRAMES],
                rms_energy[start : start + _CHUNK_FRAMES],
            )
            for start in range(0, magnitude60.shape[0], _CHUNK_FRAMES)
        ]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    mag_t = np.ascontiguousarray(magnitude60.T)
    ss_t = _shs_spectrum_t(_octave_spectrum_t(mag_t))
    f0, voicing, score = _pick_candidates_t(ss_t)
    f0, voicing, score, n_cand = _range_and_reorder(f0, voicing, score)
    # openSMILE keeps candidates as 32-bit floats.
    return {
        "f0_candidates": f0.astype(np.float32).astype(np.float64),
        "voicing": voicing.astype(np.float32).astype(np.float64),
        "scores": score.astype(np.float32).astype(np.float64),
        "n_candidates": n_cand.astype(np.float64),
        "rms_energy": np.asarray(rms_energy, dtype=np.float64),
    }


def hz_to_semitones(f0_hz: np.ndarray) -> np.ndarray:
    """openSMILE's ``F0finalLog``: semitones above 27.5 Hz, 1 for 0 < F0 <= 29.136 Hz, 0 if unvoiced.

    Parameters
    ----------
    f0_hz : ndarray
        F0 in Hz (0 = unvoiced).

    Returns
    -------
    ndarray
        ``12 * log2(F0 / 27.5)`` for F0 > 29.136 Hz, 1.0 for lower positive F0, else 0.
    """
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    safe = np.where(f0_hz > 0.0, f0_hz, SEMITONE_BASE_HZ)
    semitones = 12.0 * np.log2(safe / SEMITONE_BASE_HZ)
    return np.where(f0_hz > 29.136, semitones, np.where(f0_hz > 0.0, 1.0, 0.0))
