"""eSpeak NG synthesis with true word times, word alignment, and pocketsphinx's word times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.speech_timing import SENTENCES, align_words, build_recording, normalise


@pytest.fixture(scope="module")
def engine():
    """The eSpeak NG library; skips when espeakng-loader is not installed."""
    pytest.importorskip("espeakng_loader", reason="espeakng-loader is not installed")
    from benchmarks.espeak import espeak

    return espeak()


@pytest.mark.parametrize("rate_wpm", [140, 230])
def test_synthesis_gives_audio_and_ordered_words_inside_it(engine, rate_wpm):
    text = "Well, I think it's fine. Could you pass me the salt and the pepper, please?"
    synthesis = engine.synthesize(text, rate_wpm)
    duration_s = synthesis.samples.size / synthesis.sample_rate_hz
    assert synthesis.sample_rate_hz == 22050
    assert duration_s > 2.0 and np.max(np.abs(synthesis.samples)) > 0.05
    assert [normalise(w.text) for w in synthesis.words] == [normalise(t) for t in text.split()]
    starts = [w.start_s for w in synthesis.words if not math.isnan(w.start_s)]
    assert len(starts) >= len(synthesis.words) - 3  # few words share a unit with the previous
    assert all(b > a for a, b in zip(starts, starts[1:], strict=False))
    assert starts[0] >= 0.0 and starts[-1] < duration_s


def test_word_ends_follow_starts_and_precede_the_next_start(engine):
    text = "Good morning, how did you sleep last night? The train was late again."
    words = engine.synthesize(text, 175).words
    known = [(w.start_s, w.end_s) for w in words if not math.isnan(w.start_s + w.end_s)]
    assert len(known) >= len(words) - 4
    next_starts = [w.start_s for w in words[1:] if not math.isnan(w.start_s)] + [math.inf]
    units = []  # (start, end) of each unit eSpeak speaks with one word event
    for word in words:
        if not math.isnan(word.start_s):
            units.append([word.start_s, word.end_s])
        if not math.isnan(word.end_s):
            units[-1][1] = word.end_s
    for (start_s, end_s), next_start_s in zip(units, next_starts, strict=True):
        assert start_s < end_s <= next_start_s
    # the comma and the full stop pause: "morning" and "night" end well before the next word
    ends = {w.text: w.end_s for w in words}
    starts = {w.text: w.start_s for w in words}
    assert starts["how"] - ends["morning"] > 0.05
    assert starts["The"] - ends["night"] > 0.1


def test_recording_times_lie_inside_the_16k_audio(engine):
    samples, truth = build_recording(SENTENCES[:2], 175, gap_s=0.5)
    duration_s = samples.size / 16000
    times = [t for sentence in truth for w in sentence for t in (w.start_s, w.end_s)]
    times = [t for t in times if not math.isnan(t)]
    assert min(times) >= 0.5 and max(times) <= duration_s - 0.5
    assert times == sorted(times)


def test_alignment_pairs_matches_around_one_substitution_insertion_and_deletion():
    reference = ["the", "cat", "sat", "on", "the", "mat", "today"]
    hypothesis = ["The", "dog", "sat", "on", "a", "the", "mat."]  # cat->dog, +a, -today
    assert align_words(reference, hypothesis) == [(0, 0), (2, 2), (3, 3), (4, 5), (5, 6)]
    assert align_words(reference, []) == []
    assert align_words(["hello(2)"], ["HELLO"]) == [(0, 0)]


def test_alignment_respects_the_compatibility_test():
    reference = ["a", "b", "a"]
    hypothesis = ["a"]
    assert align_words(reference, hypothesis) in ([(0, 0)], [(2, 0)])
    assert align_words(reference, hypothesis, compatible=lambda i, j: i == 2) == [(2, 0)]


def test_pocketsphinx_word_starts_are_accurate(engine):
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed")
    backend = pytest.importorskip("streamer.features.speech.pocketsphinx_backend")
    from benchmarks.speech_timing import recognise, summarise, timing_errors

    samples, truth = build_recording(SENTENCES[:10], 140)
    errors, _ = timing_errors(truth, recognise(backend.PocketsphinxRecognizer(), samples))
    assert len(errors) >= 10
    # measured on all 30 sentences at 140/175/230 wpm: median |start error| 11-17 ms
    assert summarise(errors)["start_median_abs"] < 0.05
