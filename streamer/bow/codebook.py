"""Codebooks of numeric bags of words, with openXBOW's semantics.

A codebook holds ``n_words`` words (points in the standardised feature space) and the
per-feature mean and standard deviation of its training frames. A frame is standardised
with them and assigned the indices of its ``a`` nearest words (Euclidean distance),
nearest first; equal distances go to the lower index, as in openXBOW's linear scan
(``Bag.generateBoF``).

Generation follows openXBOW's ``CodebookNumeric``:

- ``random++`` (openXBOW's default): k-means++ seeding only. The first word is a training
  frame drawn uniformly, each further word a frame drawn with probability proportional
  to its squared distance to the nearest word chosen so far. Words are training frames.
- ``kmeans++``: the same seeding, then Lloyd iterations until no frame changes word (or
  ``kmeans_iterations``); a word left without frames keeps its place.

Standardisation follows openXBOW's ``Preprocessor``: mean and sample standard deviation
(divided by N - 1) over all frames given for training, before ``max_frames`` picks the
training subset. openXBOW divides by a zero deviation; here it is replaced by 1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from streamer.bow.calibration import CalibrationPrior
from streamer.errors import StreamerError

GROUPS = ("audio", "pose", "eyes", "landmarks", "")
GENERATIONS = ("random++", "kmeans++")
INPUT_SCALINGS = ("standardise", "normalise")
BLOCK_ROWS = 4096
KMEANS_ITERATIONS = 500  # openXBOW's (and Weka's) maximum number of Lloyd iterations


class CodebookError(StreamerError):
    """A codebook that cannot be fitted, read or applied; the message is one line."""


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64, order="C", copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Codebook:
    """Words and input standardisation of one feature group.

    Attributes
    ----------
    words : (n_words, n_dims) float64
        The words, in the standardised feature space.
    mean, std : (n_dims,) float64 or None
        Input scaling ``(x - mean) / std`` (feature units); None for none.
    assignments : int
        Number ``a`` of nearest words each frame is assigned to.
    feature_names : tuple of str
        Input columns the codebook was trained on; empty when unknown (openXBOW files).
    group : str
        "audio", "pose", "eyes", "landmarks" or "" (unknown).
    generation : str
        "random++", "kmeans++" or "" (unknown, openXBOW files).
    seed : int
        Seed of the random generator used for fitting.
    log_weighting : bool
        openXBOW's ``log`` flag (term frequencies weighted as log10(tf + 1)); kept from
        openXBOW files and written back, not used by quantisation.
    input_scaling : str
        What ``mean`` and ``std`` are: "standardise" (mean and standard deviation,
        openXBOW's ``-standardizeInput``) or "normalise" (minimum and range,
        ``-normalizeInput``). Both scale the same way; the name is written back to files.
    prior : CalibrationPrior or None
        The population's statistics of the training frames, for per-person calibration
        (:mod:`streamer.bow.calibration`); None when fitted without them.
    """

    words: np.ndarray
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    assignments: int = 1
    feature_names: tuple[str, ...] = ()
    group: str = ""
    generation: str = "random++"
    seed: int = 0
    log_weighting: bool = False
    input_scaling: str = "standardise"
    prior: CalibrationPrior | None = None

    def __post_init__(self) -> None:
        words = np.asarray(self.words, dtype=np.float64)
        if words.ndim != 2 or words.shape[0] == 0 or words.shape[1] == 0:
            raise CodebookError(
                f"codebook words must be a non-empty 2-D array, got shape {words.shape}"
            )
        if not np.isfinite(words).all():
            raise CodebookError("codebook words contain NaN or infinite values")
        object.__setattr__(self, "words", _readonly(words))
        n_words, n_dims = words.shape
        if (self.mean is None) != (self.std is None):
            raise CodebookError("codebook mean and std must both be given or both be None")
        if self.mean is not None:
            for name in ("mean", "std"):
                value = np.asarray(getattr(self, name), dtype=np.float64)
                if value.shape != (n_dims,) or not np.isfinite(value).all():
                    raise CodebookError(
                        f"codebook {name} must be {n_dims} finite values, got shape {value.shape}"
                    )
                object.__setattr__(self, name, _readonly(value))
            if (self.std <= 0).any():
                raise CodebookError("codebook standard deviations must be positive")
        a = int(self.assignments)
        if not 1 <= a <= n_words:
            raise CodebookError(f"assignments must be in 1..{n_words} (the codebook size), got {a}")
        object.__setattr__(self, "assignments", a)
        names = tuple(str(name) for name in self.feature_names)
        if names and len(names) != n_dims:
            raise CodebookError(f"codebook has {n_dims} dimensions but {len(names)} feature names")
        object.__setattr__(self, "feature_names", names)
        if self.group not in GROUPS:
            raise CodebookError(f"codebook group must be one of {GROUPS}, got {self.group!r}")
        if self.generation not in (*GENERATIONS, ""):
            raise CodebookError(f"generation must be one of {GENERATIONS}, got {self.generation!r}")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "log_weighting", bool(self.log_weighting))
        if self.prior is not None and len(self.prior.mean) != n_dims:
            raise CodebookError(f"the calibration prior has {len(self.prior.mean)} features, not {n_dims}")
        if self.input_scaling not in INPUT_SCALINGS:
            raise CodebookError(
                f"input_scaling must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}"
            )

    @property
    def n_words(self) -> int:
        """Codebook size."""
        return self.words.shape[0]

    @property
    def n_dims(self) -> int:
        """Number of input features."""
        return self.words.shape[1]

    @cached_property
    def checksum(self) -> str:
        """First 16 hex digits of a sha256 over words, mean, std and assignments."""
        digest = hashlib.sha256(b"streamer-codebook-1")
        digest.update(np.array(self.words.shape, dtype="<i8").tobytes())
        digest.update(self.words.astype("<f8").tobytes())
        if self.mean is None:
            digest.update(b"no-standardisation")
        else:
            digest.update(self.mean.astype("<f8").tobytes())
            digest.update(self.std.astype("<f8").tobytes())
        digest.update(np.array([self.assignments], dtype="<i8").tobytes())
        if self.prior is not None:  # codebooks without a prior keep their checksums
            for values in (self.prior.mean, self.prior.std, self.prior.sparse):
                digest.update(np.asarray(values, dtype="<f8").tobytes())
        return digest.hexdigest()[:16]

    @classmethod
    def fit(
        cls,
        frames,
        n_words: int,
        generation: str = "random++",
        seed: int = 0,
        max_frames: int = 0,
        standardise: bool = True,
        assignments: int = 1,
        kmeans_iterations: int = KMEANS_ITERATIONS,
        feature_names=(),
        group: str = "",
    ) -> Codebook:
        """Fit a codebook on training frames.

        Parameters
        ----------
        frames : (n_frames, n_dims) array_like
            Training frames (feature units); no NaN.
        n_words : int
            Codebook size.
        generation : str
            "random++" (seeding only) or "kmeans++" (seeding, then Lloyd iterations).
        seed : int
            Seed of the random generator; the same seed gives the same codebook.
        max_frames : int
            When > 0, train on a random subset of this many frames.
        standardise : bool
            Standardise the input with the mean and std of ``frames``.
        assignments : int
            Number ``a`` of nearest words per frame in :meth:`quantise`.
        kmeans_iterations : int
            Maximum number of Lloyd iterations for "kmeans++".
        feature_names, group
            Stored as given (see the class attributes).

        Raises
        ------
        CodebookError
            Bad input, or fewer distinct training frames than words.
        """
        if generation not in GENERATIONS:
            raise CodebookError(f"generation must be one of {GENERATIONS}, got {generation!r}")
        if n_words < 1:
            raise CodebookError(f"the codebook size must be at least 1, got {n_words}")
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] == 0:
            raise CodebookError(
                f"training frames must be a 2-D array (frames, features), got shape {x.shape}"
            )
        _check_finite(x, "training frames")
        if feature_names and len(feature_names) != x.shape[1]:
            raise CodebookError(
                f"{len(feature_names)} feature names for {x.shape[1]} feature columns"
            )
        if group not in GROUPS:
            raise CodebookError(f"codebook group must be one of {GROUPS}, got {group!r}")
        if x.shape[0] < n_words:
            raise CodebookError(
                f"{x.shape[0]} training frames are fewer than the {n_words} words: "
                "give more frames or a smaller codebook"
            )
        mean = std = None
        if standardise:
            mean = x.mean(axis=0)
            std = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.ones(x.shape[1])
            std = np.where(std > 0, std, 1.0)
        rng = np.random.default_rng(seed)
        if 0 < max_frames < x.shape[0]:
            if max_frames < n_words:
                raise CodebookError(
                    f"max_frames ({max_frames}) is smaller than the codebook size ({n_words})"
                )
            x = x[np.sort(rng.choice(x.shape[0], size=max_frames, replace=False))]
        if mean is not None:
            x = (x - mean) / std
        words = _seed_plus_plus(x, n_words, rng)
        if generation == "kmeans++":
            words = _lloyd(x, words, kmeans_iterations)
        return cls(
            words=words,
            mean=mean,
            std=std,
            assignments=assignments,
            feature_names=tuple(feature_names),
            group=group,
            generation=generation,
            seed=seed,
        )

    def standardised(self, frames) -> np.ndarray:
        """Frames (feature units) standardised with the stored mean and std."""
        x = self._checked(frames)
        return x if self.mean is None else (x - self.mean) / self.std

    def quantise(self, frames, assignments: int | None = None) -> np.ndarray:
        """Indices of the nearest words of each frame, nearest first.

        Parameters
        ----------
        frames : (n_frames, n_dims) array_like
            Frames in feature units (standardised here); no NaN.
        assignments : int, optional
            Number ``a`` of words per frame; defaults to the codebook's.

        Returns
        -------
        (n_frames, a) int64
            Word indices; equal distances rank the lower index first.
        """
        a = self.assignments if assignments is None else int(assignments)
        if not 1 <= a <= self.n_words:
            raise CodebookError(f"assignments must be in 1..{self.n_words}, got {a}")
        x = self._checked(frames)
        out = np.empty((x.shape[0], a), dtype=np.int64)
        weights = -2.0 * self.words.T
        norms = np.einsum("ij,ij->i", self.words, self.words)
        for start in range(0, x.shape[0], BLOCK_ROWS):
            block = x[start : start + BLOCK_ROWS]
            if self.mean is not None:
                block = (block - self.mean) / self.std
            out[start : start + len(block)] = _nearest(block, weights, norms, a)
        return out

    def check_features(self, names) -> None:
        """Raise a one-line error when the input's feature names differ from the codebook's.

        Nothing is checked when either side is unknown (empty).
        """
        names = tuple(str(name) for name in names)
        if not names or not self.feature_names or names == self.feature_names:
            return
        if len(names) != len(self.feature_names):
            raise CodebookError(
                f"the {self.group or 'numeric'} codebook was trained on {len(self.feature_names)} "
                f"features, the input has {len(names)}: refit the codebook on these features"
            )
        diff = next(
            i for i, (a, b) in enumerate(zip(names, self.feature_names, strict=True)) if a != b
        )
        raise CodebookError(
            f"the {self.group or 'numeric'} codebook expects feature {diff} to be "
            f"{self.feature_names[diff]!r}, the input has {names[diff]!r}: refit the codebook"
        )

    def save(self, path) -> None:
        """Write ``.npz`` (all fields, checksum) or else openXBOW's text format."""
        from streamer.bow import codebook_files

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".npz":
            codebook_files.save_npz(self, path)
        else:
            codebook_files.save_openxbow(self, path)

    @classmethod
    def load(cls, path) -> Codebook:
        """Read a codebook written by :meth:`save` or by openXBOW (``-B``)."""
        from streamer.bow import codebook_files

        path = Path(path)
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise CodebookError(
                f"codebook file {path} {what}: fit it with `streamer codebooks fit` "
                "or check the path"
            )
        if path.suffix.lower() == ".npz":
            return codebook_files.load_npz(path)
        return codebook_files.load_openxbow(path)

    def _checked(self, frames) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim == 1 and x.size == self.n_dims:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_dims:
            got = x.shape[1] if x.ndim == 2 else f"shape {x.shape}"
            raise CodebookError(
                f"the {self.group or 'numeric'} codebook expects {self.n_dims} features per frame, "
                f"got {got}"
            )
        _check_finite(x, "frames")
        return x


