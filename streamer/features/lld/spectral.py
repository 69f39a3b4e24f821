"""Spectral eGeMAPS v01a descriptors computed from the 20 ms Hamming-windowed frames.

Reimplements, from the openSMILE component documentation and configuration, the
descriptors that eGeMAPS v01a derives from ``gemapsv01a_fftmagH25``:

* ``Loudness``: 26-band mel power spectrum (20-8000 Hz), equal-loudness weighting,
  intensity-to-loudness compression (power 0.33), mean over the bands
  (cMelspec + cPlp + cVectorOperation ``ll1``).
* ``alphaRatio``, ``hammarbergIndex`` (dB) and the log-spectral slopes ``slope0-500``,
  ``slope500-1500`` (dB/Hz) of the power spectrum (cSpectral, 0-5 kHz).
* ``spectralFlux``: root mean square change of the (unnormalised) magnitude spectrum,
  bins below 5 kHz, between consecutive frames; 0 for the first frame of a stream. The
  previous frame's spectrum is carried in an explicit state.
* ``mfcc1`` .. ``mfcc4``: HTK-style MFCC (sample scale 32767, mel floor 1, lifter 22).

All functions return RAW per-frame values (before the ``sma3`` smoothing). Every step
works row by row (no BLAS matrix products, no loop over frames), so results are bitwise
independent of how the stream is cut into batches.

Note: openSMILE converts its input to 16-bit integers by truncation (with wrap-around
for |x| > 1) before framing; the caller should do the same to match it on quiet frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from streamer.features.lld.framing import FRAME20, SAMPLE_RATE_HZ

FFT_SIZE = 512  # openSMILE pads each frame with zeros to the next power of two
BIN_SPACING_HZ = SAMPLE_RATE_HZ / FFT_SIZE  # 31.25 Hz
N_BINS = FFT_SIZE // 2 + 1

N_MEL_BANDS = 26
MEL_LOW_HZ = 20.0
MEL_HIGH_HZ = 8000.0
LOUDNESS_MEL_FLOOR = 9.3e-10  # cPlp default melfloor
LOUDNESS_COMPRESSION = 0.33
HTK_SAMPLE_SCALE = 32767.0
N_MFCC = 4
CEPSTRAL_LIFTER = 22.0

SPECTRAL_RANGE_HZ = 5000.0
POWER_FLOOR = 1e-14  # cSpectral specFloor (1e-7) squared
LOG_POWER_FLOOR_DB = -140.0  # 10 * log10(POWER_FLOOR)
SLOPE_BANDS_HZ = {"slope0-500": (0.0, 500.0), "slope500-1500": (500.0, 1500.0)}

DESCRIPTOR_NAMES = (
    "Loudness",
    "alphaRatio",
    "hammarbergIndex",
    "slope0-500",
    "slope500-1500",
    "spectralFlux",
    "mfcc1",
    "mfcc2",
    "mfcc3",
    "mfcc4",
)


def _hz_to_mel(freq_hz: np.ndarray) -> np.ndarray:
    """Mel scale 1127 ln(1 + f / 700) (0 for f <= 0)."""
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    return np.where(freq_hz > 0.0, 1127.0 * np.log1p(np.maximum(freq_hz, 0.0) / 700.0), 0.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_hz_to_mel`."""
    return 700.0 * (np.exp(np.asarray(mel, dtype=np.float64) / 1127.0) - 1.0)


def _equal_loudness_weight(freq_hz: np.ndarray) -> np.ndarray:
    """Hermansky (1990) equal-loudness curve as scaled in openSMILE's PLP (max about 1)."""
    omega_sq = (2.0 * np.pi * np.asarray(freq_hz, dtype=np.float64)) ** 2
    numerator = 1e32 * (omega_sq + 56.8e6) * omega_sq**2
    denominator = (omega_sq + 6.3e6) ** 2 * (omega_sq + 0.38e9) * (omega_sq**3.5 + 1.7e31)
    return numerator / denominator


