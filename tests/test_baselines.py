"""Tests of the AVEC 2017 baselines: linear SVR search, early fusion and late fusion."""

import numpy as np
import pytest

from streamer.fusion.metrics import ccc
from streamer.training.baselines import (
    AVEC_COMPLEXITIES,
    concat_modalities,
    fit_late_fusion,
    fit_svr,
    fit_svr_baselines,
    make_svr,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_TRAIN, N_TUNE, N_TEST, N_FEAT = 800, 300, 300, 12


def _data(seed=0):
    """Audio carries the label; video and text are independent noise."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TUNE + N_TEST
    feats = {m: rng.random((n, N_FEAT)) for m in ("audio", "video", "text")}
    w = rng.normal(size=N_FEAT)
    y = feats["audio"] @ w
    y = 0.3 * (y - y.mean()) / y.std() + rng.normal(0.0, 0.05, n)
    parts = np.split(np.arange(n), [N_TRAIN, N_TRAIN + N_TUNE])
    return [({m: f[idx] for m, f in feats.items()}, y[idx]) for idx in parts]


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def baselines(data):
    (train, ytr), (tune, ytu), _ = data
    return fit_svr_baselines(train, ytr, tune, ytu)


def test_avec_settings():
    model = make_svr(0.5)
    assert model.loss == "epsilon_insensitive" and model.epsilon == 0.0
    assert model.dual is True and model.fit_intercept and model.intercept_scaling == 1.0
    assert model.random_state == 0 and model.max_iter == 1000 and model.tol == 1e-4
    assert AVEC_COMPLEXITIES.size == 16
    assert AVEC_COMPLEXITIES[0] == 2.0**-15 and AVEC_COMPLEXITIES[-1] == 1.0


def test_ccc_matches_avec_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(0.3, 2.0, size=50)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    expected = 2 * cov / (x.var(ddof=1) + y.var(ddof=1) + (x.mean() - y.mean()) ** 2)
    assert ccc(x, y) == pytest.approx(expected, rel=1e-12)


def test_signal_modality_wins(data, baselines):
    _, _, (test, yte) = data
    assert set(baselines) == {"audio", "video", "text", "early"}
    assert baselines["early"].modalities == ("audio", "video", "text")
    test_ccc = {k: ccc(yte, b.predict(test)) for k, b in baselines.items()}
    tune_ccc = {k: b.scores.max() for k, b in baselines.items()}
    assert test_ccc["audio"] > 0.8
    assert test_ccc["audio"] > max(test_ccc["video"], test_ccc["text"]) + 0.5
    assert tune_ccc["audio"] > max(tune_ccc["video"], tune_ccc["text"]) + 0.5
    assert test_ccc["early"] > 0.7


def test_search_returns_best_tuning_c(data):
    (train, ytr), (tune, ytu), _ = data
    cs = 2.0 ** np.arange(-12, 1, 2)
    model, best_c, scores = fit_svr(train["audio"], ytr, tune["audio"], ytu, cs)
    assert scores.shape == cs.shape
    manual = []
    for c in cs:
        m = make_svr(c).fit(train["audio"], ytr)
        manual.append(ccc(ytu, m.predict(tune["audio"])))
    np.testing.assert_allclose(scores, manual, rtol=0, atol=1e-12)
    assert best_c == cs[int(np.argmax(manual))]
    assert best_c == model.C
    assert ccc(ytu, model.predict(tune["audio"])) == pytest.approx(scores.max(), abs=1e-12)
    # The search must actually discriminate: tiny C underfits on this data.
    assert scores.max() - scores.min() > 0.1


def test_parallel_and_stride(data):
    (train, ytr), (tune, ytu), _ = data
    cs = 2.0 ** np.arange(-10, 1, 3)
    m1, c1, s1 = fit_svr(train["audio"], ytr, tune["audio"], ytu, cs)
    m2, c2, s2 = fit_svr(train["audio"], ytr, tune["audio"], ytu, cs, n_jobs=2)
    assert c1 == c2
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(m1.coef_, m2.coef_)
    m3, c3, s3 = fit_svr(train["audio"], ytr, tune["audio"], ytu, cs, search_stride=4)
    refit = make_svr(c3).fit(train["audio"], ytr)  # refitted on every row
    np.testing.assert_array_equal(m3.coef_, refit.coef_)
    assert c3 == m3.C and c3 in cs
    # The search fits every 4th row with C * 4 (same loss/regularisation balance).
    sub = make_svr(cs[0] * 4).fit(train["audio"][::4], ytr[::4])
    assert s3[0] == pytest.approx(ccc(ytu, sub.predict(tune["audio"])), abs=1e-12)


def test_deterministic(data):
    (train, ytr), (tune, ytu), _ = data
    a = fit_svr(train["video"], ytr, tune["video"], ytu)
    b = fit_svr(train["video"], ytr, tune["video"], ytu)
    assert a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[0].coef_, b[0].coef_)
    assert a[0].intercept_ == b[0].intercept_


def test_input_validation(data):
    (train, ytr), (tune, ytu), _ = data
    with pytest.raises(ValueError):
        fit_svr(train["audio"], ytr[:-1], tune["audio"], ytu)
    with pytest.raises(ValueError):
        fit_svr(train["audio"], ytr, tune["audio"], ytu, [])
    with pytest.raises(ValueError):
        concat_modalities({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}, ["a", "b"])


def test_late_fusion_recovers_weights():
    rng = np.random.default_rng(3)
    preds = {m: rng.normal(size=200) for m in ("audio", "video", "text")}
    y = 0.5 + 2.0 * preds["audio"] - 1.0 * preds["video"] + 0.25 * preds["text"]
    fusion = fit_late_fusion(preds, y)
    assert fusion.modalities_ == ("audio", "video", "text")
    np.testing.assert_allclose(fusion.coef_, [2.0, -1.0, 0.25], atol=1e-10)
    assert fusion.intercept_ == pytest.approx(0.5, abs=1e-10)
    np.testing.assert_allclose(fusion.predict(preds), y, atol=1e-10)
    raw = fusion.modality_importance("coef")
    np.testing.assert_allclose(list(raw.values()), np.array([2.0, 1.0, 0.25]) / 3.25)
    scaled = fusion.modality_importance()
    expected = np.array([2.0, 1.0, 0.25]) * [preds[m].std() for m in fusion.modalities_]
    np.testing.assert_allclose(list(scaled.values()), expected / expected.sum())
    with pytest.raises(KeyError):
        fusion.predict({"audio": preds["audio"]})
    with pytest.raises(ValueError):
        fusion.modality_importance("bogus")


def test_late_fusion_importance_on_svr_predictions(data, baselines):
    _, (tune, ytu), (test, yte) = data
    uni = {m: baselines[m].predict(tune) for m in ("audio", "video", "text")}
    fusion = fit_late_fusion(uni, ytu)
    imp = fusion.modality_importance()
    assert sum(imp.values()) == pytest.approx(1.0)
    assert max(imp, key=imp.get) == "audio"
    assert imp["audio"] > 0.8
    # Why raw |coef| is not the default: a noise modality's SVR picks a tiny C and predicts
    # almost a constant, so its weight can be large while it barely moves the output.
    assert fusion.pred_std_[2] < 0.1 * fusion.pred_std_[0]
    fused = fusion.predict({m: baselines[m].predict(test) for m in uni})
    assert ccc(yte, fused) > 0.8
