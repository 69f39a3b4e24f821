"""Rolling bags: window edges, weighting, streaming equals offline exactly, text bags."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.bow.rolling import RollingBag, bags, text_assignments
from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary
from streamer.types import Word

RAW = {"weighting": "counts", "normalise": False}


def test_causal_edges_frame_at_t_minus_w_is_out_frame_at_t_is_in():
    t = np.array([0.0, 0.5, 1.0, 1.5])
    a = np.array([[0], [1], [2], [0]])
    times, b = bags(t, a, 3, window_s=1.0, hop_s=0.5, **RAW)
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0, 1.5])
    # hop 1.5: frames in (0.5, 1.5] -> 1.0 (word 2) and 1.5 (word 0); 0.5 is out
    np.testing.assert_array_equal(b, [[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1]])


def test_causal_edges_are_exact_despite_float_noise():
    t = np.arange(8) * 0.1  # 3 * 0.1 = 0.30000000000000004
    a = np.arange(8)[:, None]
    times, b = bags(t, a, 8, window_s=0.2, hop_s=0.1, **RAW)
    assert times[3] == 0.3 and times[7] == 0.7
    # hop k holds frames k-1 and k exactly: never 1 or 3 frames
    expected = np.eye(8) + np.eye(8, k=-1)
    np.testing.assert_array_equal(b, expected)


def test_centred_edges_are_closed_on_both_sides_like_openxbow():
    t = np.arange(7) * 0.25  # 0 .. 1.5
    a = np.arange(7)[:, None]
    times, b = bags(t, a, 7, window_s=1.0, hop_s=0.5, window="centred", **RAW)
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0, 1.5])
    # centre c holds c - 0.5 <= t <= c + 0.5: 2 frames either side of the centre frame
    np.testing.assert_array_equal(b[0], [1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(b[1], [1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(b[2], [0, 0, 1, 1, 1, 1, 1])
    # the last centre is the last multiple of the hop not later than the last frame
    np.testing.assert_array_equal(b[3], [0, 0, 0, 0, 1, 1, 1])
    _, b2 = bags(np.append(t, 1.7), np.append(a, [[0]], axis=0), 7, 1.0, 0.5, "centred", **RAW)
    assert len(b2) == 4


def test_every_assignment_of_a_frame_counts():
    t = np.array([0.0, 0.1])
    a = np.array([[0, 1, 2], [2, 2, 1]])
    _, b = bags(t, a, 4, window_s=1.0, hop_s=0.1, **RAW)
    np.testing.assert_array_equal(b, [[1, 1, 1, 0], [1, 2, 3, 0]])


def test_counts_log_and_normalised_weightings():
    t = np.array([0.0, 0.1, 0.2, 0.3])
    a = np.array([[0, 1], [0, 1], [0, 2], [0, 0]])
    kw = {"window_s": 1.0, "hop_s": 1.0}
    tf = np.array([[5.0, 2.0, 1.0]])  # the four frames shifted to end at 0 s
    _, counts = bags(t, a, 3, weighting="counts", normalise=False, end_s=0.3, **kw)
    np.testing.assert_array_equal(counts, [[1, 1, 0]])
    _, counts = bags(t - 0.3, a, 3, weighting="counts", normalise=False, **kw)
    np.testing.assert_array_equal(counts, tf)
    _, log = bags(t - 0.3, a, 3, weighting="log", normalise=False, **kw)
    np.testing.assert_array_equal(log, np.log10(tf + 1))
    _, norm = bags(t - 0.3, a, 3, weighting="counts", normalise=True, **kw)
    np.testing.assert_array_equal(norm, tf / 4)
    _, default = bags(t - 0.3, a, 3, **kw)  # log of the normalised counts
    np.testing.assert_array_equal(default, np.log10(tf / 4 + 1))


@pytest.mark.parametrize("weighting", ["counts", "log"])
@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("window", ["causal", "centred"])
def test_empty_windows_give_zero_bags(weighting, normalise, window):
    t = np.array([0.0, 5.0])
    a = np.array([[1], [2]])
    times, b = bags(t, a, 3, 1.0, 0.5, window, weighting, normalise)
    assert len(times) == 11 and np.all(np.isfinite(b))
    np.testing.assert_array_equal(b[3:9], 0.0)
    _, none = bags(np.zeros(0), np.zeros((0, 1), int), 3, 1.0, 0.5, window, weighting, normalise)
    assert none.shape == (0, 3)
    _, silent = bags(np.zeros(0), np.zeros((0, 1), int), 3, 1.0, 0.5, window, end_s=1.0)
    np.testing.assert_array_equal(silent, np.zeros((3, 3)))


def test_flush_with_end_beyond_the_last_frame():
    bag = RollingBag(2, window_s=1.0, hop_s=0.5, **RAW)
    times, b = bag.push(np.array([0.0, 0.2]), np.array([[0], [1]]))
    np.testing.assert_array_equal(times, [0.0])
    times, b = bag.flush(end_s=2.0)
    np.testing.assert_array_equal(times, [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(b, [[1, 1], [0, 1], [0, 0], [0, 0]])  # 0 s is out at 1 s
    with pytest.raises(StreamerError):
        bag.push(np.array([3.0]), np.array([[0]]))


def test_bags_are_emitted_once_a_later_frame_arrived():
    causal = RollingBag(2, window_s=1.0, hop_s=0.5)
    assert len(causal.push(np.array([0.0]), np.array([[0]]))[0]) == 0
    assert len(causal.push(np.array([0.0]), np.array([[1]]))[0]) == 0  # equal time: still open
    assert len(causal.push(np.array([0.01]), np.array([[1]]))[0]) == 1
    centred = RollingBag(2, window_s=1.0, hop_s=0.5, window="centred")
    assert len(centred.push(np.array([0.0, 0.5]), np.array([[0], [1]]))[0]) == 0
    assert len(centred.push(np.array([0.51]), np.array([[1]]))[0]) == 1


def test_bad_input_is_one_line_streamer_error():
    with pytest.raises(StreamerError):
        bags(np.array([0.0, np.nan]), np.array([[0], [1]]), 2)
    with pytest.raises(StreamerError):
        RollingBag(2).push(np.array([np.nan]), np.array([[0]]))
    with pytest.raises(StreamerError):
        bags(np.array([0.0]), np.array([[2]]), 2)
    bag = RollingBag(2)
    bag.push(np.array([1.0]), np.array([[0]]))
    with pytest.raises(StreamerError):
        bag.push(np.array([0.5]), np.array([[0]]))
    with pytest.raises(StreamerError):
        RollingBag(2, window="centered")


def test_text_bag_counts_words_at_their_end_and_skips_unknown_words():
    vocabulary = Vocabulary(("hello", "world", "don't"), (3, 2, 2), 2)
    words = [
        Word("Hello,", 0.0, 0.35, 0.9),
        Word("strange", 0.4, 0.8, 0.9),
        Word("world-hello", 0.9, 1.25, 0.9),
        Word("Don't!", 1.3, 1.6, 0.9),
    ]
    t, a = text_assignments(words, vocabulary)
    np.testing.assert_array_equal(t, [0.35, 1.25, 1.25, 1.6])
    np.testing.assert_array_equal(a, [[0], [1], [0], [2]])
    times, b = bags(t, a, 3, window_s=1.0, hop_s=0.5, **RAW)
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0, 1.5])
    # a word spanning 0.9-1.25 s is counted at 1.25 only: not in the bag at 1.0
    np.testing.assert_array_equal(b, [[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0]])
    with pytest.raises(StreamerError):
        text_assignments([Word("hello", 0.0, float("nan"), 1.0)], vocabulary)
    t, a = text_assignments([], vocabulary)
    assert t.shape == (0,) and a.shape == (0, 1)


def test_25_and_50_frames_per_second_give_the_same_normalised_bags():
    def run(fps):
        t = np.arange(1, 20 * fps + 1) / fps  # frames end their period: (0, 1/fps], ...
        words = (np.ceil(t * 5 - 1e-9).astype(int) % 7)[:, None]  # a new word every 0.2 s
        return bags(t, words, 7, window_s=6.0, hop_s=0.2)

    times25, b25 = run(25)
    times50, b50 = run(50)
    np.testing.assert_array_equal(times25, times50)
    np.testing.assert_array_equal(b25, b50)
    assert np.all(b25[1:].sum(axis=1) > 0)


OPTIONS = st.fixed_dictionaries(
    {
        "window_s": st.sampled_from([0.1, 0.3, 1.0, 0.55]),
        "hop_s": st.sampled_from([0.1, 0.25, 0.7]),
        "window": st.sampled_from(["causal", "centred"]),
        "weighting": st.sampled_from(["counts", "log"]),
        "normalise": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    options=OPTIONS,
    steps=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.04, 0.1, 0.13, 0.3, 2.5]), max_size=60),
    start=st.floats(-1.0, 1.0),
    a=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 60), max_size=8),
    end_s=st.none() | st.floats(-1.0, 8.0),
)
def test_streaming_equals_offline_exactly(options, steps, start, a, seed, cuts, end_s):
    n_words = 5
    t = start + np.cumsum(np.asarray(steps, dtype=np.float64))
    rng = np.random.default_rng(seed)
    assignments = rng.integers(0, n_words, (len(t), a))
    shuffled = rng.permutation(len(t))  # the offline function takes frames in any order
    times, expected = bags(t[shuffled], assignments[shuffled], n_words, end_s=end_s, **options)

    bag = RollingBag(n_words, **options)
    edges = [0, *sorted(min(c, len(t)) for c in cuts), len(t)]
    parts = [bag.push(t[i:j], assignments[i:j]) for i, j in zip(edges[:-1], edges[1:], strict=True)]
    parts.append(bag.flush(end_s))
    got_times = np.concatenate([p[0] for p in parts])
    got = np.vstack([p[1] for p in parts])
    assert np.array_equal(got_times, times)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_advance_emits_hops_without_frames_and_late_frames_still_count():
    """advance(t) completes the hops before t although no frame came (no face, no word);
    a frame pushed later but earlier than t still counts in the bags not yet emitted."""
    rolling = RollingBag(4, window_s=1.0, hop_s=0.1, weighting="counts", normalise=False)
    times, bags_early = rolling.advance(0.35)
    assert np.allclose(times, [0.0, 0.1, 0.2, 0.3]) and not bags_early.any()
    times, late = rolling.push(np.array([0.32]), np.array([[2]]))  # recognised late
    assert len(times) == 0
    times, rows = rolling.advance(0.55)
    assert np.allclose(times, [0.4, 0.5])
    assert np.array_equal(rows, [[0, 0, 1, 0], [0, 0, 1, 0]])
    times, rows = rolling.flush(1.4)
    assert rows[times > 1.32 - 1e-9][:, 2].sum() == 0  # out of the 1 s window again
    assert rows[np.isclose(times, 1.3)][0, 2] == 1
