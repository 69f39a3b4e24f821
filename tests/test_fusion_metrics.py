"""Fusion maths: AVEC CCC, PCC, RMSE, the scaling module and delay compensation."""

import json

import numpy as np
import pytest

from streamer.errors import StreamerError
from streamer.fusion.delay import delay_grid_search, delay_rows, shift_features
from streamer.fusion.metrics import ccc, ccc_lin, pcc, rmse
from streamer.fusion.scaling import KINDS, Scaler, decimal_exponent

T = [1.0, 2.0, 3.0, 4.0]
P = [2.0, 2.0, 4.0, 4.0]


# ---------------------------------------------------------------- metrics


def test_ccc_matches_hand_computation_of_the_avec_script():
    # mean_t = 2.5, mean_p = 3.0
    # t - mean_t = [-1.5, -0.5, 0.5, 1.5];  p - mean_p = [-1, -1, 1, 1]
    # cov   = (1.5 + 0.5 + 0.5 + 1.5) / N     = 4 / 4 = 1
    # var_t = (2.25 + 0.25 + 0.25 + 2.25) / (N - 1) = 5 / 3
    # var_p = (1 + 1 + 1 + 1) / (N - 1)             = 4 / 3
    # CCC   = 2 * 1 / (5/3 + 4/3 + 0.5**2) = 2 / 3.25 = 8 / 13
    assert ccc(T, P) == pytest.approx(8 / 13, abs=1e-12)


def test_ccc_lin_uses_population_moments():
    # var_t = 5/4, var_p = 1, cov = 1: CCC = 2 / (5/4 + 1 + 1/4) = 0.8
    assert ccc_lin(T, P) == pytest.approx(0.8, abs=1e-12)


def test_perfect_agreement():
    t = np.array([0.3, -0.2, 0.8, 0.1, -0.5])
    # AVEC: 2 * S/N / (2 * S/(N-1)) = (N - 1) / N
    assert ccc(t, t) == pytest.approx(4 / 5, abs=1e-12)
    assert ccc_lin(t, t) == pytest.approx(1.0, abs=1e-12)
    assert pcc(t, t) == pytest.approx(1.0, abs=1e-12)
    assert rmse(t, t) == 0.0


def test_sign_flip():
    t = np.array([-1.0, 0.0, 1.0])
    # cov = -(1 + 0 + 1) / 3 = -2/3; var = 2 / 2 = 1 each; equal means: CCC = -4/3 / 2
    assert ccc(t, -t) == pytest.approx(-2 / 3, abs=1e-12)
    assert ccc(t, -t) == pytest.approx(-ccc(t, t), abs=1e-12)
    assert pcc(t, -t) == pytest.approx(-1.0, abs=1e-12)
    assert ccc(T, P) == pytest.approx(ccc(P, T), abs=1e-12)  # symmetric


