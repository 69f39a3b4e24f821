"""Tests for the 20 ms frame spectral descriptors (streamer.features.lld.spectral)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.features.lld.framing import FRAME20
from streamer.features.lld.spectral import (
    DESCRIPTOR_NAMES,
    hamming_spectrum,
    spectral_descriptors,
)

HOP = 160


def _frames(signal: np.ndarray) -> np.ndarray:
    """Cut 20 ms frames with a 10 ms hop (frame i starts at sample i * 160)."""
    n_frames = (signal.size - FRAME20) // HOP + 1
    index = np.arange(n_frames)[:, None] * HOP + np.arange(FRAME20)[None, :]
    return signal[index]


def _magnitude(frames20: np.ndarray) -> np.ndarray:
    return np.abs(hamming_spectrum(frames20))


def _speech_like(n_samples: int, seed: int = 0) -> np.ndarray:
    """Noisy harmonic signal with a loudness envelope and some silent stretches."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000.0
    f0 = 120.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.3 * (np.sin(2 * np.pi * 1.3 * t) > -0.3)
    return envelope * voiced + 0.01 * rng.standard_normal(n_samples)


def _run_in_batches(frames20: np.ndarray, cuts: list[int]) -> dict[str, np.ndarray]:
    state = None
    pieces = {name: [] for name in DESCRIPTOR_NAMES}
    for start, stop in zip([0, *cuts], [*cuts, len(frames20)], strict=True):
        values, state = spectral_descriptors(_magnitude(frames20[start:stop]), state)
        for name in DESCRIPTOR_NAMES:
            pieces[name].append(values[name])
    return {name: np.concatenate(parts) for name, parts in pieces.items()}


def test_output_names_and_shapes():
    frames20 = _frames(_speech_like(16000))
    values, state = spectral_descriptors(_magnitude(frames20), None)
    assert set(values) == set(DESCRIPTOR_NAMES)
    for name in DESCRIPTOR_NAMES:
        assert values[name].shape == (len(frames20),)
        assert values[name].dtype == np.float64
    assert values["spectralFlux"][0] == 0.0
    assert state is not None


@pytest.mark.parametrize("seed", range(5))
def test_batch_invariance_is_bitwise(seed):
    frames20 = _frames(_speech_like(3 * 16000, seed=seed))
    whole, _ = spectral_descriptors(_magnitude(frames20), None)
    rng = np.random.default_rng(seed)
    n_cuts = int(rng.integers(1, 12))
    cuts = sorted(set(rng.integers(1, len(frames20), size=n_cuts).tolist()))
    split = _run_in_batches(frames20, cuts)
    for name in DESCRIPTOR_NAMES:
        np.testing.assert_array_equal(split[name], whole[name], err_msg=name)


def test_single_frame_batches_and_empty_batch():
    frames20 = _frames(_speech_like(8000, seed=7))
    whole, _ = spectral_descriptors(_magnitude(frames20), None)
    values, state = spectral_descriptors(_magnitude(frames20[:0]), None)
    assert all(values[name].shape == (0,) for name in DESCRIPTOR_NAMES)
    assert state is None
    split = _run_in_batches(frames20, list(range(1, len(frames20))))
    for name in DESCRIPTOR_NAMES:
        np.testing.assert_array_equal(split[name], whole[name], err_msg=name)


def _assert_finite(signal: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(all="raise"):
        values, _ = spectral_descriptors(_magnitude(_frames(signal)), None)
    for name in DESCRIPTOR_NAMES:
        assert np.all(np.isfinite(values[name])), name
    return values


def test_silence_gives_opensmile_floor_values():
    values = _assert_finite(np.zeros(16000))
    # values openSMILE 3 outputs (eGeMAPSv01a LLDs) on digital silence
    expected = {
        "Loudness": 0.001034,
        "alphaRatio": 0.0,
        "hammarbergIndex": 0.0,
        "slope0-500": 0.112,  # flat -140 dB spectrum, openSMILE's point-count quirk
        "slope500-1500": 0.076364,
        "spectralFlux": 0.0,
        "mfcc1": 0.0,  # log of the HTK mel floor 1.0
        "mfcc2": 0.0,
        "mfcc3": 0.0,
        "mfcc4": 0.0,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(values[name], value, atol=1e-6, err_msg=name)


def test_clipped_square_wave_is_finite():
    t = np.arange(16000) / 16000.0
    square = np.clip(3.0 * np.sign(np.sin(2 * np.pi * 220.0 * t)), -1.0, 1.0)
    values = _assert_finite(square)
    assert np.all(values["Loudness"] > 0.0)


def test_pure_tone_spectral_balance():
    t = np.arange(16000) / 16000.0
    low = _assert_finite(0.5 * np.sin(2 * np.pi * 300.0 * t))
    high = _assert_finite(0.5 * np.sin(2 * np.pi * 3000.0 * t))
    assert np.all(low["alphaRatio"] < 0.0) and np.all(high["alphaRatio"] > 0.0)
    assert np.all(low["hammarbergIndex"] > 0.0) and np.all(high["hammarbergIndex"] < 0.0)
