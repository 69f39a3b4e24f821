"""LPC formants of eGeMAPS v01a (openSMILE ``cSpecResample`` -> ``cLpc`` -> ``cFormantLpc``).

Per 20 ms frame (320 samples at 16 kHz):

1. Hamming window, zero-pad to 512 points, FFT.
2. Spectral resampling to 11 kHz: the bins below ``kMax = 220`` of the 512-point
   spectrum (0 ... 3.4 kHz) are summed back into 220 time samples with a 352-point
   inverse DFT, as openSMILE does (DC weighted like every other bin, divided by 256).
3. Autocorrelation LPC of order 11 (Levinson-Durbin). openSMILE runs this step in
   single precision; the problem is badly conditioned (the 3.4-5.5 kHz band of the
   resampled signal is empty), so it is emulated here in float32 with the same
   summation order, which tracks openSMILE much more closely than float64 would.
4. Roots of ``z^11 - a1 z^10 - ... - a11`` (openSMILE's polynomial, sign included),
   reflected into the unit circle; each root with non-negative imaginary part gives
   a formant ``f = |arg z| fs / 2 pi`` kept when 50 <= f <= 5500 Hz, bandwidth
   ``-ln|z| fs / pi``. Up to 5 formants, ascending; missing ones are 0.
   Note: the predictor polynomial proper is ``z^11 + a1 z^10 + ...``; openSMILE's sign
   flip makes its "formants" differ from the true resonances (a synthetic vowel with
   resonances at 700/1200/2600 Hz gives 512/1429/2618 Hz and a 1.4 kHz F1 bandwidth in
   openSMILE and here). It is reproduced on purpose.

Everything is per frame (no state) and vectorised over frames; the Python loops run over
the 220 samples and the 11 LPC orders, never over frames.
"""

from __future__ import annotations

import numpy as np

from streamer.features.lld.spectral import FFT_SIZE

TARGET_RATE_HZ = 11000.0
RESAMPLED_LENGTH = 220  # round(512 * 11/16 * 320/512)
RESAMPLE_PERIOD = 352.0  # 512 * 11/16: denominator of the inverse DFT phases
RESAMPLE_BINS = 110  # kMax / 2: complex bins 0 ... 109 are used
LPC_ORDER = 11
N_FORMANTS = 5
MIN_FORMANT_HZ = 50.0
MAX_FORMANT_HZ = 5500.0


