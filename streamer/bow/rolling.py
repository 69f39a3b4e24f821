"""Rolling bags of words: term frequencies of the words assigned to frames in a sliding window.

Bags are computed at hop times ``k * hop_s`` (k = 0, 1, ...) up to the last frame's time
(or ``end_s`` when given, whichever is later). Two windows:

``"causal"`` (default, for live use)
    The bag at hop time ``t`` holds the frames with ``t - W < t_frame <= t``.
``"centred"`` (the openXBOW jar's ``-t W H`` segmentation)
    The bag at centre ``c`` holds the frames with ``c - W/2 <= t_frame <= c + W/2``,
    computed as openXBOW does, in float32: ``c = float32(H) * k``, the edges
    ``float32(c - float32(W) / 2)`` and ``float32(c + float32(W) / 2)``, the frame times
    rounded to float32, and frames before 0 s never counted. Such float edges make some
    windows one frame shorter than others (at 0.01 s frames, 600 or 601). Its bags end at
    the last centre below the last frame's time + 1e-4 s; a centre without frames gives an
    empty bag. A centred bag needs the frames up to ``W/2`` after its centre, so a
    stream gives it ``W/2`` late.

Every word assigned to a frame counts 1 (a frame quantised to ``a`` words adds ``a``
counts, as openXBOW does). Weighting: ``"counts"`` gives the raw term frequency ``tf``,
``"log"`` gives ``log10(tf + 1)`` (openXBOW's ``-log``). With ``normalise`` (default),
``tf`` is divided by the number of frames in the window before the log, so that 25 and
50 frames/s give the same bag. openXBOW's ``-norm 1`` differs: it divides after the log
and multiplies by the codebook size (``-norm 2`` and ``3`` divide by the sum and the
Euclidean length of the weighted bag); for openXBOW parity use ``normalise=False``. An
empty window gives a bag of zeros.

For causal windows times are converted once to integer ticks of ``TICK_S`` = 1 µs
(``round(t_s / TICK_S)``) and hop times are integer multiples of the hop in ticks, so
window edges are exact: with a 0.1 s hop, a frame at 0.3 s is at hop 3 even though
``3 * 0.1 != 0.3`` in floating point.
Reported hop times are ``k * hop_ticks / 1e6``, the float nearest to the exact value.

:func:`bags` computes all bags of a recording at once; :class:`RollingBag` computes them
as frames arrive, with the same code, and gives bit-identical bags whatever the chunking.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary, tokenize
from streamer.types import Word

TICK_S = 1e-6
_TICKS_PER_S = 1_000_000
_WINDOWS = ("causal", "centred")
_WEIGHTINGS = ("counts", "log")
_BLOCK_CELLS = 2_000_000  # hops x words counted at once (16 MB of int64)
_FLOAT_MIN_NORMAL = np.float32(np.finfo(np.float32).tiny)  # Java's Float.MIN_NORMAL
_CENTRE_SLACK_S = 1e-4  # openXBOW's last centre is below the last frame time + this
_MAX_HOPS = 1 << 24  # float32 counts hops exactly up to here (19 days at 0.1 s)


def _to_ticks(t_s: np.ndarray, what: str) -> np.ndarray:
    t_s = np.asarray(t_s, dtype=np.float64)
    if t_s.ndim != 1:
        raise StreamerError(f"{what} must be a 1-D array of seconds, got shape {t_s.shape}")
    if not np.all(np.isfinite(t_s)):
        raise StreamerError(f"{what} contain NaN or infinite times: drop those frames first")
    return np.round(t_s * _TICKS_PER_S).astype(np.int64)


class _Spec:
    """Validated options, and the window rule: which frames a hop's bag holds.

    Frames are compared through their *keys*: integer ticks for causal windows, float32
    seconds for centred ones (openXBOW's arithmetic). Sorted times give sorted keys.
    """

    def __init__(self, n_words, window_s, hop_s, window, weighting, normalise):
        if int(n_words) < 1:
            raise StreamerError(f"n_words must be at least 1, got {n_words}")
        if window not in _WINDOWS:
            raise StreamerError(f"window must be one of {_WINDOWS}, got {window!r}")
        if weighting not in _WEIGHTINGS:
            raise StreamerError(f"weighting must be one of {_WEIGHTINGS}, got {weighting!r}")
        self.n_words = int(n_words)
        self.hop = int(round(float(hop_s) * _TICKS_PER_S))
        self.width = int(round(float(window_s) * _TICKS_PER_S))
        if self.hop < 1 or self.width < 1:
            raise StreamerError(
                f"window_s and hop_s must be at least 1 µs, got {window_s} and {hop_s}"
            )
        self.centred = window == "centred"
        self.hop32 = np.float32(hop_s)
        self.half32 = np.float32(window_s) / np.float32(2)
        self.log = weighting == "log"
        self.normalise = bool(normalise)

    def keys(self, t_s, what: str) -> np.ndarray:
        """Frame times (s) as the keys windows compare: ticks, or float32 seconds."""
        ticks = _to_ticks(t_s, what)  # checks shape and finiteness
        return np.asarray(t_s, dtype=np.float32) if self.centred else ticks

    def key(self, t_s: float, what: str):
        return self.keys(np.array([t_s], dtype=np.float64), what)[0]

    def _centres32(self, k) -> np.ndarray:
        return self.hop32 * np.asarray(k, dtype=np.int64).astype(np.float32)

    def _starts32(self, k) -> np.ndarray:
        start = np.maximum(self._centres32(k) - self.half32, -_FLOAT_MIN_NORMAL)
        return start - _FLOAT_MIN_NORMAL

    def _ends32(self, k) -> np.ndarray:
        return self._centres32(k) + self.half32

    def frame_ranges(self, keys: np.ndarray, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Index ranges ``[lo, hi)`` into the sorted ``keys`` of the frames of hops k0..k1-1."""
        k = np.arange(k0, k1, dtype=np.int64)
        if self.centred:
            lo = np.searchsorted(keys, self._starts32(k), side="left")
            hi = np.searchsorted(keys, self._ends32(k), side="right")
        else:  # c - width < t <= c
            lo = np.searchsorted(keys, k * self.hop - self.width, side="right")
            hi = np.searchsorted(keys, k * self.hop, side="right")
        return lo, hi

    def first_needed(self, keys: np.ndarray, k: int) -> int:
        """Index of the first frame that hop ``k`` or a later one can hold."""
        if self.centred:
            return int(np.searchsorted(keys, self._starts32(k), side="left"))
        return int(np.searchsorted(keys, k * self.hop - self.width, side="right"))

    def n_hops(self, last_key) -> int:
        """Number of hops of a recording whose last frame (or end) has key ``last_key``."""
        if last_key is None:
            return 0
        if self.centred:
            limit = float(last_key) + _CENTRE_SLACK_S
            return _count_true(lambda k: float(self._centres32(k)) < limit)
        return 0 if last_key < 0 else int(last_key) // self.hop + 1

    def n_ready(self, max_key) -> int:
        """Number of hops whose window is closed once a frame with key ``max_key`` was seen."""
        if self.centred:
            return _count_true(lambda k: self._ends32(k) < max_key)
        return max(0, (int(max_key) - 1) // self.hop + 1)


def _count_true(predicate) -> int:
    """Number of hops k = 0, 1, ... for which ``predicate`` holds (true, then false)."""
    if not predicate(0):
        return 0
    lo, hi = 0, _MAX_HOPS  # predicate(lo) holds; assume it fails at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if predicate(mid) else (lo, mid)
    return hi


def _check_assignments(assignments, n_frames: int, n_words: int) -> np.ndarray:
    a = np.asarray(assignments)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n_frames:
        raise StreamerError(
            f"assignments must have shape ({n_frames}, a), got {np.shape(assignments)}"
        )
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise StreamerError(f"assignments must be word indices (integers), got {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= n_words):
        raise StreamerError(
            f"assignments must be word indices in [0, {n_words}), got {a.min()}..{a.max()}"
        )
    return a


def _bag_rows(
    spec: _Spec, keys: np.ndarray, owner: np.ndarray, words: np.ndarray, k0: int, k1: int
) -> np.ndarray:
    """Weighted bags (k1 - k0, n_words) of hops k0..k1-1.

    ``keys`` (n,) are the frame times as :meth:`_Spec.keys` gives them, sorted; ``owner``
    (m,) the frame of each assignment, sorted; ``words`` (m,) its word. Every frame of
    these windows must be given.
    """
    nw = spec.n_words
    out = np.zeros((max(k1 - k0, 0), nw), dtype=np.float64)
    if k1 <= k0:
        return out
    lo, hi = spec.frame_ranges(keys, k0, k1)
    n_frames = hi - lo
    block = max(1, _BLOCK_CELLS // nw)
    for b0 in range(0, k1 - k0, block):
        b1 = min(b0 + block, k1 - k0)
        f0, f1 = lo[b0], hi[b1 - 1]
        if f1 <= f0:
            continue
        # the hops of this block that see frame i are [first, stop): contiguous as lo, hi grow
        frames = np.arange(f0, f1)
        first = np.searchsorted(hi[b0:b1], frames, side="right")
        stop = np.searchsorted(lo[b0:b1], frames, side="right")
        j0, j1 = np.searchsorted(owner, [f0, f1])
        rel = owner[j0:j1] - f0
        w = words[j0:j1]
        s, e = first[rel], stop[rel]
        keep = s < e
        s, e, w = s[keep], e[keep], w[keep]
        cells = (b1 - b0 + 1) * nw
        delta = np.bincount(s * nw + w, minlength=cells) - np.bincount(e * nw + w, minlength=cells)
        rows = out[b0:b1]
        np.cumsum(delta.reshape(b1 - b0 + 1, nw)[:-1], axis=0, out=rows)
        if spec.normalise:  # tf / frames, then log10(. + 1); an empty window stays zeros
            rows /= np.maximum(n_frames[b0:b1], 1)[:, None].astype(np.float64)
        if spec.log:
            rows += 1.0
            np.log10(rows, out=rows)
    return out


def _hop_times(spec: _Spec, k0: int, k1: int) -> np.ndarray:
    return np.arange(k0, k1, dtype=np.int64) * spec.hop / _TICKS_PER_S


def bags(
    t_s,
    assignments,
    n_words: int,
    window_s: float = 6.0,
    hop_s: float = 0.1,
    window: str = "causal",
    weighting: str = "log",
    normalise: bool = True,
    end_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All bags of a recording in one pass.

    Parameters
    ----------
    t_s : (n,) float
        Frame times, seconds (any order).
    assignments : (n, a) int
        Word indices of each frame (``a >= 1``; a 1-D array means ``a = 1``).
    n_words : int
        Codebook or vocabulary size.
    window_s, hop_s : float
        Window length and hop, seconds.
    window : {"causal", "centred"}
        See the module docstring.
    weighting : {"counts", "log"}
        Raw term frequency or ``log10(tf + 1)``.
    normalise : bool
        Divide term frequencies by the number of frames in the window (before the log).
    end_s : float, optional
        Compute hops up to ``max(end_s, last frame time)`` instead of the last frame time.

    Returns
    -------
    hop_times_s : (m,) float
        ``k * hop_s`` for k = 0..m-1, seconds.
    bags : (m, n_words) float64
    """
    spec = _Spec(n_words, window_s, hop_s, window, weighting, normalise)
    keys = spec.keys(t_s, "frame times")
    a = _check_assignments(assignments, len(keys), spec.n_words)
    if np.any(keys[1:] < keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys, a = keys[order], a[order]
    last = keys[-1] if len(keys) else None
    if end_s is not None:
        end = spec.key(end_s, "end_s")
        last = end if last is None else max(last, end)
    n = spec.n_hops(last)
    owner = np.repeat(np.arange(len(keys)), a.shape[1])
    return _hop_times(spec, 0, n), _bag_rows(spec, keys, owner, a.ravel(), 0, n)


class RollingBag:
    """Bags of words computed as frames arrive, identical to :func:`bags`.

    Parameters are those of :func:`bags`. Only the frames still inside some future window
    are kept. A causal bag at ``t`` is emitted once a frame later than ``t`` was pushed, a
    centred one once a frame later than ``c + W/2`` was pushed; the rest at :meth:`flush`.
    """

    def __init__(
        self,
        n_words: int,
        window_s: float = 6.0,
        hop_s: float = 0.1,
        window: str = "causal",
        weighting: str = "log",
        normalise: bool = True,
    ):
        self._spec = _Spec(n_words, window_s, hop_s, window, weighting, normalise)
        self._keys = self._spec.keys(np.zeros(0), "frame times")
        self._owner = np.zeros(0, dtype=np.int64)
        self._words = np.zeros(0, dtype=np.int64)
        self._next = 0  # index of the next hop to emit
        self._max = None  # key of the latest frame seen
        self._closed = False

    @property
    def n_words(self) -> int:
        """Number of words in each bag."""
        return self._spec.n_words

    def push(self, t_s, assignments) -> tuple[np.ndarray, np.ndarray]:
        """Add frames; return the bags completed so far.

        Parameters
        ----------
        t_s : (n,) float
            Frame times, seconds, non-decreasing and not earlier than the frames pushed before.
        assignments : (n, a) int
            Word indices of each frame.

        Returns
        -------
        hop_times_s : (m,) float
        bags : (m, n_words) float64
        """
        if self._closed:
            raise StreamerError("RollingBag.push after flush: start a new RollingBag")
        keys = self._spec.keys(t_s, "frame times")
        a = _check_assignments(assignments, len(keys), self._spec.n_words)
        if len(keys):
            if np.any(keys[1:] < keys[:-1]) or (self._max is not None and keys[0] < self._max):
                raise StreamerError(
                    "frame times must not decrease across pushes: sort the frames by time"
                )
            owner = np.repeat(np.arange(len(keys)), a.shape[1]) + len(self._keys)
            self._keys = np.concatenate([self._keys, keys])
            self._owner = np.concatenate([self._owner, owner])
            self._words = np.concatenate([self._words, a.ravel()])
            self._max = keys[-1]
        if self._max is None:
            return self._emit(0)
        return self._emit(self._spec.n_ready(self._max))

    def advance(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Declare the stream has reached ``t_s`` (s); return the bags this completes.

        The bags emitted are those a frame at ``t_s`` would complete, whether or not frames
        came (a tracker that saw no face, a recogniser that heard no word). Frames pushed
        later may be earlier than ``t_s`` (a word recognised late); they count in the bags
        not yet emitted whose windows hold them.
        """
        if self._closed:
            raise StreamerError("RollingBag.advance after flush: start a new RollingBag")
        return self._emit(self._spec.n_ready(self._spec.key(t_s, "t_s")))

    def flush(self, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """End of stream: the remaining bags up to the last frame's time or ``end_s`` (later one).

        Returns
        -------
        hop_times_s : (m,) float
        bags : (m, n_words) float64
        """
        last = self._max
        if end_s is not None:
            end = self._spec.key(end_s, "end_s")
            last = end if last is None else max(last, end)
        result = self._emit(self._spec.n_hops(last))
        self._closed = True
        return result

    def _emit(self, k1: int) -> tuple[np.ndarray, np.ndarray]:
        spec, k0 = self._spec, self._next
        k1 = max(k1, k0)
        rows = _bag_rows(spec, self._keys, self._owner, self._words, k0, k1)
        self._next = k1
        drop = spec.first_needed(self._keys, k1)  # frames no later hop can hold
        if drop:
            cut = int(np.searchsorted(self._owner, drop))
            self._keys = self._keys[drop:]
            self._owner = self._owner[cut:] - drop
            self._words = self._words[cut:]
        return _hop_times(spec, k0, k1), rows


def text_assignments(
    words: Iterable[Word], vocabulary: Vocabulary
) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of recognised words that are in the vocabulary, timed by their word's end.

    A word may give several tokens ("don't-stop" gives two); each counts. Tokens not in the
    vocabulary are skipped.

    Returns
    -------
    end_times_s : (n,) float
        End time of the word each token came from, seconds (in the order of ``words``).
    assignments : (n, 1) int
        Vocabulary index of each token.
    """
    times, index = [], []
    for word in words:
        if not np.isfinite(word.end_s):
            raise StreamerError(f"word {word.text!r} has no end time ({word.end_s}): drop it first")
        for token in tokenize(word.text):
            i = vocabulary.index(token)
            if i is not None:
                times.append(float(word.end_s))
                index.append(i)
    return np.array(times, dtype=np.float64), np.array(index, dtype=np.int64).reshape(-1, 1)