def test_constant_prediction_gives_zero_and_same_constant_raises():
    assert ccc([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) == 0.0
    assert pcc([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) == 0.0
    with pytest.raises(StreamerError, match="same constant"):
        ccc([2.0, 2.0], [2.0, 2.0])


@pytest.mark.parametrize(
    ("t", "p"),
    [
        ([1.0], [1.0]),
        ([1.0, np.nan], [1.0, 2.0]),
        ([1.0, 2.0], [1.0, np.inf]),
        ([1.0, 2.0], [1.0, 2.0, 3.0]),
        ([[1.0, 2.0]], [[1.0, 2.0]]),
    ],
)
def test_bad_inputs_raise(t, p):
    with pytest.raises(StreamerError):
        ccc(t, p)


def test_pcc_and_rmse_basics():
    # r = 4 / sqrt(5 * 4)
    assert pcc(T, P) == pytest.approx(4 / np.sqrt(20), abs=1e-12)
    # differences [-1, 0, -1, 0]: sqrt(2 / 4)
    assert rmse(T, P) == pytest.approx(np.sqrt(0.5), abs=1e-12)
    assert rmse([3.0], [1.0]) == 2.0
    with pytest.raises(StreamerError):
        rmse([], [])


# ---------------------------------------------------------------- scaling


def test_decimal_exponent():
    assert decimal_exponent(345.0) == 3
    assert decimal_exponent(0.05) == -1
    assert decimal_exponent(0.5) == 0
    assert decimal_exponent(100.0) == 3  # 100 / 10**2 = 1 is not < 1
    assert decimal_exponent(1.0) == 1
    assert decimal_exponent(0.0) == 0


def test_decimal_scaling():
    s = Scaler("decimal").fit([12.0, -345.0, 7.0], [0.0, 0.0, 0.0])
    assert s.params_ == {"j": 3}
    np.testing.assert_allclose(s.apply([345.0, -12.0]), [0.345, -0.012])
    small = Scaler("decimal").fit([0.02, -0.05], [0.1, 0.2])
    np.testing.assert_allclose(small.apply([0.05, -0.02]), [0.5, -0.2])


def test_minmax_scaling():
    s = Scaler("minmax").fit([0.1, 0.3, 0.5], [-1.0, 0.0, 1.0])
    # (p - 0.1) / 0.4 * 2 - 1
    np.testing.assert_allclose(s.apply([0.1, 0.3, 0.5, 0.7]), [-1.0, 0.0, 1.0, 2.0], atol=1e-12)
    flat = Scaler("minmax").fit([0.2, 0.2], [-1.0, 1.0])
    np.testing.assert_allclose(
        flat.apply([0.2, 0.3]), [0.0, 0.1], atol=1e-12
    )  # slope 1, to label middle


def test_std_ratio_scaling():
    # predictions: mean 2, std sqrt(2/3); labels std 2 * sqrt(2/3): ratio 2 (labels / preds)
    s = Scaler("std_ratio").fit([1.0, 2.0, 3.0], [0.0, 2.0, 4.0])
    np.testing.assert_allclose(s.apply([1.0, 2.0, 3.0, 5.0]), [0.0, 2.0, 4.0, 8.0])
    rng = np.random.default_rng(0)
    p, y = rng.normal(0.1, 0.05, 200), rng.normal(0.0, 0.4, 200)
    out = Scaler("std_ratio").fit(p, y).apply(p)
    assert out.std() == pytest.approx(y.std())
    assert out.mean() == pytest.approx(p.mean())  # around the prediction mean
    flat = Scaler("std_ratio").fit([0.3, 0.3], [0.0, 1.0])
    np.testing.assert_allclose(flat.apply([0.3, 0.5]), [0.3, 0.5])


def test_none_scaling_is_identity_even_unfitted():
    np.testing.assert_array_equal(Scaler("none").apply([0.1, -2.0]), [0.1, -2.0])


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_through_json(kind):
    p, y = [0.12, -0.4, 0.33, 0.05], [-0.8, 0.1, 0.9, 0.0]
    s = Scaler(kind).fit(p, y)
    back = Scaler.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.kind == kind
    new = [0.2, -0.1, 0.6]
    np.testing.assert_array_equal(back.apply(new), s.apply(new))


def test_scaler_errors():
    with pytest.raises(StreamerError, match="unknown scaling kind"):
        Scaler("zscore")
    with pytest.raises(StreamerError, match="not fitted"):
        Scaler("minmax").apply([1.0])
    with pytest.raises(StreamerError):
        Scaler("minmax").fit([1.0, 2.0], [1.0])
    with pytest.raises(StreamerError):
        Scaler("minmax").fit([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(StreamerError):
        Scaler.from_dict({"kind": "minmax", "params": {"min_p": 0.0}})
    with pytest.raises(StreamerError):
        Scaler.from_dict({"params": {}})


# ---------------------------------------------------------------- delay


def _recording(n_rows=30):
    t = np.arange(n_rows, dtype=float)
    return np.column_stack([t, 10.0 * t])  # column 0 is the row index


def test_shift_zero_is_an_unchanged_copy():
    x = _recording()
    out = shift_features(x, 0.0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_shift_one_and_a_half_seconds_is_fifteen_rows():
    assert delay_rows(1.5, 0.1) == 15
    assert delay_rows(2.5, 0.1) == 25
    x = _recording()
    out = shift_features(x, 1.5, hop_s=0.1)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[:15], np.repeat(x[:1], 15, axis=0))  # first row padding
    np.testing.assert_array_equal(out[15:], x[:15])
    # the label at row t (time t * 0.1 s) sees the features of row t - 15
    np.testing.assert_array_equal(out[:, 0], np.maximum(np.arange(30) - 15, 0))


def test_shift_longer_than_recording_repeats_first_row():
    x = _recording(20)  # 2 s
    out = shift_features(x, 5.0)
    np.testing.assert_array_equal(out, np.repeat(x[:1], 20, axis=0))
    assert shift_features(np.empty((0, 3)), 1.5).shape == (0, 3)


def test_shift_errors():
    with pytest.raises(StreamerError):
        shift_features(_recording(), -0.5)
    with pytest.raises(StreamerError):
        shift_features(np.arange(10.0), 1.0)
    with pytest.raises(StreamerError):
        shift_features(_recording(), 1.0, hop_s=0.0)


def test_grid_search_returns_argmax_and_all_scores():
    delays = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    calls = []

    def score(d):
        calls.append(d)
        return 0.5 - (d - 1.5) ** 2

    best, scores = delay_grid_search(delays, score)
    assert best == 1.5
    assert calls == delays
    np.testing.assert_allclose(scores, [0.5 - (d - 1.5) ** 2 for d in delays])


def test_grid_search_ties_nan_and_empty():
    best, scores = delay_grid_search([1.0, 2.0, 3.0], lambda d: {1.0: np.nan}.get(d, 0.3))
    assert best == 2.0  # NaN counts as worst; earliest of the tied best
    assert np.isnan(scores[0])
    with pytest.raises(StreamerError):
        delay_grid_search([], lambda d: 0.0)
    with pytest.raises(StreamerError):
        delay_grid_search([1.0], lambda d: np.nan)
