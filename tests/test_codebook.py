"""Codebooks: openXBOW's random++/kmeans++ generation, nearest-word assignment, file formats."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.bow.codebook import Codebook, CodebookError
from streamer.bow.codebook_files import format_openxbow, java_float, parse_openxbow
from streamer.errors import StreamerError

CORNERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def plain(words, assignments=1, **kwargs) -> Codebook:
    """A codebook without standardisation."""
    return Codebook(words=np.asarray(words, dtype=float), assignments=assignments, **kwargs)


def blobs(n_per_blob=200, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 3.0], [0.0, 9.0, -4.0]])
    return np.concatenate([c + rng.standard_normal((n_per_blob, 3)) for c in centres])


# nearest words -----------------------------------------------------------------------


def test_each_frame_goes_to_the_obvious_corner():
    frames = np.array([[1.0, -1.0], [9.0, 1.0], [-2.0, 12.0], [11.0, 8.0], [4.0, 4.9]])
    assert plain(CORNERS).quantise(frames)[:, 0].tolist() == [0, 1, 2, 3, 0]


def test_a_nearest_words_come_nearest_first():
    words = np.column_stack([np.arange(30.0), np.zeros(30)])  # words at x = 0, 1, ..., 29
    frame = np.array([[3.2, 0.0]])
    by_distance = sorted(range(30), key=lambda i: abs(i - 3.2))
    for a in (1, 5, 20):
        got = plain(words, assignments=a).quantise(frame)
        assert got.shape == (1, a)
        assert got[0].tolist() == by_distance[:a]
    assert plain(words).quantise(frame, assignments=5)[0].tolist() == [3, 4, 2, 5, 1]


def test_quantise_matches_brute_force_over_many_blocks():
    rng = np.random.default_rng(4)
    words = rng.standard_normal((37, 6))
    frames = rng.standard_normal((9000, 6))  # more than two blocks of 4096 rows
    distances = ((frames[:, None, :] - words[None]) ** 2).sum(axis=-1)
    expected = np.argsort(distances, axis=1, kind="stable")
    for a in (1, 5, 20):
        got = plain(words, assignments=a).quantise(frames)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected[:, :a])


def test_ties_go_to_the_lower_index_as_in_openxbow():
    # openXBOW scans words with a strict '<', so the first of equal distances wins
    around = plain([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    origin = np.zeros((1, 2))
    assert around.quantise(origin, 1)[0].tolist() == [0]
    assert around.quantise(origin, 3)[0].tolist() == [0, 1, 2]
    assert around.quantise(origin, 4)[0].tolist() == [0, 1, 2, 3]
    # a tie straddling the a-th place, in many rows
    book = plain([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, -3.0], [-3.0, 0.0]])
    rows = np.zeros((10_000, 2))
    np.testing.assert_array_equal(book.quantise(rows, 3), np.tile([0, 2, 1], (10_000, 1)))
    np.testing.assert_array_equal(book.quantise(rows, 4), np.tile([0, 2, 1, 3], (10_000, 1)))


def test_frames_are_standardised_with_the_stored_mean_and_std():
    # standardised, (110, -5) is (1, 0) = word 0 and (100, -3.5) is (0, 3) = word 1
    book = Codebook(
        words=np.array([[1.0, 0.0], [0.0, 3.0]]),
        mean=np.array([100.0, -5.0]),
        std=np.array([10.0, 0.5]),
    )
    assert book.quantise(np.array([[110.0, -5.0], [100.0, -3.5]]))[:, 0].tolist() == [0, 1]
    np.testing.assert_allclose(book.standardised([[110.0, -4.0]]), [[1.0, 2.0]])
    # without standardisation (100, -3.5) would have gone to word 0
    assert plain(book.words).quantise([[100.0, -3.5]])[0, 0] == 0


def test_fit_stores_the_training_mean_and_sample_std():
    frames = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0], [7.0, 5.0]])
    book = Codebook.fit(frames, 2, seed=1)
    np.testing.assert_allclose(book.mean, [4.0, 5.0])
    np.testing.assert_allclose(book.std, [np.std(frames[:, 0], ddof=1), 1.0])  # constant -> 1
    assert Codebook.fit(frames, 2, standardise=False).mean is None


# errors ----------------------------------------------------------------------------


def test_wrong_number_of_columns_is_a_one_line_error():
    with pytest.raises(CodebookError, match="expects 2 features per frame, got 3") as caught:
        plain(CORNERS).quantise(np.zeros((4, 3)))
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, StreamerError)


def test_nan_frames_are_a_one_line_error():
    frames = np.zeros((5, 2))
    frames[3, 1] = np.nan
    with pytest.raises(CodebookError, match="NaN") as caught:
        plain(CORNERS).quantise(frames)
    assert "\n" not in str(caught.value) and "first row 3" in str(caught.value)
    with pytest.raises(CodebookError, match="NaN"):
        Codebook.fit(frames, 2)


def test_feature_names_are_checked_when_both_are_known():
    book = plain(CORNERS, feature_names=("loudness", "pitch"), group="audio")
    book.check_features(("loudness", "pitch"))
    book.check_features(())  # unknown input names: nothing to check
    plain(CORNERS).check_features(("a", "b"))  # unknown codebook names (openXBOW file)
    with pytest.raises(CodebookError, match="feature 1 to be 'pitch', the input has 'jitter'"):
        book.check_features(("loudness", "jitter"))
    with pytest.raises(CodebookError, match="trained on 2 features, the input has 3"):
        book.check_features(("loudness", "pitch", "jitter"))


def test_too_few_frames_or_distinct_frames_are_errors():
    with pytest.raises(CodebookError, match="3 training frames are fewer than the 4 words"):
        Codebook.fit(np.eye(3), 4)
    repeated = np.repeat(np.eye(3), 10, axis=0)  # 30 frames, 3 distinct
    with pytest.raises(CodebookError, match="only 3 distinct frames for 4 words"):
        Codebook.fit(repeated, 4)
    with pytest.raises(CodebookError, match="assignments must be in 1..4"):
        plain(CORNERS, assignments=5)


# generation ------------------------------------------------------------------------


def test_random_plus_plus_words_are_distinct_training_frames():
    frames = blobs()
    book = Codebook.fit(frames, 40, generation="random++", seed=7)
    assert book.words.shape == (40, 3) and book.generation == "random++"
    raw_words = book.words * book.std + book.mean
    distances = ((raw_words[:, None, :] - frames[None]) ** 2).sum(axis=-1)
    assert distances.min(axis=1).max() < 1e-20  # every word is a training frame
    assert len(np.unique(book.words, axis=0)) == 40


def test_seeding_draws_in_proportion_to_squared_distance():
    # frames 0, 1, 3: after a first word 0, frame 3 (d^2 = 9) beats frame 1 (d^2 = 1) 9 to 1
    frames = np.array([[0.0], [1.0], [3.0]])
    pairs = [Codebook.fit(frames, 2, seed=s, standardise=False).words[:, 0] for s in range(3000)]
    firsts = np.array([p[0] for p in pairs])
    assert abs(np.mean(firsts == 0.0) - 1 / 3) < 0.04  # the first word is uniform
    after_zero = np.array([p[1] for p in pairs if p[0] == 0.0])
    assert abs(np.mean(after_zero == 3.0) - 0.9) < 0.04


def test_kmeans_plus_plus_moves_words_to_cluster_means():
    frames = blobs(n_per_blob=300)
    seeds = Codebook.fit(frames, 3, generation="random++", seed=2, standardise=False)
    book = Codebook.fit(frames, 3, generation="kmeans++", seed=2, standardise=False)
    assert not np.array_equal(seeds.words, book.words)
    labels = book.quantise(frames)[:, 0]
    assert sorted(np.bincount(labels).tolist()) == [300, 300, 300]
    for k in range(3):
        np.testing.assert_allclose(book.words[k], frames[labels == k].mean(axis=0), atol=1e-12)


def test_fitting_is_deterministic_for_a_seed():
    frames = blobs()
    for generation in ("random++", "kmeans++"):
        one = Codebook.fit(frames, 25, generation=generation, seed=11)
        two = Codebook.fit(frames, 25, generation=generation, seed=11)
        other = Codebook.fit(frames, 25, generation=generation, seed=12)
        np.testing.assert_array_equal(one.words, two.words)
        assert one.checksum == two.checksum != other.checksum


def test_max_frames_trains_on_a_seeded_subset():
    frames = blobs()
    full = Codebook.fit(frames, 30, seed=3)
    sub = Codebook.fit(frames, 30, seed=3, max_frames=30)
    again = Codebook.fit(frames, 30, seed=3, max_frames=30)
    np.testing.assert_array_equal(sub.words, again.words)
    np.testing.assert_array_equal(sub.mean, full.mean)  # standardisation uses every frame
    assert not np.array_equal(sub.words, full.words)
    with pytest.raises(CodebookError, match="max_frames"):
        Codebook.fit(frames, 30, max_frames=20)


def test_checksum_covers_words_standardisation_and_assignments():
    book = plain(CORNERS)
    assert len(book.checksum) == 16 and int(book.checksum, 16) >= 0
    assert plain(CORNERS, assignments=2).checksum != book.checksum
    assert plain(CORNERS + 1e-9).checksum != book.checksum
    scaled = Codebook(words=CORNERS, mean=np.zeros(2), std=np.ones(2))
    assert scaled.checksum != book.checksum
    assert plain(CORNERS, group="audio", seed=5).checksum == book.checksum


# files -----------------------------------------------------------------------------

# exactly as openXBOW -B writes it: Java Float.toString numbers, two placeholder columns
# (name; time) in front of the means and deviations, then the size line
OPENXBOW_TEXT = """standardizeInput
0.0;0.0;1.5;-2.0;1234.5
0.0;0.0;0.5;2.0;1.0E-4
log
codebookNumeric
3;3;2;0.0;0.0
0.1;-1.2;3.0
1.0E-5;2.5;-0.75
1.2345678E7;0.0;-4.0
"""


def test_openxbow_text_is_parsed_as_openxbow_reads_it():
    book = parse_openxbow(OPENXBOW_TEXT)
    np.testing.assert_array_equal(book.mean, [1.5, -2.0, 1234.5])
    np.testing.assert_array_equal(book.std, [0.5, 2.0, 1e-4])
    np.testing.assert_array_equal(
        book.words, [[0.1, -1.2, 3.0], [1e-5, 2.5, -0.75], [1.2345678e7, 0.0, -4.0]]
    )
    assert book.assignments == 2 and book.log_weighting
    assert book.feature_names == () and book.generation == ""
    assert book.quantise([[1.55, 0.4, 1234.5003]]).tolist() == [[0, 1]]


def test_openxbow_text_is_written_back_identically(tmp_path):
    assert format_openxbow(parse_openxbow(OPENXBOW_TEXT)) == OPENXBOW_TEXT
    path = tmp_path / "audio.cb"
    path.write_text(OPENXBOW_TEXT)
    Codebook.load(path).save(tmp_path / "copy.cb")
    assert (tmp_path / "copy.cb").read_text() == OPENXBOW_TEXT


def test_openxbow_variants_and_unsupported_options():
    # one placeholder (input without time stamps), old keyword and header, CRLF lines
    old = "standardization\r\n0.0;2.0\r\n0.0;4.0\r\ncodebookNumeric\r\n2;1\r\n1.0\r\n-1.0\r\n"
    book = parse_openxbow(old)
    assert book.mean.tolist() == [2.0] and book.std.tolist() == [4.0] and book.assignments == 1
    with pytest.raises(CodebookError, match="'idf' is not supported"):
        parse_openxbow("idf\n1.0\n" + OPENXBOW_TEXT)
    with pytest.raises(CodebookError, match="ends before the 3 words"):
        parse_openxbow(OPENXBOW_TEXT.rsplit("\n", 2)[0])
    with pytest.raises(CodebookError, match="Gaussian encoding"):
        parse_openxbow("codebookNumeric\n1;1;1;2.0;0.0\n1.0\n")
    with pytest.raises(CodebookError, match="no 'codebookNumeric'"):
        parse_openxbow("log\n")


def test_text_round_trip_is_exact(tmp_path):
    book = Codebook.fit(blobs() * [1e-6, 1e8, 1.0], 20, seed=5, assignments=3)
    book.save(tmp_path / "book.txt")
    back = Codebook.load(tmp_path / "book.txt")
    np.testing.assert_array_equal(back.words, book.words)
    np.testing.assert_array_equal(back.mean, book.mean)
    np.testing.assert_array_equal(back.std, book.std)
    assert back.checksum == book.checksum and back.assignments == 3
    assert java_float(1e-5) == "1.0E-5" and java_float(12345678.0) == "1.2345678E7"


def test_npz_round_trip_keeps_every_field(tmp_path):
    book = Codebook.fit(
        blobs(), 20, generation="kmeans++", seed=9, assignments=4,
        feature_names=("a", "b", "c"), group="pose",
    )  # fmt: skip
    book.save(tmp_path / "pose.npz")
    back = Codebook.load(tmp_path / "pose.npz")
    np.testing.assert_array_equal(back.words, book.words)
    np.testing.assert_array_equal(back.mean, book.mean)
    np.testing.assert_array_equal(back.std, book.std)
    assert (back.assignments, back.feature_names, back.group) == (4, ("a", "b", "c"), "pose")
    assert (back.generation, back.seed, back.checksum) == ("kmeans++", 9, book.checksum)
    bare = plain(CORNERS)
    bare.save(tmp_path / "bare.npz")
    assert Codebook.load(tmp_path / "bare.npz").mean is None


def test_damaged_npz_is_a_one_line_error(tmp_path):
    path = tmp_path / "book.npz"
    Codebook.fit(blobs(), 20, seed=1).save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(CodebookError, match="damaged") as caught:
        Codebook.load(path)
    assert "\n" not in str(caught.value)
    # a valid archive whose words do not match its checksum
    Codebook.fit(blobs(), 20, seed=1).save(tmp_path / "fresh.npz")
    with np.load(tmp_path / "fresh.npz") as stored:
        fields = {name: stored[name] for name in stored.files}
    fields["words"] = fields["words"] + 1e-12
    np.savez(tmp_path / "tampered.npz", **fields)
    with pytest.raises(CodebookError, match="checksum"):
        Codebook.load(tmp_path / "tampered.npz")
    with pytest.raises(CodebookError, match="does not exist"):
        Codebook.load(tmp_path / "missing.npz")
