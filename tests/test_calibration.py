"""Per-person calibration (streamer.bow.calibration)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.bow.calibration import (
    CalibrationPrior,
    RunningCalibration,
    calibrate_person,
    sparse_columns,
)
from streamer.errors import StreamerError

RNG = np.random.default_rng(0)
POPULATION = np.column_stack([RNG.normal(10, 2, 5000), RNG.normal(0, 1, 5000)])
POPULATION[::3, 1] = 0.0  # the second feature is sparse: unvoiced frames are 0
PRIOR = CalibrationPrior.fit(POPULATION, [False, True])


def test_prior_counts_sparse_features_over_their_measured_frames():
    assert PRIOR.mean[0] == pytest.approx(10, abs=0.1) and PRIOR.std[0] == pytest.approx(2, abs=0.1)
    measured = POPULATION[POPULATION[:, 1] != 0, 1]
    assert PRIOR.mean[1] == pytest.approx(measured.mean()) and PRIOR.std[1] == pytest.approx(measured.std())
    assert sparse_columns(["Loudness_sma3", "F0semitoneFrom27.5Hz_sma3nz"]).tolist() == [False, True]


def test_a_person_at_their_own_mean_reads_as_the_population_mean():
    person = np.column_stack([RNG.normal(14, 1, 20000), RNG.normal(3, 0.5, 20000)])
    person[::2, 1] = 0.0
    calibrated = calibrate_person(person, PRIOR, prior_frames=100)
    assert calibrated[:, 0].mean() == pytest.approx(10, abs=0.05)
    assert calibrated[:, 0].std() == pytest.approx(2, abs=0.05)  # spread moved to the population's
    voiced = person[:, 1] != 0
    assert (calibrated[~voiced, 1] == 0).all()  # unvoiced stays 0
    # 10000 own frames against a prior of 100: 1 % of the way left, times s0 / s = 2
    assert calibrated[voiced, 1].mean() == pytest.approx(PRIOR.mean[1], abs=0.1)


def test_the_prior_weight_decides_how_much_a_few_frames_move():
    frames = np.array([[14.0, 0.0]] * 10)
    strong = calibrate_person(frames, PRIOR, prior_frames=1e6)
    np.testing.assert_allclose(strong, frames, atol=1e-3)  # the prior dominates: unchanged
    weighted = calibrate_person(frames, PRIOR, prior_frames=100, weight=10.0)  # 100 own frames
    unweighted = calibrate_person(np.repeat(frames, 10, axis=0), PRIOR, prior_frames=100)
    np.testing.assert_allclose(weighted[0], unweighted[0])


def test_running_calibration_is_causal_and_starts_at_the_prior():
    calibration = RunningCalibration(PRIOR, prior_frames=50)
    person = np.column_stack([RNG.normal(14, 1, 400), RNG.normal(3, 0.5, 400)])
    out = calibration.push(person)
    first = out[0]
    assert abs(first[0] - person[0, 0]) < abs(person[0, 0] - 10)  # one frame moves it a little
    later = RunningCalibration(PRIOR, prior_frames=50).push(person[:100])
    np.testing.assert_allclose(out[:100], later)  # frame t depends only on frames up to t
    assert abs(out[-100:, 0].mean() - 10) < 0.5  # after 400 frames (8x the prior) near the mean
    calibration.reset()
    np.testing.assert_allclose(calibration.push(person[:1]), out[:1])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_running_calibration_is_the_same_for_any_block_split(cuts):
    frames = np.column_stack([RNG.normal(12, 1, 120), RNG.normal(1, 1, 120)])
    frames[::4, 1] = 0.0
    whole = RunningCalibration(PRIOR, 30).push(frames)
    split = RunningCalibration(PRIOR, 30)
    edges = np.unique(np.clip(np.cumsum(cuts), 0, 120))
    parts = [split.push(part) for part in np.split(frames, edges)]
    np.testing.assert_allclose(np.vstack(parts), whole, rtol=1e-12, atol=1e-9)


def test_a_codebook_keeps_its_prior_in_its_file_and_checksum(tmp_path):
    from streamer.bow.codebook import Codebook

    book = Codebook.fit(POPULATION, 8, feature_names=("a", "b_nz"))
    with_prior = dataclasses.replace(book, prior=PRIOR)
    assert with_prior.checksum != book.checksum
    with_prior.save(tmp_path / "x.npz")
    loaded = Codebook.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(loaded.prior.std, PRIOR.std)
    assert loaded.prior.sparse.tolist() == [False, True] and loaded.checksum == with_prior.checksum
    book.save(tmp_path / "y.npz")
    assert Codebook.load(tmp_path / "y.npz").prior is None
    with pytest.raises(StreamerError, match="calibration prior"):
        CalibrationPrior(np.zeros(2), np.zeros(2), np.zeros(2, bool))


def test_a_person_is_read_against_their_neutral_items_and_left_raw_without_one():
    from streamer.training.unimodal import Item, calibrate_items

    def item(person, category):
        return Item("kdef", person, "train", category, 0.0, 0.0, "")

    items = [item("A", "neutral"), item("A", "happiness"), item("B", "happiness")]
    rest, smile = RNG.normal(14, 1, (4000, 2)), RNG.normal(17, 1, (4000, 2))
    frames = [{"g": rest}, {"g": smile}, {"g": smile}]
    prior = CalibrationPrior.fit(POPULATION, [False, False])
    out = calibrate_items(items, frames, {"g": prior}, {"g": 10.0}, weight=1.0)
    assert np.abs(out[0]["g"].mean(axis=0) - prior.mean).max() < 0.05  # at rest: the population's rest
    assert out[1]["g"][:, 0].mean() > prior.mean[0] + 2  # the smile stays a smile above it
    assert out[2]["g"] is smile  # B has no neutral item: as they are


def test_calibrate_person_takes_the_statistics_of_the_reference_frames():
    reference = np.column_stack([RNG.normal(14, 1, 5000), RNG.normal(3, 0.5, 5000)])
    moved = calibrate_person(np.array([[14.0, 3.0], [15.0, 0.0]]), PRIOR, 1.0, reference=reference)
    np.testing.assert_allclose(moved[0], PRIOR.mean, atol=0.1)
    assert moved[1, 0] == pytest.approx(PRIOR.mean[0] + PRIOR.std[0], abs=0.2) and moved[1, 1] == 0.0


def test_neutral_first_reads_an_item_after_n_seconds_of_the_persons_other_neutral_frames():
    from types import SimpleNamespace

    from streamer.bow.calibration import FRAMES_PER_S
    from streamer.config import load_config
    from streamer.training.heldout import neutral_first
    from streamer.training.unimodal import Item

    prior = CalibrationPrior(np.zeros(3), np.ones(3), np.zeros(3, bool))
    model = SimpleNamespace(groups={"audio": ("audio",)},
                            codebooks={"audio": SimpleNamespace(prior=prior)})  # fmt: skip
    config = load_config()
    items = [Item("emodb", "a", "test", "neutral", 0, 0, ""),
             Item("emodb", "a", "test", "anger", 0, 0, ""),
             Item("emodb", "b", "test", "anger", 0, 0, "")]  # fmt: skip
    neutral, angry = RNG.normal(5, 1, (150, 3)), RNG.normal(8, 1, (100, 3))
    frames = [{"audio": neutral}, {"audio": angry}, {"audio": angry}]
    prior_frames = config.calibration.prior_s * FRAMES_PER_S["audio"]

    def shown_after(seconds):
        return neutral_first(model, "audio", items, frames, config, seconds)

    after_0, after_1 = shown_after(0.0)[1]["audio"], shown_after(1.0)[1]["audio"]
    np.testing.assert_allclose(after_0, calibrate_person(angry, prior, prior_frames))
    reference = np.concatenate([neutral[:100], angry])  # 1 s of LLDs at 100 frames/s
    np.testing.assert_allclose(after_1, calibrate_person(angry, prior, prior_frames, reference=reference))
    assert shown_after(1.0)[2] is None  # speaker b has no neutral item
    assert shown_after(1.0)[0] is None  # the neutral item itself has no other one
    # 16 s: the neutral frames repeated to 1600 (the item's own 100 after them)
    reference = np.concatenate([np.tile(neutral, (11, 1))[:1600], angry])
    np.testing.assert_allclose(shown_after(16.0)[1]["audio"],
                               calibrate_person(angry, prior, prior_frames, reference=reference))  # fmt: skip
