"""Tests for the LPC formants and the F0-harmonic descriptors (eGeMAPS v01a)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from streamer.features.lld.formants import (
    formant_descriptors,
    lpc_float32,
    lpc_roots,
    resample_spectrum,
    roots_to_formants,
)
from streamer.features.lld.harmonics import harmonic_descriptors
from streamer.features.lld.pitch import gaussian_spectrum60
from streamer.features.lld.spectral import hamming_spectrum

RATE = 16000
HOP = 160
FORMANT_KEYS = ["F1frequency", "F1bandwidth", "F2frequency", "F3frequency"]
HARMONIC_KEYS = [
    "logRelF0-H1-H2",
    "logRelF0-H1-A3",
    "F1amplitudeLogRelF0",
    "F2amplitudeLogRelF0",
    "F3amplitudeLogRelF0",
    "HNRdBACF",
]


def cut_frames(signal: np.ndarray, length: int) -> np.ndarray:
    """Frames of ``length`` samples every 10 ms (only complete 60 ms frames are kept)."""
    n_frames = (len(signal) - 960) // HOP + 1
    starts = HOP * np.arange(n_frames)
    return signal[starts[:, None] + np.arange(length)[None, :]]


def vowel(f0_hz: float = 120.0, seconds: float = 1.0, formant_hz=(700.0, 1200.0, 2600.0)):
    """Glottal pulse train through three second-order resonators (a synthetic vowel)."""
    n = int(seconds * RATE)
    pulses = np.zeros(n)
    pulses[:: int(round(RATE / f0_hz))] = 1.0
    source = lfilter([1.0], [1.0, -0.95], pulses)  # spectral tilt of a glottal source
    out = source
    for centre, bandwidth in zip(formant_hz, (80.0, 90.0, 120.0), strict=True):
        radius = np.exp(-np.pi * bandwidth / RATE)
        theta = 2.0 * np.pi * centre / RATE
        out = lfilter([1.0 - radius], [1.0, -2.0 * radius * np.cos(theta), radius**2], out)
    return 0.5 * out / np.max(np.abs(out))


def all_outputs(frames20, frames60, f0_hz):
    found = formant_descriptors(hamming_spectrum(frames20))
    harm = harmonic_descriptors(gaussian_spectrum60(frames60)[0], f0_hz, found["formantFreqLpc"])
    return {**found, **harm}


@pytest.fixture(scope="module")
def speechlike():
    rng = np.random.default_rng(7)
    signal = np.concatenate(
        [vowel(110.0, 0.6), 0.05 * rng.standard_normal(RATE // 2), vowel(210.0, 0.5)]
    )
    frames20, frames60 = cut_frames(signal, 320), cut_frames(signal, 960)
    f0 = np.where(rng.random(len(frames60)) < 0.3, 0.0, rng.uniform(60.0, 400.0, len(frames60)))
    return frames20, frames60, f0


def test_batch_invariance_bitwise(speechlike):
    frames20, frames60, f0 = speechlike
    whole = all_outputs(frames20, frames60, f0)
    rng = np.random.default_rng(1)
    for _ in range(4):
        cuts = np.sort(rng.choice(np.arange(1, len(f0)), size=3, replace=False))
        bounds = [0, *cuts.tolist(), len(f0)]
        parts = [
            all_outputs(frames20[a:b], frames60[a:b], f0[a:b])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        for key, value in whole.items():
            joined = np.concatenate([part[key] for part in parts])
            assert np.array_equal(joined, value), key


def test_single_frame_calls_match(speechlike):
    frames20, frames60, f0 = speechlike
    whole = all_outputs(frames20[:20], frames60[:20], f0[:20])
    for i in range(20):
        one = all_outputs(frames20[i : i + 1], frames60[i : i + 1], f0[i : i + 1])
        for key in FORMANT_KEYS + HARMONIC_KEYS:
            assert np.array_equal(one[key], whole[key][i : i + 1]), key


@pytest.mark.parametrize("kind", ["silence", "square"])
def test_degenerate_inputs_are_finite(kind):
    t = np.arange(RATE) / RATE
    if kind == "silence":
        signal = np.zeros(RATE)
    else:
        signal = np.clip(4.0 * np.sign(np.sin(2 * np.pi * 150.0 * t)), -1.0, 1.0)
    frames20, frames60 = cut_frames(signal, 320), cut_frames(signal, 960)
    f0 = np.full(len(frames60), 150.0)
    f0[::3] = 0.0
    out = all_outputs(frames20, frames60, f0)
    for key in FORMANT_KEYS + HARMONIC_KEYS:
        assert out[key].shape == (len(frames60),)
        assert np.all(np.isfinite(out[key])), key
    unvoiced = f0 == 0.0
    assert np.all(out["HNRdBACF"][unvoiced] == 0.0)
    assert np.all(out["logRelF0-H1-H2"][unvoiced] == 0.0)
    assert np.all(out["logRelF0-H1-A3"][unvoiced] == 0.0)
    for k in (1, 2, 3):
        assert np.all(out[f"F{k}amplitudeLogRelF0"][unvoiced] == -201.0)
    if kind == "silence":
        for key in FORMANT_KEYS:
            assert np.all(out[key] == 0.0)


def test_synthetic_vowel_formants_and_harmonics():
    signal = vowel(120.0, 1.0)
    frames20, frames60 = cut_frames(signal, 320), cut_frames(signal, 960)
    # The LPC chain itself recovers the resonators when the roots of the true predictor
    # polynomial z^p + a1 z^(p-1) + ... are taken.
    coeffs = lpc_float32(resample_spectrum(hamming_spectrum(frames20)))
    true_pole_freqs, true_pole_bandwidths = roots_to_formants(lpc_roots(-coeffs))
    for k, target in enumerate((700.0, 1200.0, 2600.0)):
        median = np.median(true_pole_freqs[:, k])
        assert abs(median - target) < 0.05 * target, (k, median)
    assert np.median(true_pole_bandwidths[:, 0]) < 150.0
    # openSMILE negates the coefficients before root solving; its own output for this very
    # signal (opensmile 2.6.0, eGeMAPSv01a) is F1 512, F2 1429, F3 2618 Hz, F1 bandwidth 1396 Hz.
    f0 = np.full(len(frames60), 120.0)
    out = all_outputs(frames20, frames60, f0)
    for key, expected in (
        ("F1frequency", 512.0),
        ("F2frequency", 1429.0),
        ("F3frequency", 2618.0),
        ("F1bandwidth", 1396.0),
    ):
        median = np.median(out[key])
        assert abs(median - expected) < 0.02 * expected, (key, median)
    assert abs(np.median(out["F3frequency"]) - 2600.0) < 0.05 * 2600.0
    # openSMILE's medians for the same signal: HNR 8.87 dB, H1-H2 0.38 dB, H1-A3 27.5 dB,
    # F1 amplitude 2.86 dB (the Gaussian window caps the ACF HNR of a periodic signal)
    for key, expected in (
        ("HNRdBACF", 8.87),
        ("logRelF0-H1-H2", 0.38),
        ("logRelF0-H1-A3", 27.54),
        ("F1amplitudeLogRelF0", 2.86),
    ):
        assert abs(np.median(out[key]) - expected) < 0.5, (key, np.median(out[key]))
    noise = np.random.default_rng(3).standard_normal(RATE) * 0.1
    noisy = harmonic_descriptors(
        gaussian_spectrum60(cut_frames(noise, 960))[0],
        np.full(len(frames60), 120.0),
        np.zeros((len(frames60), 5)),
    )
    assert np.median(noisy["HNRdBACF"]) < np.median(out["HNRdBACF"]) - 5.0
