"""Causal fixed-lag Viterbi smoothing of SHS F0 candidates (openSMILE ``cPitchSmootherViterbi``).

The trellis has 7 states per frame: the 6 F0 candidates of :func:`~.pitch.shs_candidates`
and "unvoiced". With the GeMAPS v01a weights (wLocal 2, wTvv 10, wTvuv 10, wThr 4, wRange 1;
openSMILE's ``setWeights`` copies wTvv into wTvvd, so the smoothness weight is 10, not 5):

* local cost of candidate ``c`` with voicing ``v`` (clipped to [0.01, 1]) and F0 ``f``:
  ``2 * (-ln v + 4 * [v < 0.7]) + range_weight(f)``; of "unvoiced": ``2 * 4`` if any
  candidate has ``v >= 0.7``, else 0;
* voiced -> voiced: ``10 |r| + 10 |r - r_prev|`` with ``r = ln(f_now / f_before)``, 999 if
  either candidate is missing; ``r_prev`` is openSMILE's ``lastChange`` quirk: the ratio of
  the previous pair evaluated in the same row of its loop (0 at the start of each row, 1.0
  for the very first row of the stream); voiced <-> unvoiced: 10; unvoiced -> unvoiced: 1.

openSMILE (bufferLength 40) keeps the paths of the last 40 frames; frame ``k`` is decided when
all surviving paths agree on it, or at the latest when frame ``k + 39`` has been added, from
the path ending in the cheapest state. Both rules give the state of that cheapest path at
time ``k + 39``, so this class always releases frame ``k`` when frame ``k + 39`` is pushed:
a fixed decision lag of ``LAG = 39`` frames (390 ms). ``flush`` decides the remaining frames
from the final cheapest path, like openSMILE at end of input.

The Viterbi recursion loops over frames in Python (a few 7x7 numpy operations per frame);
the costs themselves are computed vectorised per batch. Outputs do not depend on how the
frames are split into ``push`` calls (bitwise).
"""

from __future__ import annotations

import numpy as np

from streamer.features.lld.pitch import (
    ENERGY_THRESHOLD,
    N_CANDIDATES,
    VOICING_CUTOFF,
    hz_to_semitones,
)

LAG = 39
BUFFER_LENGTH = LAG + 1
N_STATES = N_CANDIDATES + 1
UNVOICED = N_CANDIDATES
W_LOCAL = 2.0
W_TVV = 10.0
W_TVVD = 10.0  # openSMILE's setWeights() assigns wTvv to wTvvd (configured 5.0 is ignored)
W_TVUV = 10.0
W_THR = 4.0
W_RANGE = 1.0
MISSING_COST = 999.0
UNVOICED_STAY_COST = 1.0  # openSMILE's u->u test never matches, so the fallback cost 1.0 applies

OUTPUT_KEYS = ("F0final", "F0semitoneFrom27.5Hz", "voicingFinalUnclipped", "frame_index")


def _range_weight(f0: np.ndarray) -> np.ndarray:
    """openSMILE's built-in F0 range penalty (0 between 100 and 350 Hz, 2 for missing F0)."""
    return np.select(
        [f0 <= 0.0, f0 < 100.0, f0 < 350.0, f0 < 600.0],
        [2.0, 1.0 - f0 / 100.0, 0.0, (f0 - 350.0) / 250.0],
        default=1.2,
    )


def _local_costs(f0: np.ndarray, voicing: np.ndarray) -> np.ndarray:
    """Local cost of each state, shape (n_frames, 7)."""
    pv = np.clip(voicing, 0.01, 1.0)
    below = np.where(pv < VOICING_CUTOFF, W_THR, 0.0)
    cost = np.empty((f0.shape[0], N_STATES))
    cost[:, :UNVOICED] = (-np.log(pv) + below) * W_LOCAL + _range_weight(f0) * W_RANGE
    any_voiced = (voicing >= VOICING_CUTOFF).any(axis=1)
    cost[:, UNVOICED] = W_LOCAL * np.where(any_voiced, W_THR, 0.0)
    return cost