@dataclass(frozen=True)
class _MelBand:
    """One triangular band as a contiguous run of FFT bins and their weights."""

    first_bin: int
    weights: np.ndarray


@dataclass(frozen=True)
class _Tables:
    """Precomputed window, filterbank and transform tables."""

    window: np.ndarray
    mel_bands: tuple[_MelBand, ...]
    loudness_weights: np.ndarray  # (26,) equal-loudness weight at band centres
    dct_basis: np.ndarray  # (4, 26) DCT-II rows for mfcc1..4, lifter and scale folded in
    slope_bins: dict[str, tuple[int, int]]  # inclusive bin range per slope band
    slope_freqs: dict[str, np.ndarray]
    n_range_bins: int  # bins below SPECTRAL_RANGE_HZ (flux range)
    n_bins_upto_range: int  # bins at or below SPECTRAL_RANGE_HZ (alpha/hammarberg)
    alpha_split_bin: int  # first bin >= 1000 Hz
    hammarberg_split_bin: int  # first bin >= 2000 Hz


def _mel_filterbank() -> tuple[tuple[_MelBand, ...], np.ndarray]:
    """Triangular mel filters as openSMILE's cMelspec builds them for a 512-point FFT.

    Band edges are equidistant in mel between 20 and 8000 Hz; FFT bins strictly between
    round(20 / 31.25) and round(8000 / 31.25) contribute, each split between the two
    bands whose centres enclose it.

    Returns
    -------
    bands : tuple of _MelBand
        Per band, its first FFT bin and the weights of its contiguous bins.
    centres_hz : ndarray, shape (26,)
        Centre frequency of each band in Hz.
    """
    low_mel = _hz_to_mel(MEL_LOW_HZ)
    high_mel = _hz_to_mel(MEL_HIGH_HZ)
    spacing = (high_mel - low_mel) / (N_MEL_BANDS + 1)
    edges_mel = low_mel + spacing * np.arange(N_MEL_BANDS + 2)
    lowest_bin = int(round(MEL_LOW_HZ / BIN_SPACING_HZ))
    highest_bin = int(round(MEL_HIGH_HZ / BIN_SPACING_HZ))
    weights = np.zeros((N_MEL_BANDS, N_BINS))
    for fft_bin in range(lowest_bin + 1, highest_bin):
        bin_mel = _hz_to_mel(fft_bin * BIN_SPACING_HZ)
        upper_edge = int(np.searchsorted(edges_mel, bin_mel, side="left"))
        falling = (edges_mel[upper_edge] - bin_mel) / (
            edges_mel[upper_edge] - edges_mel[upper_edge - 1]
        )
        band = upper_edge - 2
        if band >= 0:
            weights[band, fft_bin] += falling
        if band + 1 < N_MEL_BANDS:
            weights[band + 1, fft_bin] += 1.0 - falling
    bands = []
    for band_weights in weights:
        nonzero = np.flatnonzero(band_weights)
        first, last = int(nonzero[0]), int(nonzero[-1])
        bands.append(_MelBand(first, band_weights[first : last + 1].copy()))
    return tuple(bands), _mel_to_hz(edges_mel[1:-1])


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Build (once) every constant table used by :func:`spectral_descriptors`."""
    n = np.arange(FRAME20)
    window = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / (FRAME20 - 1))
    mel_bands, centres_hz = _mel_filterbank()
    order = np.arange(1, N_MFCC + 1)[:, None]
    band_index = np.arange(N_MEL_BANDS)[None, :]
    lifter = 1.0 + CEPSTRAL_LIFTER / 2.0 * np.sin(np.pi * order / CEPSTRAL_LIFTER)
    dct_basis = (
        np.cos(np.pi * order / N_MEL_BANDS * (band_index + 0.5))
        * lifter
        * np.sqrt(2.0 / N_MEL_BANDS)
    )
    bin_freqs = np.arange(N_BINS) * BIN_SPACING_HZ
    slope_bins = {}
    slope_freqs = {}
    for name, (low_hz, high_hz) in SLOPE_BANDS_HZ.items():
        # bins are aligned with the 500 Hz / 1500 Hz limits, so openSMILE's boundary
        # weights are 1 and the range is simply inclusive of both limit bins
        first = int(np.floor(low_hz / BIN_SPACING_HZ))
        last = int(np.floor(high_hz / BIN_SPACING_HZ))
        slope_bins[name] = (first, last)
        slope_freqs[name] = bin_freqs[first : last + 1]
    return _Tables(
        window=window,
        mel_bands=mel_bands,
        loudness_weights=_equal_loudness_weight(centres_hz),
        dct_basis=dct_basis,
        slope_bins=slope_bins,
        slope_freqs=slope_freqs,
        n_range_bins=int(np.count_nonzero(bin_freqs < SPECTRAL_RANGE_HZ)),
        n_bins_upto_range=int(np.count_nonzero(bin_freqs <= SPECTRAL_RANGE_HZ)),
        alpha_split_bin=int(np.count_nonzero(bin_freqs < 1000.0)),
        hammarberg_split_bin=int(np.count_nonzero(bin_freqs < 2000.0)),
    )


@dataclass(frozen=True)
class SpectralState:
    """State carried between batches: magnitude spectrum (0-5 kHz) of the last frame."""

    previous_magnitude: np.ndarray


def hamming_spectrum(frames20: np.ndarray) -> np.ndarray:
    """Hamming-window the 20 ms frames and return their 512-point FFT (the formants use it too).

    Parameters
    ----------
    frames20 : ndarray, shape (n_frames, 320)
        Raw 20 ms frames, samples in [-1, 1].

    Returns
    -------
    ndarray of complex, shape (n_frames, 257)
        Unnormalised spectrum X(k), k = 0..256 (31.25 Hz spacing).
    """
    frames20 = np.asarray(frames20, dtype=np.float64)
    return np.fft.rfft(frames20 * _tables().window, n=FFT_SIZE, axis=-1)


def _mel_power(power: np.ndarray) -> np.ndarray:
    """26-band mel power spectrum, shape (n_frames, 26) (row-wise sums only)."""
    tables = _tables()
    mel = np.empty((power.shape[0], N_MEL_BANDS))
    for band_index, band in enumerate(tables.mel_bands):
        stop = band.first_bin + band.weights.size
        mel[:, band_index] = (power[:, band.first_bin : stop] * band.weights).sum(axis=-1)
    return mel


def _loudness(mel: np.ndarray) -> np.ndarray:
    """Mean over bands of equal-loudness weighted, 0.33-compressed band powers."""
    weighted = np.maximum(mel, LOUDNESS_MEL_FLOOR) * _tables().loudness_weights
    return (weighted**LOUDNESS_COMPRESSION).sum(axis=-1) / N_MEL_BANDS


def _mfcc(mel: np.ndarray) -> np.ndarray:
    """HTK-compatible MFCC 1..4 from the mel power spectrum, shape (n_frames, 4)."""
    log_mel = np.log(np.maximum(mel * HTK_SAMPLE_SCALE**2, 1.0))
    return (log_mel[:, None, :] * _tables().dct_basis[None, :, :]).sum(axis=-1)


def _ratio_db(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """10 log10(numerator / denominator) with openSMILE's floors (0 if denominator is 0)."""
    safe_denominator = np.where(denominator > 0.0, denominator, 1.0)
    floored = np.where(numerator > POWER_FLOOR, numerator, POWER_FLOOR)
    return np.where(denominator > 0.0, 10.0 * np.log10(floored / safe_denominator), 0.0)