def _check_finite(x: np.ndarray, what: str) -> None:
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise CodebookError(
            f"{what} contain NaN or infinite values ({bad.size} rows, first row {bad[0]}): "
            "drop or fill them before quantising"
        )


def _nearest(z: np.ndarray, weights: np.ndarray, norms: np.ndarray, a: int) -> np.ndarray:
    """The ``a`` nearest words of standardised rows ``z``, nearest first, ties to lower index.

    Ranks ``||w||^2 - 2 z.w``, which orders words as the squared distance does.
    """
    score = z @ weights
    score += norms
    if a == 1:
        return score.argmin(axis=1)[:, None]
    rows = np.arange(score.shape[0])[:, None]
    picked = np.argpartition(score, a - 1, axis=1)[:, :a]
    values = score[rows, picked]
    # a tie at the a-th distance may leave a higher index picked: redo those rows stably
    boundary = values.max(axis=1)
    tied = np.flatnonzero((score <= boundary[:, None]).sum(axis=1) > a)
    if tied.size:
        order = np.argsort(score[tied], axis=1, kind="stable")[:, :a]
        picked[tied] = order
        values[tied] = score[tied[:, None], order]
    order = np.lexsort((picked, values), axis=1)
    return np.take_along_axis(picked, order, axis=1)


