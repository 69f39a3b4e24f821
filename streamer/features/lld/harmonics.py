"""F0-harmonic descriptors of eGeMAPS v01a (openSMILE ``cHarmonics``).

Inputs per frame: the magnitude spectrum of the Gaussian-windowed 60 ms frame
(960 samples, sigma 0.4, zero-padded to 1024 points: 513 bins of 15.625 Hz), the final
F0 in Hz (0 when unvoiced) and the LPC formants of :mod:`formants`.

Harmonics (voiced frames): for harmonic ``h = 0 ... 99`` (``h = 0`` is F0 itself) the
expected bin is the bin nearest to ``(h+1) F0``; the spectral peak (strict local maximum)
nearest to it within the bins nearest to ``(h+0.5) F0`` and ``(h+1.5) F0`` is taken
(ties go to the higher bin); peaks below the bin of ``F0/2`` or in the last bin are
rejected. A parabola through the peak and its two neighbours gives the interpolated
frequency and magnitude. Harmonic magnitudes relative to F0's (non-interpolated) peak in
dB, ``20 log10(A_h / A_0)``, floored at -200 dB (-201 when F0's peak is missing or a
harmonic lands on the same bin as the previous one).

Outputs (openSMILE names, raw per frame, before ``sma3nz``):

- ``logRelF0-H1-H2``: level of harmonic 1 minus level of harmonic 2 (openSMILE numbers
  F0 as H0, so these are the 2nd and 3rd partials), clipped to +-201 dB.
- ``logRelF0-H1-A3``: level of harmonic 1 minus ``A3``, the level of the strongest
  harmonic within [0.8 F3, 1.2 F3] (``harmonic 1 - 201`` when there is none).
- ``F{1,2,3}amplitudeLogRelF0``: level of the strongest harmonic within
  [0.8 Fi, 1.2 Fi], 0 when there is none.
- ``HNRdBACF``: ``10 log10(r[T0] / (r[0] - r[T0]))`` from the autocorrelation ``r`` (inverse
  FFT of the power spectrum) at the peak nearest to lag ``floor(16000 / F0)``, limited to
  [-90, 110] dB.

Unvoiced frames (F0 == 0) give 0 for ``HNRdBACF`` and both ``logRelF0-H1-*`` and -201 for
the three ``F*amplitudeLogRelF0`` (openSMILE's values before smoothing).

Per-frame (no state), vectorised over frames and harmonics; the only loop over harmonics
is the duplicate-bin rule (100 steps, each over all voiced frames).
"""

from __future__ import annotations

import numpy as np

from streamer.features.lld.framing import SAMPLE_RATE_HZ
from streamer.features.lld.pitch import FFT_LENGTH, N_BINS

BIN_HZ = SAMPLE_RATE_HZ / FFT_LENGTH
N_HARMONICS = 100
FLOOR_DB = -200.0
UNVOICED_LOG_REL = -201.0
_F32 = np.float32

_BIN_FREQS = np.arange(N_BINS) * BIN_HZ


def _nearest_bin(freq: np.ndarray) -> np.ndarray:
    """Bin nearest to ``freq`` (Hz; ties to the upper bin), 0 at or above Nyquist."""
    freq = np.asarray(freq, dtype=np.float64)
    upper = np.searchsorted(_BIN_FREQS, freq, side="right")
    beyond = upper >= N_BINS
    upper = np.clip(upper, 1, N_BINS - 1)
    lower_is_nearer = (_BIN_FREQS[upper] - freq) > (freq - _BIN_FREQS[upper - 1])
    return np.where(beyond, 0, np.where(lower_is_nearer, upper - 1, upper))


def _peak_mask(values: np.ndarray) -> np.ndarray:
    """openSMILE's ``isPeak`` for every bin: strict local maximum (one-sided at the ends)."""
    mask = np.zeros(values.shape, dtype=bool)
    mask[:, 1:-1] = (values[:, 1:-1] > values[:, :-2]) & (values[:, 1:-1] > values[:, 2:])
    mask[:, 0] = values[:, 0] > values[:, 1]
    mask[:, -1] = values[:, -1] > values[:, -2]
    return mask