def _log_spectral_slope(log_power: np.ndarray, name: str) -> np.ndarray:
    """Regression slope (dB/Hz) of the log power spectrum over one band.

    openSMILE sums over the inclusive bin range but uses the bin distance (one less than
    the number of points) as the count in the least-squares formula; this is kept.
    """
    tables = _tables()
    first, last = tables.slope_bins[name]
    freqs = tables.slope_freqs[name]
    count = float(last - first)
    sum_f = freqs.sum()
    sum_f2 = (freqs * freqs).sum()
    band = log_power[:, first : last + 1]
    sum_fy = (band * freqs).sum(axis=-1)
    sum_y = band.sum(axis=-1)
    denominator = count * sum_f2 - sum_f * sum_f
    if denominator == 0.0:
        return np.zeros(log_power.shape[0])
    return (count * sum_fy - sum_f * sum_y) / denominator


def _spectral_flux(
    magnitude: np.ndarray, state: SpectralState | None
) -> tuple[np.ndarray, SpectralState | None]:
    """RMS difference of consecutive magnitude spectra (0-5 kHz); 0 at stream start."""
    n_frames = magnitude.shape[0]
    if n_frames == 0:
        return np.zeros(0), state
    current = magnitude[:, : _tables().n_range_bins]
    previous = np.empty_like(current)
    previous[1:] = current[:-1]
    previous[0] = current[0] if state is None else state.previous_magnitude
    difference = current - previous
    flux = np.sqrt((difference * difference).sum(axis=-1) / current.shape[1])
    return flux, SpectralState(previous_magnitude=current[-1].copy())