def _transition_costs(
    f0_prev: np.ndarray, f0: np.ndarray, first_last_change: np.ndarray
) -> np.ndarray:
    """Transition costs ``[t, now_state, before_state]``, shape (n_frames, 7, 7).

    ``first_last_change`` (n_frames,) is the ``lastChange`` value at the start of row 0
    (1.0 only for the first transition of a stream, else 0).
    """
    n = f0.shape[0]
    cost = np.empty((n, N_STATES, N_STATES))
    now32 = f0.astype(np.float32)[:, :, None]
    before32 = f0_prev.astype(np.float32)[:, None, :]
    valid = (now32 != 0) & (before32 != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (now32 / np.where(before32 != 0, before32, np.float32(1))).astype(np.float64)
        log_ratio = np.log(np.where(valid, ratio, 1.0))
    last_change = np.zeros((n, N_CANDIDATES))
    last_change[:, 0] = first_last_change
    for j in range(N_CANDIDATES):
        r = log_ratio[:, :, j]
        ok = valid[:, :, j]
        vv = W_TVV * np.abs(r) + W_TVVD * np.abs(r - last_change)
        cost[:, :UNVOICED, j] = np.where(ok, vv, MISSING_COST)
        last_change = np.where(ok, r, last_change)
    cost[:, :UNVOICED, UNVOICED] = W_TVUV
    cost[:, UNVOICED, :UNVOICED] = W_TVUV
    cost[:, UNVOICED, UNVOICED] = UNVOICED_STAY_COST
    return cost


def _empty_output() -> dict[str, np.ndarray]:
    out = {key: np.zeros(0) for key in OUTPUT_KEYS}
    out["frame_index"] = np.zeros(0, dtype=np.int64)
    return out


class PitchSmoother:
    """Streaming Viterbi F0 smoother with a fixed decision lag of ``LAG`` (39) frames.

    Push the dicts of :func:`streamer.features.lld.pitch.shs_candidates` in frame order,
    in any batch sizes; each call returns the frames decided so far. Call :meth:`flush` at
    the end of the stream to get the rest (this also resets the smoother).

    Returned dict (arrays of shape (n_released,)): ``F0final`` (Hz, 0 = unvoiced),
    ``F0semitoneFrom27.5Hz`` (openSMILE ``F0finalLog``, raw, before sma3),
    ``voicingFinalUnclipped`` and ``frame_index`` (global frame numbers, from 0).
    Frames whose windowed RMS energy is <= ``energy_threshold`` are unvoiced (openSMILE's
    ``cValbasedSelector``, threshold 0.001).
    """

    def __init__(self, energy_threshold: float = ENERGY_THRESHOLD) -> None:
        self.energy_threshold = energy_threshold
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next pushed frame is frame 0."""
        self._n_pushed = 0
        self._n_released = 0
        self._path_cost = np.zeros(N_STATES)
        self._paths = np.zeros((N_STATES, BUFFER_LENGTH), dtype=np.int64)
        self._last_f0 = np.zeros(N_CANDIDATES)
        self._pending = {
            "f0_candidates": np.zeros((0, N_CANDIDATES)),
            "voicing": np.zeros((0, N_CANDIDATES)),
            "rms_energy": np.zeros(0),
        }

    @property
    def n_pending(self) -> int:
        """Number of pushed frames not released yet (at most ``LAG`` after a push)."""
        return self._n_pushed - self._n_released

    def push(self, candidates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add frames and return the frames decided by now.

        Parameters
        ----------
        candidates : dict of ndarray
            ``f0_candidates`` (n, 6) Hz, ``voicing`` (n, 6), ``rms_energy`` (n,), as from
            :func:`~streamer.features.lld.pitch.shs_candidates`.

        Returns
        -------
        dict of ndarray
            The released frames (see the class docstring); empty arrays if none.
        """
        f0 = np.asarray(candidates["f0_candidates"], dtype=np.float64).reshape(-1, N_CANDIDATES)
        voicing = np.asarray(candidates["voicing"], dtype=np.float64).reshape(-1, N_CANDIDATES)
        rms = np.asarray(candidates["rms_energy"], dtype=np.float64).reshape(-1)
        n = f0.shape[0]
        if n == 0:
            return _empty_output()
        local = _local_costs(f0, voicing)
        f0_prev = np.concatenate([self._last_f0[None, :], f0[:-1]], axis=0)
        first_change = np.zeros(n)
        if self._n_pushed == 1:
            first_change[0] = 1.0
        elif self._n_pushed == 0 and n > 1:
            first_change[1] = 1.0
        trans = _transition_costs(f0_prev, f0, first_change)

        states = []
        cost = self._path_cost
        paths = self._paths
        all_states = np.arange(N_STATES)
        for t in range(n):
            frame = self._n_pushed + t
            slot = frame % BUFFER_LENGTH
            if frame == 0:
                cost = local[t].copy()
                paths = paths.copy()
                paths[:, slot] = all_states
            else:
                total = trans[t] + cost
                best_before = total.argmin(axis=1)
                cost = total.min(axis=1) + local[t]
                paths = paths[best_before]
                paths[:, slot] = all_states
            if frame >= LAG:
                states.append(paths[cost.argmin(), (frame - LAG) % BUFFER_LENGTH])
        self._path_cost = cost
        self._paths = paths
        self._last_f0 = f0[-1].copy()
        self._n_pushed += n
        self._append_pending(f0, voicing, rms)
        return self._release(np.asarray(states, dtype=np.int64))

    def flush(self) -> dict[str, np.ndarray]:
        """Decide and return all remaining frames from the cheapest final path, then reset."""
        if self.n_pending == 0:
            self.reset()
            return _empty_output()
        best = self._path_cost.argmin()
        frames = np.arange(self._n_released, self._n_pushed)
        states = self._paths[best, frames % BUFFER_LENGTH]
        out = self._release(states)
        self.reset()
        return out

    def _append_pending(self, f0: np.ndarray, voicing: np.ndarray, rms: np.ndarray) -> None:
        pend = self._pending
        pend["f0_candidates"] = np.concatenate([pend["f0_candidates"], f0], axis=0)
        pend["voicing"] = np.concatenate([pend["voicing"], voicing], axis=0)
        pend["rms_energy"] = np.concatenate([pend["rms_energy"], rms], axis=0)

    def _release(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Turn the decided states of the oldest pending frames into outputs."""
        m = states.shape[0]
        if m == 0:
            return _empty_output()
        pend = self._pending
        f0c, vc, rms = pend["f0_candidates"][:m], pend["voicing"][:m], pend["rms_energy"][:m]
        rows = np.arange(m)
        voiced = states < UNVOICED
        cand = np.where(voiced, states, 0)
        f0 = np.where(voiced, f0c[rows, cand], 0.0)
        vp = vc[rows, cand]
        loud = rms > self.energy_threshold
        f0 = np.where(loud, f0, 0.0)
        out = {
            "F0final": f0,
            "F0semitoneFrom27.5Hz": hz_to_semitones(f0).astype(np.float32).astype(np.float64),
            "voicingFinalUnclipped": np.where(loud, vp, 0.0),
            "frame_index": np.arange(self._n_released, self._n_released + m, dtype=np.int64),
        }
        for key in ("f0_candidates", "voicing", "rms_energy"):
            pend[key] = pend[key][m:]
        self._n_released += m
        return out


def smooth_pitch(candidates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Smooth a whole utterance at once (push everything, then flush).

    Returns
    -------
    dict of ndarray
        ``F0final``, ``F0semitoneFrom27.5Hz``, ``voicingFinalUnclipped``, ``frame_index``
        for every frame.
    """
    smoother = PitchSmoother()
    parts = [smoother.push(candidates), smoother.flush()]
    return {key: np.concatenate([p[key] for p in parts]) for key in OUTPUT_KEYS}
