"""A synthetic corpus in the AVEC 2017 layout with a known delay and known signal per modality.

Construction (rows every 0.1 s, ``n = n_rows``):

1. For each label j (arousal, valence, liking) a smooth Gaussian process ``u_j`` with unit
   variance: white noise convolved with a Gaussian kernel of standard deviation
   ``smooth_s``, divided by the kernel's L2 norm. It is drawn over ``n + D_j`` rows,
   ``D_j = round(delay_s[j] / 0.1)``.
2. Labels ``y_j[k] = clip(u_j[k] / 3, -1, 1)`` (std about 0.33, clipped in 0.3 % of rows).
3. The emotion the features express at row k is ``e_j[k] = u_j[k + D_j]``: the features at
   time t carry the label of time ``t + delay_s`` (annotations lag behind the expressed
   emotion, the AVEC convention), so pairing features at ``t - delay_s`` with the label at
   ``t`` realigns them.
4. Each modality has ``n_informative`` columns per label (fixed, random, disjoint; the same
   for every recording) whose pre-activation is ``z = sqrt(s) * e_j + sqrt(1 - s) * noise``
   with ``s = signal[modality][j]`` and white unit-variance noise: ``corr(z, e_j) =
   sqrt(s)``, i.e. the label explains the share ``s`` of each informative column's variance.
   The other columns are pure noise (``z = noise``).
5. Bag-like non-negative values: ``softplus(gain * z + bias)`` with a fixed random gain in
   [0.5, 1.5] and bias in [-2, 0] per column (monotone, so the linear correlation with the
   label is slightly below ``sqrt(s)``).

Train and Devel recordings get labels; Test recordings (``n_test``) get features only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.feature_csv import write_bags_csv

DEFAULT_DIMS = {"audio": 40, "video": 60, "text": 30}
# share of each informative column's variance explained by arousal, valence, liking
DEFAULT_SIGNAL = {"audio": (0.6, 0.3, 0.1), "video": (0.3, 0.6, 0.2), "text": (0.1, 0.3, 0.5)}
_LABELS = ("arousal", "valence", "liking")


@dataclass(frozen=True)
class SyntheticTruth:
    """What :func:`make_synthetic_corpus` built.

    Attributes
    ----------
    delay_s : tuple of float
        Per label (arousal, valence, liking): features at t carry the label at t + delay (s),
        quantised to 0.1 s.
    signal : dict of str to tuple of float
        Modality -> per label, share (0-1) of each informative column's pre-activation variance
        explained by the label (its correlation with the label is the square root).
    informative : dict of str to tuple of np.ndarray
        Modality -> per label, the indices of its informative feature columns (0-based, after
        ``name;timestamp``).
    dims : dict of str to int
        Modality -> number of feature columns.
    names : dict of str to list of str
        Partition (``train``, ``devel``, ``test``) -> recording names.
    n_rows : int
        Rows per recording (0.1 s each).
    """

    delay_s: tuple[float, float, float]
    signal: dict[str, tuple[float, float, float]]
    informative: dict[str, tuple[np.ndarray, ...]]
    dims: dict[str, int]
    names: dict[str, list[str]]
    n_rows: int


def _per_label(value: float | Sequence[float], what: str) -> tuple[float, float, float]:
    values = (float(value),) * 3 if np.isscalar(value) else tuple(float(v) for v in value)
    if len(values) != 3:
        raise ValueError(f"{what} needs one value or three (arousal, valence, liking)")
    return values


def _smooth_process(rng: np.random.Generator, n: int, smooth_rows: float) -> np.ndarray:
    """(n,) unit-variance Gaussian process: white noise through a Gaussian kernel."""
    if smooth_rows <= 0:
        return rng.standard_normal(n)
    half = int(np.ceil(4 * smooth_rows))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / smooth_rows) ** 2)
    kernel /= np.linalg.norm(kernel)
    return np.convolve(rng.standard_normal(n + 2 * half), kernel, mode="valid")


def _write(path: Path, name: str, times_s: np.ndarray, values: np.ndarray, header) -> None:
    write_bags_csv(path, name, times_s, values)
    if header is not None:
        path.write_text(";".join(header) + "\n" + path.read_text(encoding="utf-8"), "utf-8")


def make_synthetic_corpus(
    folder: str | Path,
    n_train: int = 8,
    n_devel: int = 6,
    n_rows: int = 600,
    dims: Mapping[str, int] | None = None,
    delay_s: float | Sequence[float] = 1.0,
    signal: Mapping[str, float | Sequence[float]] | None = None,
    seed: int = 0,
    n_test: int = 0,
    n_informative: int = 4,
    smooth_s: float = 1.0,
    header: bool = False,
) -> SyntheticTruth:
    """Write a synthetic AVEC 2017 corpus (see the module docstring for the construction).

    Parameters
    ----------
    folder : str or Path
        Where to write the modality folders and ``labels/`` (created if needed).
    n_train, n_devel, n_test : int
        Recordings per partition (Test gets no labels files).
    n_rows : int
        Rows per recording (0.1 s each; 600 = 60 s).
    dims : mapping of str to int, optional
        Modality (audio, video, text) -> feature columns; default 40, 60, 30.
    delay_s : float or sequence of 3 floats
        Lag (s) of the labels behind the features, one for all labels or per label.
    signal : mapping of str to float or sequence of 3 floats, optional
        Modality -> share (0-1) of an informative column's variance explained by each label;
        default :data:`DEFAULT_SIGNAL`.
    seed : int
        Seed of everything random.
    n_informative : int
        Informative columns per label and modality.
    smooth_s : float
        Standard deviation (s) of the Gaussian kernel that smooths the label processes.
    header : bool
        Write a header line in every file (the AVEC files may have one).

    Returns
    -------
    SyntheticTruth
        The delays, signal shares and informative columns.
    """
    from streamer.training.datasets import HOP_S, LABELS_FOLDER, MODALITY_FOLDERS

    folder = Path(folder)
    dims = dict(DEFAULT_DIMS if dims is None else dims)
    signal = DEFAULT_SIGNAL if signal is None else signal
    delays = _per_label(delay_s, "delay_s")
    shares = {m: _per_label(signal[m], f"signal[{m!r}]") for m in dims}
    for m, d in dims.items():
        if m not in MODALITY_FOLDERS:
            raise ValueError(f"unknown modality {m!r}")
        if d < 3 * n_informative:
            raise ValueError(f"dims[{m!r}] = {d} < 3 * n_informative = {3 * n_informative}")
        if not all(0 <= s <= 1 for s in shares[m]):
            raise ValueError(f"signal[{m!r}] must lie in [0, 1]")
    lags = [int(round(d / HOP_S)) for d in delays]
    if min(lags) < 0:
        raise ValueError("delay_s must be non-negative")
    rng = np.random.default_rng(seed)
    informative, gains, biases = {}, {}, {}
    for m, d in dims.items():
        columns = rng.permutation(d)[: 3 * n_informative].reshape(3, n_informative)
        informative[m] = tuple(np.sort(c) for c in columns)
        gains[m] = rng.uniform(0.5, 1.5, d)
        biases[m] = rng.uniform(-2.0, 0.0, d)
    times_s = np.arange(n_rows) * HOP_S
    names = {"train": [], "devel": [], "test": []}
    counts = {"train": n_train, "devel": n_devel, "test": n_test}
    for partition, count in counts.items():
        for i in range(count):
            name = f"{partition.capitalize()}_{i + 1:02d}"
            names[partition].append(name)
            processes = [_smooth_process(rng, n_rows + lag, smooth_s / HOP_S) for lag in lags]
            labels = np.stack([np.clip(u[:n_rows] / 3, -1, 1) for u in processes], axis=1)
            expressed = [u[lag : lag + n_rows] for u, lag in zip(processes, lags, strict=True)]
            for m, d in dims.items():
                z = rng.standard_normal((n_rows, d))
                for j, columns in enumerate(informative[m]):
                    s = shares[m][j]
                    z[:, columns] = (
                        np.sqrt(s) * expressed[j][:, None] + np.sqrt(1 - s) * z[:, columns]
                    )
                values = np.logaddexp(0.0, gains[m] * z + biases[m])  # softplus
                head = ["name", "timestamp", *(f"f{c + 1}" for c in range(d))] if header else None
                _write(folder / MODALITY_FOLDERS[m] / f"{name}.csv", name, times_s, values, head)
            if partition != "test":
                head = ["name", "timestamp", *_LABELS] if header else None
                _write(folder / LABELS_FOLDER / f"{name}.csv", name, times_s, labels, head)
    return SyntheticTruth(
        delay_s=tuple(lag * HOP_S for lag in lags),
        signal=shares,
        informative=informative,
        dims=dims,
        names=names,
        n_rows=n_rows,
    )