def resample_spectrum(spectrum: np.ndarray) -> np.ndarray:
    """openSMILE's spectral resampling of a 16 kHz frame spectrum to 220 samples at 11 kHz.

    ``y[t] = (X[0] + sum_{k=1}^{109} Re(X[k] exp(2j pi k t / 352))) / 256``, computed as a
    352-point inverse real FFT.

    Parameters
    ----------
    spectrum : ndarray of complex, shape (n_frames, >= 110)
        The 20 ms frames' spectra, :func:`streamer.features.lld.spectral.hamming_spectrum`.

    Returns
    -------
    ndarray of float32, shape (n_frames, 220)
    """
    half = np.zeros((spectrum.shape[0], int(RESAMPLE_PERIOD) // 2 + 1), dtype=np.complex128)
    half[:, 0] = spectrum[:, 0].real
    half[:, 1:RESAMPLE_BINS] = 0.5 * spectrum[:, 1:RESAMPLE_BINS]
    signal = np.fft.irfft(half, int(RESAMPLE_PERIOD), axis=1)[:, :RESAMPLED_LENGTH]
    signal *= RESAMPLE_PERIOD / (FFT_SIZE / 2)
    return signal.astype(np.float32)


def lpc_float32(signal: np.ndarray, order: int = LPC_ORDER) -> np.ndarray:
    """Autocorrelation-method LPC in single precision (openSMILE ``cLpc``, method ``acf``).

    The autocorrelation is accumulated sequentially in float32 and the Levinson-Durbin
    recursion runs in float32, in openSMILE's operation order.

    Parameters
    ----------
    signal : ndarray of float32, shape (n_frames, n_samples)
    order : int

    Returns
    -------
    ndarray of float32, shape (n_frames, order)
        Coefficients ``a`` of ``A(z) = 1 + sum_i a[i] z^-(i+1)``; all 0 for a silent frame.
    """
    f32 = np.float32
    signal = np.asarray(signal, dtype=f32)
    n_frames, n_samples = signal.shape
    # acf[lag] += x[i] * x[i - lag], i ascending, as one loop over i on a (lag, frame) array
    by_time = np.zeros((n_samples + order, n_frames), dtype=f32)
    by_time[order:] = signal.T
    acf_by_lag = np.zeros((order + 1, n_frames), dtype=f32)
    for i in range(n_samples):
        acf_by_lag += by_time[order + i] * by_time[i : order + i + 1][::-1]
    acf = acf_by_lag.T

    coeffs = np.zeros((n_frames, order), dtype=f32)
    error = acf[:, 0].copy()
    active = error != 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for m in range(1, order + 1):
            acc = acf[:, m].copy()
            for i in range(1, m):
                acc = acc + coeffs[:, i - 1] * acf[:, m - i]
            reflection = (f32(-1.0) / error) * acc
            updated = coeffs.copy()
            updated[:, m - 1] = reflection
            for i in range(1, m // 2 + 1):
                low = coeffs[:, i - 1]
                updated[:, i - 1] = low + reflection * coeffs[:, m - i - 1]
                if i < m // 2 or m % 2 == 1:
                    updated[:, m - i - 1] = coeffs[:, m - i - 1] + reflection * low
            coeffs = np.where(active[:, None], updated, coeffs)
            error = np.where(active, error * (f32(1.0) - reflection * reflection), error)
            active &= error != 0.0
    return coeffs


def lpc_roots(coeffs: np.ndarray) -> np.ndarray:
    """Roots of openSMILE's formant polynomial ``z^p - a[0] z^(p-1) - ... - a[p-1]``.

    Batched eigenvalues of companion matrices (LAPACK per matrix: batch-invariant).

    Parameters
    ----------
    coeffs : ndarray, shape (n_frames, p)

    Returns
    -------
    ndarray of complex128, shape (n_frames, p)
        All zero for frames whose coefficients are not finite.
    """
    coeffs = np.asarray(coeffs, dtype=np.float64)
    n_frames, order = coeffs.shape
    # a numerically broken frame (non-finite coefficients) gets no formants instead of an error
    coeffs = np.where(np.isfinite(coeffs).all(axis=1, keepdims=True), coeffs, 0.0)
    companion = np.zeros((n_frames, order, order))
    companion[:, 0, :] = coeffs
    companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    return np.linalg.eigvals(companion)


def roots_to_formants(
    roots: np.ndarray, sample_rate_hz: float = TARGET_RATE_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Formant frequencies and bandwidths (Hz) from LPC polynomial roots.

    Parameters
    ----------
    roots : ndarray of complex, shape (n_frames, p)
    sample_rate_hz : float

    Returns
    -------
    frequencies, bandwidths : ndarray, shape (n_frames, 5)
        Ascending formant frequencies and their bandwidths; 0 where fewer are found.
    """
    outside = np.abs(roots) > 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = np.where(outside, 1.0 / np.conj(roots), roots)
    period = 1.0 / sample_rate_hz
    freq = np.abs(np.arctan2(roots.imag, roots.real)) / (period * np.pi * 2.0)
    valid = (roots.imag >= 0.0) & (freq >= MIN_FORMANT_HZ) & (freq <= MAX_FORMANT_HZ)
    with np.errstate(divide="ignore"):
        bandwidth = -np.log(np.abs(roots)) / (period * np.pi)
    order = np.argsort(np.where(valid, freq, np.inf), axis=1, kind="stable")[:, :N_FORMANTS]
    keep = np.take_along_axis(valid, order, axis=1)
    frequencies = np.where(keep, np.take_along_axis(freq, order, axis=1), 0.0)
    bandwidths = np.where(keep, np.take_along_axis(bandwidth, order, axis=1), 0.0)
    return frequencies.astype(np.float32), bandwidths.astype(np.float32)


def formant_descriptors(spectrum20: np.ndarray) -> dict[str, np.ndarray]:
    """eGeMAPS v01a LPC formants of 20 ms frames (output for every frame).

    Parameters
    ----------
    spectrum20 : ndarray of complex, shape (n_frames, 257)
        512-point spectra of the Hamming-windowed 20 ms frames
        (:func:`streamer.features.lld.spectral.hamming_spectrum`).

    Returns
    -------
    dict
        ``F1frequency``, ``F1bandwidth``, ``F2frequency``, ``F2bandwidth``, ``F3frequency``,
        ``F3bandwidth`` (Hz, shape (n_frames,), float64) and ``formantFreqLpc`` /
        ``formantBandwidthLpc`` (Hz, shape (n_frames, 5)) for :mod:`harmonics`.
    """
    coeffs = lpc_float32(resample_spectrum(spectrum20))
    frequencies, bandwidths = roots_to_formants(lpc_roots(coeffs))
    out: dict[str, np.ndarray] = {}
    for i in range(3):
        out[f"F{i + 1}frequency"] = frequencies[:, i].astype(np.float64)
        out[f"F{i + 1}bandwidth"] = bandwidths[:, i].astype(np.float64)
    out["formantFreqLpc"] = frequencies
    out["formantBandwidthLpc"] = bandwidths
    return out
