"""The paper's output scaling module: fitted on training predictions and labels, applied later.

Kinds (p: a prediction, statistics with suffix ``_p`` from the model's predictions on the
training set, ``_y`` from the training labels):

``none``
    p' = p.
``decimal`` (Eq. 4, decimal scaling)
    p' = p / 10**j, with j the smallest integer such that max|p_train| / 10**j < 1, i.e.
    j = floor(log10(max|p_train|)) + 1. j may be negative (predictions that are all small
    get magnified), so the training predictions end up with magnitude in [0.1, 1), the
    range of the SEWA labels. max|p_train| = 0 gives j = 0.
``minmax`` (Eq. 2)
    p' = (p - min_p) / (max_p - min_p) * (max_y - min_y) + min_y: the training prediction
    range maps onto the training label range. A zero prediction range keeps the slope 1
    and maps min_p to the middle of the label range.
``std_ratio`` (Eq. 3, with the ratio the right way up)
    p' = mean_p + (sigma_y / sigma_p) * (p - mean_p): the spread of the predictions becomes
    the spread of the labels, around the training prediction mean. Scaling around the
    prediction mean changes only the spread; the level stays what the MSE-trained model
    learned (on training data mean_p is already close to mean_y), and no training-label
    mean is forced onto recordings whose mean differs. sigma_p = 0 keeps the slope 1.
"""

from __future__ import annotations

import math

import numpy as np

from streamer.errors import StreamerError

_PARAMS = {
    "none": (),
    "decimal": ("j",),
    "minmax": ("min_p", "max_p", "min_y", "max_y"),
    "std_ratio": ("mean_p", "sigma_p", "sigma_y"),
}
KINDS = tuple(_PARAMS)


def _finite_1d(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise StreamerError(f"scaler got no {what}: fit on a non-empty training set")
    if not np.isfinite(a).all():
        raise StreamerError(f"{what} contain NaN or inf: drop or fill those rows before scaling")
    return a


def decimal_exponent(max_abs: float) -> int:
    """Smallest integer j with ``max_abs / 10**j < 1`` (0 when max_abs is 0)."""
    if max_abs == 0.0:
        return 0
    j = math.floor(math.log10(max_abs)) + 1
    while max_abs / 10.0**j >= 1.0:  # guard log10 rounding at exact powers of ten
        j += 1
    while max_abs / 10.0 ** (j - 1) < 1.0:
        j -= 1
    return j


class Scaler:
    """Output scaling fitted on training data; ``params_`` holds the learned numbers.

    Parameters
    ----------
    kind : str
        One of ``none``, ``decimal``, ``minmax``, ``std_ratio`` (see the module docstring).
    """

    def __init__(self, kind: str = "none") -> None:
        if kind not in _PARAMS:
            raise StreamerError(f"unknown scaling kind {kind!r}: use one of {', '.join(KINDS)}")
        self.kind = kind
        self.params_: dict[str, float] | None = {} if kind == "none" else None

    def fit(self, pred_train, y_train) -> Scaler:
        """Learn the parameters from training predictions and training labels (same unit)."""
        p = _finite_1d(pred_train, "training predictions")
        y = _finite_1d(y_train, "training labels")
        if p.size != y.size:
            raise StreamerError(
                f"{p.size} training predictions but {y.size} labels: fit on aligned rows"
            )
        if self.kind == "none":
            params: dict[str, float] = {}
        elif self.kind == "decimal":
            params = {"j": decimal_exponent(float(np.max(np.abs(p))))}
        elif self.kind == "minmax":
            params = {
                "min_p": float(p.min()),
                "max_p": float(p.max()),
                "min_y": float(y.min()),
                "max_y": float(y.max()),
            }
        else:
            params = {
                "mean_p": float(p.mean()),
                "sigma_p": float(p.std()),
                "sigma_y": float(y.std()),
            }
        self.params_ = params
        return self

    def apply(self, pred) -> np.ndarray:
        """Scale new predictions; returns a float64 array of the input's shape."""
        if self.params_ is None:
            raise StreamerError(f"the {self.kind} scaler is not fitted: call fit() or from_dict()")
        p = np.asarray(pred, dtype=np.float64)
        q = self.params_
        if self.kind == "none":
            return p.copy()
        if self.kind == "decimal":
            return p / 10.0 ** q["j"]
        if self.kind == "minmax":
            span_p = q["max_p"] - q["min_p"]
            span_y = q["max_y"] - q["min_y"]
            if span_p == 0.0:
                return p - q["min_p"] + (q["min_y"] + q["max_y"]) / 2.0
            return (p - q["min_p"]) * (span_y / span_p) + q["min_y"]
        ratio = q["sigma_y"] / q["sigma_p"] if q["sigma_p"] > 0.0 else 1.0
        return q["mean_p"] + ratio * (p - q["mean_p"])

    def to_dict(self) -> dict:
        """JSON-serialisable ``{"kind": ..., "params": {...}}`` of a fitted scaler."""
        if self.params_ is None:
            raise StreamerError(f"the {self.kind} scaler is not fitted: nothing to save")
        return {"kind": self.kind, "params": dict(self.params_)}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """Rebuild a fitted scaler from :meth:`to_dict` output."""
        try:
            kind, params = data["kind"], data["params"]
        except (KeyError, TypeError):
            raise StreamerError("scaler record needs 'kind' and 'params' keys") from None
        scaler = cls(kind)
        expected = set(_PARAMS[kind])
        if not isinstance(params, dict) or set(params) != expected:
            raise StreamerError(
                f"{kind} scaler record needs params {sorted(expected)}, got {params!r}"
            )
        values = {k: float(v) for k, v in params.items()}
        if not all(math.isfinite(v) for v in values.values()):
            raise StreamerError(f"{kind} scaler record has non-finite params: {params!r}")
        if kind == "decimal":
            values["j"] = int(values["j"])
        scaler.params_ = values
        return scaler
