"""Tests for streamer.features.lld.jitter (openSMILE cPitchJitter jitterLocal / shimmerLocaldB)."""

import numpy as np
import pytest

from streamer.features.lld import jitter as jitter_module
from streamer.features.lld.jitter import initial_state, jitter_shimmer

FS = 16000
PULSE = np.exp(-np.arange(60) / 12.0) * np.sin(2 * np.pi * np.arange(60) / 20.0)


def _frames(x):
    return np.lib.stride_tricks.sliding_window_view(x, 960)[::160].copy()


def _pulse_train(period_of, amplitude_of=lambda k: 1.0, n=2 * FS):
    """Damped-sine 'glottal' pulses; pulse k is followed by a gap of period_of(k) samples."""
    x = np.zeros(n)
    t, k = 50, 0
    while t + PULSE.size < n:
        x[t : t + PULSE.size] += amplitude_of(k) * PULSE
        t += period_of(k)
        k += 1
    return 0.3 * x


def _speechlike(seed=0, seconds=3.0):
    """Pulse trains of drifting F0 with pauses, plus noise, and the matching F0 track."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = 0.002 * rng.standard_normal(n)
    n_frames = (n - 960) // 160 + 1
    f0 = np.zeros(n_frames)
    t = 0
    while t < n - 2000:
        pause = int(rng.integers(800, 4000))
        length = int(rng.integers(3000, 12000))
        t += pause
        period = float(rng.uniform(40, 250))
        pos = t
        while pos < min(t + length, n - PULSE.size):
            x[pos : pos + PULSE.size] += rng.uniform(0.5, 1.0) * PULSE
            first, last = pos // 160 - 5, pos // 160 + 1
            f0[max(first, 0) : min(last, n_frames)] = FS / period
            pos += int(round(period * rng.uniform(0.97, 1.03)))
            period *= rng.uniform(0.99, 1.01)
        t += length
    return x, f0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_invariance_bitwise(seed):
    x, f0 = _speechlike(seed)
    frames = _frames(x)
    f0 = f0[: len(frames)]
    whole, _ = jitter_shimmer(frames, f0)
    rng = np.random.default_rng(100 + seed)
    for _ in range(4):
        cuts = np.sort(rng.choice(np.arange(1, len(frames)), size=5, replace=False))
        state = None
        parts = {"jitterLocal": [], "shimmerLocaldB": []}
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(frames)], strict=True):
            out, state = jitter_shimmer(frames[a:b], f0[a:b], state)
            for key in parts:
                parts[key].append(out[key])
        for key in parts:
            assert np.array_equal(np.concatenate(parts[key]), whole[key]), key
    assert np.count_nonzero(whole["jitterLocal"]) > 20


def test_scalar_and_vectorised_walks_agree_bitwise(monkeypatch):
    x, f0 = _speechlike(4, seconds=4.0)
    frames = _frames(x)
    f0 = f0[: len(frames)]
    monkeypatch.setattr(jitter_module, "_MAX_SCALAR_RUNS", 0)
    vectorised, _ = jitter_shimmer(frames, f0)
    monkeypatch.setattr(jitter_module, "_MAX_SCALAR_RUNS", 10**6)
    scalar, _ = jitter_shimmer(frames, f0)
    for key in vectorised:
        assert np.array_equal(vectorised[key], scalar[key]), key


def test_single_frame_batches_match():
    x, f0 = _speechlike(3, seconds=1.5)
    frames = _frames(x)
    f0 = f0[: len(frames)]
    whole, _ = jitter_shimmer(frames, f0)
    state = initial_state()
    for i in range(len(frames)):
        out, state = jitter_shimmer(frames[i : i + 1], f0[i : i + 1], state)
        assert out["jitterLocal"][0] == whole["jitterLocal"][i]
        assert out["shimmerLocaldB"][0] == whole["shimmerLocaldB"][i]


def test_alternating_periods_give_known_jitter():
    # periods alternate 102 / 98 samples (+-2 %): mean |T_k - T_k-1| / mean T = 0.04
    x = _pulse_train(lambda k: 98 if k % 2 else 102)
    frames = _frames(x)
    out, _ = jitter_shimmer(frames, np.full(len(frames), 160.0))
    jitter = out["jitterLocal"][5:-5]
    assert np.median(jitter) == pytest.approx(0.04, rel=0.05)
    assert np.mean(jitter) == pytest.approx(0.04, rel=0.1)


def test_alternating_amplitudes_give_known_shimmer():
    # amplitudes alternate 1.1 / 0.9: sum|dA| / sum mean(A) = 0.2 -> 20 log10(1.2) dB
    # (a little noise: with bit-identical periods openSMILE's strict threshold keeps none)
    x = _pulse_train(lambda k: 100, lambda k: 1.1 if k % 2 else 0.9)
    x += 1e-4 * np.random.default_rng(0).standard_normal(x.size)
    frames = _frames(x)
    out, _ = jitter_shimmer(frames, np.full(len(frames), 160.0))
    shimmer = out["shimmerLocaldB"][5:-5]
    assert np.median(shimmer) == pytest.approx(20 * np.log10(1.2), rel=0.02)
    assert np.median(out["jitterLocal"][5:-5]) < 1e-3


def test_constant_tone_has_no_shimmer_or_jitter():
    t = np.arange(2 * FS) / FS
    frames = _frames(0.5 * np.sin(2 * np.pi * 200.0 * t))
    out, _ = jitter_shimmer(frames, np.full(len(frames), 200.0))
    assert np.max(out["shimmerLocaldB"]) < 0.05
    assert np.max(out["jitterLocal"]) < 1e-3


@pytest.mark.parametrize("f0_value", [0.0, 150.0])
def test_silence_gives_finite_zeros(f0_value):
    frames = _frames(np.zeros(FS))
    out, state = jitter_shimmer(frames, np.full(len(frames), f0_value))
    for key in ("jitterLocal", "shimmerLocaldB"):
        assert np.all(np.isfinite(out[key]))
        assert np.all(out[key] == 0.0)
    empty, state2 = jitter_shimmer(frames[:0], np.zeros(0), state)
    assert empty["jitterLocal"].shape == (0,)
    assert state2 is state


def test_unvoiced_frames_are_zero_and_reset():
    x = _pulse_train(lambda k: 98 if k % 2 else 102)
    frames = _frames(x)
    f0 = np.full(len(frames), 160.0)
    f0[50:60] = 0.0
    out, _ = jitter_shimmer(frames, f0)
    assert np.all(out["jitterLocal"][50:60] == 0.0)
    assert np.all(out["shimmerLocaldB"][50:60] == 0.0)
    # the first voiced frame after a pause has no earlier period to compare with
    assert out["jitterLocal"][60] == 0.0
