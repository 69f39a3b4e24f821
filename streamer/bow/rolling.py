"""Rolling bags of words: term frequencies of the words assigned to frames in a sliding window.

Bags are computed at hop times ``k * hop_s`` (k = 0, 1, ...) up to the last frame's time
(or ``end_s`` when given, whichever is later). Two windows:

``"causal"`` (default, for live use)
    The bag at hop time ``t`` holds the frames with ``t - W < t_frame <= t``.
``"centred"`` (openXBOW's ``-t W H`` segmentation)
    The bag at centre ``c`` holds the frames with ``c - W/2 <= t_frame <= c + W/2``.
    openXBOW takes the centre frame (the one whose time equals ``c`` within 1e-4 s) and
    ``round(W / 2 / frame_step)`` frames on either side of it, which for regular frames is
    the same closed interval. It stops at the first centre without a frame (so its last
    bag is at the last multiple of ``H`` not later than the last frame, and a recording
    with a gap loses every later bag); here a centre without frames gives an empty bag.

Every word assigned to a frame counts 1 (a frame quantised to ``a`` words adds ``a``
counts, as openXBOW does). Weighting: ``"counts"`` gives the raw term frequency ``tf``,
``"log"`` gives ``log10(tf + 1)`` (openXBOW's ``-log``). With ``normalise`` (default),
``tf`` is divided by the number of frames in the window before the log, so that 25 and
50 frames/s give the same bag. openXBOW's ``-norm 1`` differs: it divides after the log
and multiplies by the codebook size (``-norm 2`` and ``3`` divide by the sum and the
Euclidean length of the weighted bag); for openXBOW parity use ``normalise=False``. An
empty window gives a bag of zeros.

Times are converted once to integer ticks of ``TICK_S`` = 1 µs (``round(t_s / TICK_S)``)
and hop times are integer multiples of the hop in ticks, so window edges are exact: with a
0.1 s hop, a frame at 0.3 s is at hop 3 even though ``3 * 0.1 != 0.3`` in floating point.
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


def _to_ticks(t_s: np.ndarray, what: str) -> np.ndarray:
    t_s = np.asarray(t_s, dtype=np.float64)
    if t_s.ndim != 1:
        raise StreamerError(f"{what} must be a 1-D array of seconds, got shape {t_s.shape}")
    if not np.all(np.isfinite(t_s)):
        raise StreamerError(f"{what} contain NaN or infinite times: drop those frames first")
    return np.round(t_s * _TICKS_PER_S).astype(np.int64)


class _Spec:
    """Validated options: window and hop in ticks, the window's edges around a hop."""

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
        # a frame at tick t is in the window of hop tick c when c - left < t <= c + right
        if window == "causal":
            self.left, self.right = self.width, 0
        else:
            self.left, self.right = self.width // 2 + 1, self.width // 2
        self.log = weighting == "log"
        self.normalise = bool(normalise)

    def n_hops(self, last_tick: int | None) -> int:
        """Number of hops at ticks 0, hop, ... up to ``last_tick`` (0 when None or negative)."""
        return 0 if last_tick is None or last_tick < 0 else last_tick // self.hop + 1

    def n_ready(self, max_tick: int) -> int:
        """Number of hops whose window is closed once a frame at ``max_tick`` was seen."""
        return max(0, (max_tick - self.right - 1) // self.hop + 1)


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
    spec: _Spec, ticks: np.ndarray, owner: np.ndarray, words: np.ndarray, k0: int, k1: int
) -> np.ndarray:
    """Weighted bags (k1 - k0, n_words) of hops k0..k1-1.

    ``ticks`` (n,) are the frame times in ticks, sorted; ``owner`` (m,) the frame of each
    assignment, sorted; ``words`` (m,) its word. Every frame of these windows must be given.
    """
    nw = spec.n_words
    out = np.zeros((max(k1 - k0, 0), nw), dtype=np.float64)
    if k1 <= k0:
        return out
    centre = np.arange(k0, k1, dtype=np.int64) * spec.hop
    lo = np.searchsorted(ticks, centre - spec.left, side="right")
    hi = np.searchsorted(ticks, centre + spec.right, side="right")
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
    ticks = _to_ticks(t_s, "frame times")
    a = _check_assignments(assignments, len(ticks), spec.n_words)
    if np.any(ticks[1:] < ticks[:-1]):
        order = np.argsort(ticks, kind="stable")
        ticks, a = ticks[order], a[order]
    last = int(ticks[-1]) if len(ticks) else None
    if end_s is not None:
        end = int(_to_ticks(np.array([end_s]), "end_s")[0])
        last = end if last is None else max(last, end)
    n = spec.n_hops(last)
    owner = np.repeat(np.arange(len(ticks)), a.shape[1])
    return _hop_times(spec, 0, n), _bag_rows(spec, ticks, owner, a.ravel(), 0, n)


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
        self._ticks = np.zeros(0, dtype=np.int64)
        self._owner = np.zeros(0, dtype=np.int64)
        self._words = np.zeros(0, dtype=np.int64)
        self._next = 0  # index of the next hop to emit
        self._max: int | None = None  # latest frame tick seen
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
        ticks = _to_ticks(t_s, "frame times")
        a = _check_assignments(assignments, len(ticks), self._spec.n_words)
        if len(ticks):
            if np.any(np.diff(ticks) < 0) or (self._max is not None and ticks[0] < self._max):
                raise StreamerError(
                    "frame times must not decrease across pushes: sort the frames by time"
                )
            owner = np.repeat(np.arange(len(ticks)), a.shape[1]) + len(self._ticks)
            self._ticks = np.concatenate([self._ticks, ticks])
            self._owner = np.concatenate([self._owner, owner])
            self._words = np.concatenate([self._words, a.ravel()])
            self._max = int(ticks[-1])
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
        tick = int(_to_ticks(np.array([t_s]), "t_s")[0])
        return self._emit(self._spec.n_ready(tick))

    def flush(self, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """End of stream: the remaining bags up to the last frame's time or ``end_s`` (later one).

        Returns
        -------
        hop_times_s : (m,) float
        bags : (m, n_words) float64
        """
        last = self._max
        if end_s is not None:
            end = int(_to_ticks(np.array([end_s]), "end_s")[0])
            last = end if last is None else max(last, end)
        result = self._emit(self._spec.n_hops(last))
        self._closed = True
        return result

    def _emit(self, k1: int) -> tuple[np.ndarray, np.ndarray]:
        spec, k0 = self._spec, self._next
        k1 = max(k1, k0)
        rows = _bag_rows(spec, self._ticks, self._owner, self._words, k0, k1)
        self._next = k1
        # drop the frames no later hop can see: t <= next hop tick - left
        drop = int(np.searchsorted(self._ticks, k1 * spec.hop - spec.left, side="right"))
        if drop:
            cut = int(np.searchsorted(self._owner, drop))
            self._ticks = self._ticks[drop:]
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
