import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.features.lld.resample import StreamingResampler


def _run(resampler, signal, block_sizes):
    parts, i = [], 0
    for size in block_sizes:
        parts.append(resampler.push(signal[i : i + size]))
        i += size
    parts.append(resampler.push(signal[i:]))
    parts.append(resampler.flush())
    resampler.reset()
    return np.concatenate(parts)


@pytest.mark.parametrize("rate_in", [8000, 11025, 22050, 32000, 44100, 48000])
def test_sine_is_preserved_and_length_matches(rate_in):
    t = np.arange(rate_in) / rate_in
    out = _run(StreamingResampler(rate_in, 16000), np.sin(2 * np.pi * 440 * t), [])
    assert out.size == 16000
    expected = np.sin(2 * np.pi * 440 * np.arange(out.size) / 16000)
    assert np.max(np.abs(out - expected)[200:-200]) < 1e-3


def test_frequencies_above_the_new_nyquist_are_removed():
    rate_in = 44100
    t = np.arange(rate_in) / rate_in
    out = _run(StreamingResampler(rate_in, 16000), np.sin(2 * np.pi * 12000 * t), [])
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 0.01  # would alias to 4 kHz


def test_same_rate_passes_samples_through():
    signal = np.random.default_rng(0).standard_normal(1000)
    assert np.array_equal(_run(StreamingResampler(16000, 16000), signal, [7, 100]), signal)


@settings(max_examples=40, deadline=None)
@given(
    rate_in=st.sampled_from([8000, 22050, 44100, 48000]),
    block_sizes=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_streaming_equals_offline_exactly(rate_in, block_sizes):
    signal = np.random.default_rng(rate_in).standard_normal(rate_in // 4)
    resampler = StreamingResampler(rate_in, 16000)
    offline = _run(resampler, signal, [])
    assert np.array_equal(_run(resampler, signal, block_sizes), offline)


def test_one_sample_at_a_time_equals_offline():
    signal = np.random.default_rng(1).standard_normal(2000)
    resampler = StreamingResampler(44100, 16000)
    assert np.array_equal(_run(resampler, signal, [1] * 2000), _run(resampler, signal, []))
