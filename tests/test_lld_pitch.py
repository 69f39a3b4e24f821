"""Tests of the SHS F0 candidates and the streaming Viterbi pitch smoother."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.features.lld.framing import FRAME60
from streamer.features.lld.pitch import (
    gaussian_spectrum60,
    hz_to_semitones,
    shs_candidates,
)
from streamer.features.lld.pitch_viterbi import LAG, OUTPUT_KEYS, PitchSmoother, smooth_pitch

SR = 16000
HOP = 160


def _frames(x: np.ndarray) -> np.ndarray:
    n = (len(x) - FRAME60) // HOP + 1
    return x[np.arange(n)[:, None] * HOP + np.arange(FRAME60)]


def _candidates(frames60: np.ndarray) -> dict:
    return shs_candidates(*gaussian_spectrum60(frames60))


def _harmonic_tone(f0_hz: np.ndarray, seconds: float, n_harmonics: int = 8) -> np.ndarray:
    """Harmonic tone with a (possibly time-varying) F0 contour and 1/k amplitudes."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=np.float64), t.shape)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, n_harmonics + 1))
    return 0.3 * x / np.max(np.abs(x))


def _speechlike(seed: int = 0) -> np.ndarray:
    """Voiced segments with gliding F0, separated by noise and silence."""
    rng = np.random.default_rng(seed)
    pieces = []
    for f_start, f_end in [(110, 160), (230, 180), (95, 300)]:
        contour = np.linspace(f_start, f_end, int(0.5 * SR))
        pieces.append(_harmonic_tone(contour, 0.5) * np.hanning(contour.size))
        pieces.append(0.01 * rng.standard_normal(int(0.15 * SR)))
        pieces.append(np.zeros(int(0.1 * SR)))
    x = np.concatenate(pieces)
    return x + 1e-4 * rng.standard_normal(x.size)


def _random_splits(n: int, rng: np.random.Generator) -> list[int]:
    cuts = sorted(set(rng.integers(1, n, size=12).tolist()) | {1, 2, 3, n - 1})
    return [0, *cuts, n]


@pytest.fixture(scope="module")
def speech_frames() -> np.ndarray:
    return _frames(_speechlike())


def test_candidates_batch_invariant(speech_frames: np.ndarray) -> None:
    whole = _candidates(speech_frames)
    rng = np.random.default_rng(1)
    bounds = _random_splits(len(speech_frames), rng)
    parts = [_candidates(speech_frames[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    for key, value in whole.items():
        joined = np.concatenate([p[key] for p in parts])
        assert np.array_equal(joined, value), key
    singles = [_candidates(speech_frames[i : i + 1]) for i in range(0, 40)]
    for key, value in whole.items():
        assert np.array_equal(np.concatenate([p[key] for p in singles]), value[:40]), key


def test_smoother_batch_invariant_and_lag(speech_frames: np.ndarray) -> None:
    cands = _candidates(speech_frames)
    n = len(speech_frames)
    reference = smooth_pitch(cands)
    assert np.array_equal(reference["frame_index"], np.arange(n))
    rng = np.random.default_rng(2)
    for trial in range(3):
        bounds = list(range(n + 1)) if trial == 0 else _random_splits(n, rng)  # 0: 1 frame
        smoother = PitchSmoother()
        outputs = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            out = smoother.push({k: v[a:b] for k, v in cands.items()})
            assert len(out["F0final"]) == max(0, b - LAG) - max(0, a - LAG)
            assert smoother.n_pending == min(b, LAG)
            outputs.append(out)
        outputs.append(smoother.flush())
        for key in OUTPUT_KEYS:
            joined = np.concatenate([o[key] for o in outputs])
            assert np.array_equal(joined, reference[key]), key


def test_smoother_reusable_after_flush(speech_frames: np.ndarray) -> None:
    cands = _candidates(speech_frames[:150])
    smoother = PitchSmoother()
    first = [smoother.push(cands), smoother.flush()]
    second = [smoother.push(cands), smoother.flush()]
    for key in OUTPUT_KEYS:
        a = np.concatenate([o[key] for o in first])
        b = np.concatenate([o[key] for o in second])
        assert np.array_equal(a, b), key
    assert len(smoother.flush()["F0final"]) == 0


@pytest.mark.parametrize("f0_hz", [120.0, 220.0])
def test_harmonic_tone_recovered(f0_hz: float) -> None:
    x = _harmonic_tone(np.float64(f0_hz), 1.0)
    out = smooth_pitch(_candidates(_frames(x)))
    f0 = out["F0final"]
    assert np.mean(f0 > 0) > 0.9
    voiced = f0 > 0
    error_semitones = np.abs(12 * np.log2(f0[voiced] / f0_hz))
    assert np.max(error_semitones) < 1.0
    expected = 12 * np.log2(f0_hz / 27.5)
    assert np.max(np.abs(out["F0semitoneFrom27.5Hz"][voiced] - expected)) < 1.0


def test_silence_is_unvoiced_and_finite() -> None:
    frames = _frames(np.zeros(SR))
    cands = _candidates(frames)
    for value in cands.values():
        assert np.all(np.isfinite(value))
    out = smooth_pitch(cands)
    for value in out.values():
        assert np.all(np.isfinite(value))
    assert np.all(out["F0final"] == 0) and np.all(out["F0semitoneFrom27.5Hz"] == 0)


def test_quiet_frames_are_gated() -> None:
    x = 1e-4 * _harmonic_tone(np.float64(150.0), 0.8)  # clearly periodic but RMS < 0.001
    frames = _frames(x)
    assert np.all(gaussian_spectrum60(frames)[1] < 1e-3)
    assert np.all(smooth_pitch(_candidates(frames))["F0final"] == 0)


def test_hz_to_semitones() -> None:
    values = hz_to_semitones(np.array([0.0, 20.0, 29.0, 55.0, 110.0, 440.0]))
    np.testing.assert_allclose(values, [0.0, 1.0, 1.0, 12.0, 24.0, 48.0])