def _neighbour_peaks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each bin b: first peak > b and last peak < b (sentinels n_bins+big and -big)."""
    n_frames, n_bins = mask.shape
    big = 10 * n_bins
    index = np.arange(n_bins, dtype=np.int16)
    sentinel_after = np.int16(n_bins + big)
    at_or_after = np.minimum.accumulate(
        np.where(mask[:, ::-1], index[::-1], sentinel_after), axis=1
    )
    at_or_before = np.maximum.accumulate(np.where(mask, index, np.int16(-big)), axis=1)
    after = np.empty((n_frames, n_bins + 1), dtype=np.int16)
    after[:, -1] = sentinel_after
    after[:, :-1] = at_or_after[:, ::-1]
    before = np.empty((n_frames, n_bins + 1), dtype=np.int16)
    before[:, 0] = -big
    before[:, 1:] = at_or_before
    # after[:, b + 1] is the first peak > b, before[:, b] the last peak < b
    return after[:, 1:], before[:, :-1]


def _parabola_peak(mags: np.ndarray, peak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex (frequency Hz, magnitude) of the parabola through a peak bin and its neighbours."""
    left = np.take_along_axis(mags, peak - 1, axis=1).astype(np.float64)
    centre = np.take_along_axis(mags, peak, axis=1).astype(np.float64)
    right = np.take_along_axis(mags, peak + 1, axis=1).astype(np.float64)
    curvature = left - 2.0 * centre + right
    slope = left - right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature != 0.0, 0.5 * slope / curvature, 0.0)
        height = np.where(curvature != 0.0, centre - slope * slope / (8.0 * curvature), centre)
    return ((peak + offset) * BIN_HZ).astype(_F32), height.astype(_F32)


def _harmonic_levels(mags: np.ndarray, f0: np.ndarray):
    """Harmonic peaks of voiced frames.

    Returns magnitudes (float32, peak bin value), interpolated frequencies (float32, Hz)
    and levels relative to F0 (float32, dB), each of shape (n_voiced, 100).
    """
    number = np.arange(N_HARMONICS, dtype=_F32)
    f0 = f0[:, None]
    expected = _nearest_bin((number + _F32(1.0)) * f0)
    lowest = _nearest_bin((number + _F32(0.5)) * f0)
    highest = _nearest_bin((number + _F32(1.5)) * f0)
    first_bin = _nearest_bin(_F32(0.5) * f0)

    peaks = _peak_mask(mags)
    after, before = _neighbour_peaks(peaks)
    right = np.take_along_axis(after, expected, axis=1)
    left = np.take_along_axis(before, expected, axis=1)
    right_ok = right <= highest
    left_ok = left >= lowest
    take_right = right_ok & (~left_ok | (right - expected <= expected - left))
    peak = np.where(take_right, right, np.where(left_ok, left, -1))
    peak = np.where(np.take_along_axis(peaks, expected, axis=1), expected, peak)
    valid = (peak >= first_bin) & (peak >= 1) & (peak < N_BINS - 1)

    safe_peak = np.where(valid, peak, 1)
    magnitude = np.where(valid, np.take_along_axis(mags, safe_peak, axis=1), _F32(0.0))
    frequency, height = _parabola_peak(mags, safe_peak)
    frequency = np.where(valid, frequency, _F32(0.0))
    height = np.where(valid, height, _F32(0.0))
    bins = np.where(valid, peak, expected)

    f0_magnitude = magnitude[:, :1].astype(np.float64)
    have_f0 = f0_magnitude != 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f0 = np.log10(f0_magnitude).astype(_F32).astype(np.float64)
        level = (20.0 * (np.log10(height.astype(np.float64)) - log_f0)).astype(_F32)
    level = np.where((height > 0.0) & (level >= FLOOR_DB), level, _F32(FLOOR_DB))
    level = np.where(have_f0, level, _F32(UNVOICED_LOG_REL))
    level[:, 0] = 0.0

    previous = bins[:, 0].copy()
    for h in range(1, N_HARMONICS):
        duplicate = bins[:, h] == previous
        previous = np.where(duplicate, 0, bins[:, h])
        magnitude[:, h] = np.where(duplicate, _F32(0.0), magnitude[:, h])
        frequency[:, h] = np.where(duplicate, _F32(0.0), frequency[:, h])
        level[:, h] = np.where(duplicate, _F32(UNVOICED_LOG_REL), level[:, h])
    return magnitude, frequency, level


def _formant_harmonic(magnitude, frequency, formant_hz) -> np.ndarray:
    """Index of the strongest harmonic within [0.8 F, 1.2 F] per frame, -1 if none."""
    formant_hz = np.asarray(formant_hz, dtype=_F32)[:, None]
    inside = (frequency >= _F32(0.8) * formant_hz) & (frequency <= _F32(1.2) * formant_hz)
    candidates = np.where(inside & (magnitude > 0.0), magnitude, _F32(-1.0))
    best = np.argmax(candidates, axis=1)
    return np.where(np.take_along_axis(candidates, best[:, None], 1)[:, 0] > 0.0, best, -1)