def _seed_plus_plus(x: np.ndarray, n_words: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: ``n_words`` distinct training frames (openXBOW's ``random++``)."""
    n = x.shape[0]
    columns = np.ascontiguousarray(x.T)
    scratch = np.empty(n)

    def squared_distances(index: int) -> np.ndarray:
        total = np.zeros(n)
        for column, centre in zip(columns, x[index], strict=True):
            np.subtract(column, centre, out=scratch)
            np.multiply(scratch, scratch, out=scratch)
            total += scratch
        return total

    chosen = [int(rng.integers(n))]
    nearest = squared_distances(chosen[0])
    for _ in range(1, n_words):
        cumulative = np.cumsum(nearest)
        if cumulative[-1] <= 0:
            raise CodebookError(
                f"the training frames hold only {len(chosen)} distinct frames for {n_words} "
                "words: give more frames or a smaller codebook"
            )
        index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        if index >= n:  # rounding at the very top: take the last frame with mass
            index = int(np.flatnonzero(nearest)[-1])
        chosen.append(index)
        np.minimum(nearest, squared_distances(index), out=nearest)
    return x[chosen].copy()


def _lloyd(x: np.ndarray, words: np.ndarray, max_iterations: int) -> np.ndarray:
    """Lloyd iterations from ``words`` until no frame changes word; empty words stay."""
    words = words.copy()
    last = None
    for _ in range(max_iterations):
        weights = -2.0 * words.T
        norms = np.einsum("ij,ij->i", words, words)
        labels = np.concatenate(
            [
                _nearest(x[s : s + BLOCK_ROWS], weights, norms, 1)[:, 0]
                for s in range(0, x.shape[0], BLOCK_ROWS)
            ]
        )
        if last is not None and np.array_equal(labels, last):
            break
        last = labels
        counts = np.bincount(labels, minlength=len(words))
        used = counts > 0
        for d in range(x.shape[1]):
            sums = np.bincount(labels, weights=x[:, d], minlength=len(words))
            words[used, d] = sums[used] / counts[used]
    return words