def spectral_descriptors(
    magnitude: np.ndarray, state: SpectralState | None = None
) -> tuple[dict[str, np.ndarray], SpectralState | None]:
    """Compute the raw (unsmoothed) spectral eGeMAPS descriptors of 20 ms frames.

    Parameters
    ----------
    magnitude : ndarray, shape (n_frames, 257)
        ``abs`` of :func:`hamming_spectrum` of consecutive 20 ms frames (10 ms hop).
    state : SpectralState or None
        State returned by the previous call; None at the start of a stream.

    Returns
    -------
    descriptors : dict of str to ndarray, shape (n_frames,)
        ``Loudness`` (sone-like, unitless), ``alphaRatio`` and ``hammarbergIndex`` (dB),
        ``slope0-500`` and ``slope500-1500`` (dB/Hz), ``spectralFlux`` (linear magnitude),
        ``mfcc1`` .. ``mfcc4`` (HTK scale).
    state : SpectralState or None
        State to pass with the next batch (unchanged if the batch is empty).
    """
    tables = _tables()
    power = magnitude * magnitude

    mel = _mel_power(power)
    descriptors = {"Loudness": _loudness(mel)}

    in_range = power[:, : tables.n_bins_upto_range]
    below_1k = in_range[:, : tables.alpha_split_bin].sum(axis=-1)
    above_1k = in_range[:, tables.alpha_split_bin :].sum(axis=-1)
    descriptors["alphaRatio"] = _ratio_db(above_1k, below_1k)
    peak_below_2k = in_range[:, : tables.hammarberg_split_bin].max(axis=-1, initial=0.0)
    peak_above_2k = in_range[:, tables.hammarberg_split_bin :].max(axis=-1, initial=0.0)
    descriptors["hammarbergIndex"] = _ratio_db(peak_below_2k, peak_above_2k)

    log_power = np.full(power.shape, LOG_POWER_FLOOR_DB)
    audible = power > POWER_FLOOR
    log_power[audible] = 10.0 * np.log10(power[audible])
    for name in SLOPE_BANDS_HZ:
        descriptors[name] = _log_spectral_slope(log_power, name)

    descriptors["spectralFlux"], state = _spectral_flux(magnitude, state)

    mfcc = _mfcc(mel)
    for order in range(N_MFCC):
        descriptors[f"mfcc{order + 1}"] = mfcc[:, order]
    return descriptors, state
