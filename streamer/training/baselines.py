"""AVEC 2017 baselines: linear SVR per modality, early fusion and late fusion.

The SVR matches the AVEC 2017 Emotion Sub-Challenge baseline script (``run_baseline.py``,
M. Schmitt): ``sklearn.svm.LinearSVR(C=c, random_state=0)`` with the defaults of that time,
i.e. liblinear's L2-regularised L1-loss (epsilon-insensitive, ``epsilon=0``) SVR solved in
the dual (liblinear ``-s 13``), an intercept learnt as an extra feature of value 1
(``intercept_scaling=1``, regularised as liblinear does), ``tol=1e-4``,
``max_iter=1000``, no feature scaling, and the complexity searched over
``2 ** -15 ... 2 ** 0`` (16 values), the best one by CCC on the development data.
In the paper's protocol the CCC for the search is taken on the first dev subset (tuning).

Late fusion is a linear regression (with intercept) over the unimodal SVR predictions,
fitted on the tuning subset; its coefficients give the modality importance (Fig. 3).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.svm import LinearSVR

from streamer.fusion.metrics import ccc  # AVEC's: covariance over N, variances over N - 1

#: The AVEC 2017 baseline's complexity grid: 2^-15, 2^-14, ..., 2^0.
AVEC_COMPLEXITIES = 2.0 ** np.arange(-15, 1)
#: Seed of the AVEC 2017 baseline (``random_state=0``).
AVEC_SEED = 0
#: Order in which modalities are concatenated for early fusion.
MODALITIES = ("audio", "video", "text")


def make_svr(c: float, *, max_iter: int = 1000, tol: float = 1e-4) -> LinearSVR:
    """Return an unfitted linear SVR configured like the AVEC 2017 baseline.

    Parameters
    ----------
    c : float
        Complexity (liblinear ``C``), unitless.
    max_iter : int
        Maximum dual coordinate-descent passes (AVEC: sklearn's default, 1000).
    tol : float
        Stopping tolerance (AVEC: sklearn's default, 1e-4).
    """
    return LinearSVR(
        C=float(c),
        epsilon=0.0,
        loss="epsilon_insensitive",  # L1-loss SVR, liblinear -s 13
        dual=True,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=tol,
        max_iter=max_iter,
        random_state=AVEC_SEED,
    )


def fit_svr_at(c: float, X, y, max_iter: int = 1000, tol: float = 1e-4):
    """A linear SVR with complexity ``c`` fitted on ``X``, ``y`` (AVEC settings, no search)."""
    model = make_svr(c, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        # AVEC's large complexities often stop at max_iter; the baseline ignored it too.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def _search_job(c, X, y, tune_X, tune_y, max_iter, tol):
    model = fit_svr_at(c, X, y, max_iter, tol)
    return model, ccc(tune_y, model.predict(tune_X))


def fit_svr(
    train_X,
    train_y,
    tune_X,
    tune_y,
    complexities: Sequence[float] = AVEC_COMPLEXITIES,
    *,
    search_stride: int = 1,
    max_iter: int = 1000,
    tol: float = 1e-4,
    n_jobs: int = 1,
):
    """Fit linear SVRs for every complexity and keep the best one by tuning CCC.

    Parameters
    ----------
    train_X : array (n_train, n_features)
        Training features (e.g. bag-of-words term frequencies), unscaled as in AVEC.
    train_y : array (n_train,)
        Training labels (arousal, valence or liking), label units.
    tune_X : array (n_tune, n_features)
        Features of the tuning subset (first dev subset).
    tune_y : array (n_tune,)
        Labels of the tuning subset.
    complexities : sequence of float
        Complexities ``C`` to try (default: AVEC's ``2 ** -15 ... 2 ** 0``).
    search_stride : int
        Fit the search on every ``search_stride``-th training row (1 = all rows, as AVEC);
        with a stride > 1 the best ``C`` is refitted on all rows. liblinear sums the loss
        over rows, so the search fits the subsample with ``C * search_stride`` to keep the
        same balance of loss and regularisation as the refit with ``C``. Rows 0.1 s apart
        share most of their 6 s bag window, so a stride of 5-10 loses little.
    max_iter, tol : int, float
        liblinear stopping rule (AVEC: 1000 passes, 1e-4).
    n_jobs : int
        Complexities fitted in parallel worker processes (results are identical to 1).

    Returns
    -------
    model : LinearSVR
        The fitted SVR with the best complexity.
    best_c : float
        Its complexity (first one on ties, i.e. the smallest in the default grid).
    scores : ndarray (n_complexities,)
        Tuning CCC (unitless) of every complexity, in the order given.
    """
    train_X = np.asarray(train_X, dtype=np.float64)
    train_y = np.asarray(train_y, dtype=np.float64).ravel()
    tune_X = np.asarray(tune_X, dtype=np.float64)
    tune_y = np.asarray(tune_y, dtype=np.float64).ravel()
    cs = [float(c) for c in complexities]
    if not cs:
        raise ValueError("complexities is empty")
    if train_X.shape[0] != train_y.size or tune_X.shape[0] != tune_y.size:
        raise ValueError("features and labels have different numbers of rows")
    if search_stride < 1:
        raise ValueError("search_stride must be >= 1")
    k = search_stride
    Xs, ys = train_X[::k], train_y[::k]

    if n_jobs == 1:
        results = [_search_job(c * k, Xs, ys, tune_X, tune_y, max_iter, tol) for c in cs]
    else:
        # Processes, not threads: liblinear shuffles with the C library's global rand(),
        # which concurrent threads would share (results would then depend on timing).
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_search_job)(c * k, Xs, ys, tune_X, tune_y, max_iter, tol) for c in cs
        )
    scores = np.array([s for _, s in results], dtype=np.float64)
    best = int(np.argmax(np.nan_to_num(scores, nan=-np.inf)))
    model, best_c = results[best][0], cs[best]
    if k > 1:
        model = fit_svr_at(best_c, train_X, train_y, max_iter, tol)
    return model, best_c, scores


def concat_modalities(features: Mapping[str, np.ndarray], modalities: Sequence[str]) -> np.ndarray:
    """Concatenate per-modality feature matrices column-wise (early fusion).

    Parameters
    ----------
    features : dict of str to array (n, n_features_m)
        Feature matrix per modality, same rows (time steps) in each.
    modalities : sequence of str
        Modalities to use, in this column order.
    """
    mats = [np.asarray(features[m], dtype=np.float64) for m in modalities]
    if len({m.shape[0] for m in mats}) != 1:
        raise ValueError("modalities have different numbers of rows")
    return np.hstack(mats)


@dataclass
class SvrBaseline:
    """A fitted SVR baseline: one modality or an early fusion of several."""

    modalities: tuple[str, ...]
    model: LinearSVR
    best_c: float
    scores: np.ndarray  # tuning CCC per complexity
    fit_time_s: float = 0.0

    def predict(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Predict labels (n,) from a dict of per-modality features (n, n_features_m)."""
        return self.model.predict(concat_modalities(features, self.modalities))


def fit_svr_baselines(
    train: Mapping[str, np.ndarray],
    train_y,
    tune: Mapping[str, np.ndarray],
    tune_y,
    *,
    modalities: Sequence[str] | None = None,
    early_fusion: bool = True,
    complexities: Sequence[float] = AVEC_COMPLEXITIES,
    **kwargs,
) -> dict[str, SvrBaseline]:
    """Fit one SVR per modality and, optionally, one on all modalities concatenated.

    Parameters
    ----------
    train, tune : dict of str to array (n, n_features_m)
        Features per modality for the training set and the tuning subset.
    train_y, tune_y : array (n,)
        Labels of one dimension (arousal, valence or liking).
    modalities : sequence of str, optional
        Modalities to use (default: those of ``MODALITIES`` present in ``train``, then others).
    early_fusion : bool
        Also fit the early-fusion SVR, stored under ``"early"``.
    complexities, **kwargs
        Passed to :func:`fit_svr`.

    Returns
    -------
    dict of str to SvrBaseline
        Keyed by modality name, plus ``"early"``.
    """
    if modalities is None:
        modalities = [m for m in MODALITIES if m in train] + [
            m for m in train if m not in MODALITIES
        ]
    groups = {m: (m,) for m in modalities}
    if early_fusion and len(modalities) > 1:
        groups["early"] = tuple(modalities)
    out = {}
    for name, mods in groups.items():
        t0 = time.perf_counter()
        model, best_c, scores = fit_svr(
            concat_modalities(train, mods),
            train_y,
            concat_modalities(tune, mods),
            tune_y,
            complexities,
            **kwargs,
        )
        out[name] = SvrBaseline(mods, model, best_c, scores, time.perf_counter() - t0)
    return out


@dataclass
class LateFusion:
    """Linear regression over unimodal predictions (late fusion).

    Attributes
    ----------
    modalities_ : tuple of str
        Input order of the regression.
    coef_ : ndarray (n_modalities,)
        Weight of each unimodal prediction (label units per label unit).
    intercept_ : float
        Offset, label units.
    pred_std_ : ndarray (n_modalities,)
        Standard deviation of each unimodal prediction on the fitting data, label units.
    """

    modalities_: tuple[str, ...]
    coef_: np.ndarray
    intercept_: float
    pred_std_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _stack(self, predictions: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [m for m in self.modalities_ if m not in predictions]
        if missing:
            raise KeyError(f"missing unimodal predictions: {missing}")
        return np.column_stack(
            [np.asarray(predictions[m], dtype=np.float64).ravel() for m in self.modalities_]
        )

    def predict(self, predictions: Mapping[str, np.ndarray]) -> np.ndarray:
        """Fuse unimodal predictions (dict of (n,)) into one prediction (n,), label units."""
        return self._stack(predictions) @ self.coef_ + self.intercept_

    def modality_importance(self, method: str = "scaled") -> dict[str, float]:
        """Relative importance of each modality (Fig. 3 of the paper), summing to 1.

        Parameters
        ----------
        method : {"scaled", "coef"}
            ``"scaled"`` (default): ``|coef_m| * std(pred_m)``, normalised. This is the
            standardised regression coefficient: how much of the fused output's variation
            comes from modality m. Raw weights are not comparable across modalities, because
            an SVR that learnt little predicts nearly a constant (tiny std) and may then get
            a large weight that changes the fused output very little.
            ``"coef"``: ``|coef_m|`` normalised, the raw weights as a figure might plot them.

        Returns
        -------
        dict of str to float
            Importance per modality, unitless, non-negative, summing to 1 (all zero if every
            weight is zero).
        """
        if method == "scaled":
            raw = np.abs(self.coef_) * self.pred_std_
        elif method == "coef":
            raw = np.abs(self.coef_)
        else:
            raise ValueError(f"unknown method {method!r}")
        total = raw.sum()
        share = raw / total if total > 0 else np.zeros_like(raw)
        return {m: float(s) for m, s in zip(self.modalities_, share, strict=True)}


def fit_late_fusion(predictions: Mapping[str, np.ndarray], labels) -> LateFusion:
    """Fit the late fusion on the first dev subset (the tuning subset).

    Parameters
    ----------
    predictions : dict of str to array (n,)
        Unimodal SVR predictions on the tuning subset, label units.
    labels : array (n,)
        Gold-standard labels of the tuning subset.

    Returns
    -------
    LateFusion
        Ordinary least squares ``y ~ b + sum_m w_m * pred_m``.
    """
    modalities = tuple(predictions)
    if not modalities:
        raise ValueError("no unimodal predictions")
    X = np.column_stack([np.asarray(predictions[m], dtype=np.float64).ravel() for m in modalities])
    y = np.asarray(labels, dtype=np.float64).ravel()
    if X.shape[0] != y.size:
        raise ValueError("predictions and labels have different lengths")
    reg = LinearRegression(fit_intercept=True).fit(X, y)
    return LateFusion(
        modalities_=modalities,
        coef_=np.asarray(reg.coef_, dtype=np.float64),
        intercept_=float(reg.intercept_),
        pred_std_=X.std(axis=0),
    )
