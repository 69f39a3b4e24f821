import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.config import load_config
from streamer.features.lld.extractor import LLD_NAMES, AudioLLDExtractor
from tests.conftest import voiced_signal

CONFIG = load_config().audio


def _extract(signal, rate, block_sizes=()):
    extractor = AudioLLDExtractor(CONFIG, rate)
    parts, i = [], 0
    for size in block_sizes:
        parts.append(extractor.push(signal[i : i + size]))
        i += size
    parts.append(extractor.push(signal[i:]))
    parts.append(extractor.flush())
    t_s = np.concatenate([p.t_s for p in parts])
    values = np.concatenate([p.values for p in parts])
    return t_s, values


@pytest.fixture(scope="module")
def speech_like():
    """1.2 s: a voiced stretch between silence and noise, at 16 kHz."""
    rng = np.random.default_rng(3)
    return np.concatenate(
        [np.zeros(2000), voiced_signal(0.8, 16000), 0.05 * rng.standard_normal(4000)]
    )


def test_names_and_shape(speech_like):
    t_s, values = _extract(speech_like, 16000)
    assert len(LLD_NAMES) == 23
    assert values.shape == (len(t_s), 23)
    n_expected = (speech_like.size - 960) // 160 + 1
    assert len(t_s) == n_expected
    assert np.allclose(t_s, np.arange(n_expected) * 0.01)
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("block", [1, 7, 160, 4096])
def test_fixed_block_sizes_equal_one_call(speech_like, block):
    signal = speech_like[:6000] if block == 1 else speech_like
    t_ref, ref = _extract(signal, 16000)
    n_blocks = signal.size // block
    t_s, values = _extract(signal, 16000, [block] * n_blocks)
    assert np.array_equal(t_s, t_ref)
    assert np.array_equal(values, ref)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rate=st.sampled_from([16000, 22050, 44100]),
    block_sizes=st.lists(st.integers(min_value=0, max_value=5000), max_size=15),
)
def test_random_block_sizes_equal_one_call(speech_like, rate, block_sizes):
    signal = (
        speech_like
        if rate == 16000
        else np.interp(
            np.arange(int(speech_like.size * rate / 16000)) * 16000 / rate,
            np.arange(speech_like.size),
            speech_like,
        )
    )
    t_ref, ref = _extract(signal, rate)
    t_s, values = _extract(signal, rate, block_sizes)
    assert np.array_equal(t_s, t_ref)
    assert np.array_equal(values, ref)


def test_voiced_tone_has_pitch_and_silence_has_none(speech_like):
    t_s, values = _extract(speech_like, 16000)
    f0 = values[:, LLD_NAMES.index("F0semitoneFrom27.5Hz_sma3nz")]
    voiced = (t_s > 0.2) & (t_s < 0.9)
    assert np.mean(f0[voiced] > 0) > 0.9
    # 140 Hz +- 10 % is 29.2 to 30.8 semitones above 27.5 Hz (+-1.65)
    assert np.median(f0[voiced][f0[voiced] > 0]) == pytest.approx(12 * np.log2(140 / 27.5), abs=1.5)
    assert np.all(f0[t_s < 0.05] == 0)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(16000),
        np.clip(3.0 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000), -1, 1),
        np.sign(np.sin(2 * np.pi * 150 * np.arange(16000) / 16000)),
        np.full(16000, 1.5),  # beyond full scale
        1e-9 * np.random.default_rng(0).standard_normal(16000),
    ],
    ids=["silence", "clipped-sine", "square", "dc-overload", "near-silence"],
)
def test_silence_and_clipping_give_finite_values(signal):
    with np.errstate(all="raise"):
        _, values = _extract(signal, 16000)
    assert len(values) > 0
    assert np.all(np.isfinite(values))


def test_too_short_signal_gives_no_frames():
    t_s, values = _extract(np.zeros(500), 16000)
    assert len(t_s) == 0 and values.shape == (0, 23)


def test_reset_starts_a_new_stream(speech_like):
    extractor = AudioLLDExtractor(CONFIG, 16000)
    first = extractor.push(speech_like)
    rest = extractor.flush()
    extractor.reset()
    again = extractor.push(speech_like)
    again_rest = extractor.flush()
    assert np.array_equal(
        np.concatenate([first.values, rest.values]),
        np.concatenate([again.values, again_rest.values]),
    )