def _acf_hnr_db(mags: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """HNR (dB) from the power-spectrum autocorrelation at the peak nearest to 1/F0."""
    n_frames = mags.shape[0]
    power = mags.astype(np.float64) ** 2
    acf = np.abs(np.fft.irfft(power, FFT_LENGTH, axis=1)[:, :N_BINS])
    lag = np.floor(SAMPLE_RATE_HZ / f0.astype(np.float64)).astype(np.int64)
    lag = np.clip(lag, 0, N_BINS - 1)
    rows = np.arange(n_frames)

    interior = np.zeros_like(acf, dtype=bool)
    interior[:, 1:-1] = (acf[:, 1:-1] > acf[:, :-2]) & (acf[:, 1:-1] > acf[:, 2:])
    after, before = _neighbour_peaks(interior)
    right = after[rows, lag]
    left = before[rows, lag]
    left_ok = left >= 1
    right_ok = right <= N_BINS - 2
    take_left = left_ok & (~right_ok | (lag - left <= right - lag))
    refined = np.where(take_left, left, np.where(right_ok, right, -1))
    refined = np.where(_peak_mask(acf)[rows, lag], lag, refined)

    # no interior peak at all: openSMILE falls back to an end of the ACF or the lag itself
    at_lag = acf[rows, lag]
    first_higher = acf[:, 0] > at_lag
    last_higher = acf[:, -1] > at_lag
    fallback = np.where(
        first_higher & ~last_higher,
        0,
        np.where(
            ~first_higher & last_higher,
            N_BINS - 1,
            np.where(first_higher & last_higher, np.where(lag < N_BINS // 2, 0, N_BINS - 1), lag),
        ),
    )
    refined = np.where(refined < 0, fallback, refined)
    refined = np.where(lag > 0, refined, 0)

    harmonic = acf[rows, refined].astype(_F32).astype(np.float64)
    total = acf[:, 0].astype(_F32).astype(np.float64)
    noise = total - harmonic
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(noise == 0.0, 1e11, harmonic / np.where(noise == 0.0, 1.0, noise))
        hnr = np.where(ratio > 1e11, 110.0, np.where(ratio < 1e-9, -90.0, 10.0 * np.log10(ratio)))
    return np.where(refined > 0, hnr, 0.0).astype(_F32)


def harmonic_descriptors(
    magnitudes: np.ndarray, f0_hz: np.ndarray, formant_freqs: np.ndarray
) -> dict[str, np.ndarray]:
    """eGeMAPS v01a harmonic descriptors (raw per frame, before ``sma3nz``).

    Parameters
    ----------
    magnitudes : ndarray, shape (n_frames, 513)
        Magnitude spectra of the Gaussian-windowed 60 ms frames
        (:func:`streamer.features.lld.pitch.gaussian_spectrum60`).
    f0_hz : ndarray, shape (n_frames,)
        Final F0 in Hz, 0 for unvoiced frames.
    formant_freqs : ndarray, shape (n_frames, >= 3)
        LPC formant frequencies in Hz (``formantFreqLpc`` of
        :func:`streamer.features.lld.formants.formant_descriptors`).

    Returns
    -------
    dict of ndarray (n_frames,), float64
        ``HNRdBACF`` (dB), ``logRelF0-H1-H2``, ``logRelF0-H1-A3``, ``F1amplitudeLogRelF0``,
        ``F2amplitudeLogRelF0``, ``F3amplitudeLogRelF0`` (dB).
    """
    magnitudes = np.asarray(magnitudes, dtype=_F32).reshape(-1, N_BINS)
    f0 = np.asarray(f0_hz, dtype=_F32).reshape(-1)
    formant_freqs = np.asarray(formant_freqs).reshape(f0.shape[0], -1)
    n_frames = f0.shape[0]
    voiced = f0 > 0.0

    hnr = np.zeros(n_frames, dtype=_F32)
    h1_h2 = np.zeros(n_frames, dtype=_F32)
    h1_a3 = np.zeros(n_frames, dtype=_F32)
    amplitudes = np.full((n_frames, 3), _F32(UNVOICED_LOG_REL))
    if voiced.any():
        mags = magnitudes[voiced]
        f0v = f0[voiced]
        hnr[voiced] = _acf_hnr_db(mags, f0v)
        magnitude, frequency, level = _harmonic_levels(mags, f0v)
        rows = np.arange(mags.shape[0])
        strongest = [
            _formant_harmonic(magnitude, frequency, formant_freqs[voiced, k]) for k in range(3)
        ]
        for k in range(3):
            amplitudes[voiced, k] = np.where(
                strongest[k] >= 0, level[rows, np.maximum(strongest[k], 0)], _F32(0.0)
            )
        h1_h2[voiced] = np.clip(level[:, 1] - level[:, 2], -201.0, 201.0)
        a3 = strongest[2]
        with_a3 = level[:, 1] - level[rows, np.maximum(a3, 0)]
        without_a3 = level[:, 1] - _F32(201.0)
        h1_a3[voiced] = np.clip(np.where(a3 >= 0, with_a3, without_a3), -201.0, 201.0)

    return {
        "HNRdBACF": hnr.astype(np.float64),
        "logRelF0-H1-H2": h1_h2.astype(np.float64),
        "logRelF0-H1-A3": h1_a3.astype(np.float64),
        "F1amplitudeLogRelF0": amplitudes[:, 0].astype(np.float64),
        "F2amplitudeLogRelF0": amplitudes[:, 1].astype(np.float64),
        "F3amplitudeLogRelF0": amplitudes[:, 2].astype(np.float64),
    }
