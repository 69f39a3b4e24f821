"""Local jitter and shimmer (dB) as openSMILE's ``cPitchJitter`` computes them for eGeMAPS v01a.

openSMILE walks through the waveform pitch period by pitch period. For every 10 ms frame
with a final F0 above zero it reads the samples from the end of the last period it kept
(``last_mis`` samples before the frame start) up to the end of the frame's 60 ms window and,
from the current position, correlates one candidate period with the next one for every
candidate length within +-10 % of the F0 period (Pearson correlation). The best local
maximum of that correlation, refined by a parabola, gives the period length; the
peak-to-peak amplitudes of both periods give the shimmer. The walk continues while two
maximal periods still fit in the samples read. What is not consumed by the end of the
frame's 10 ms step is read again by the next frame.

Quirks reproduced on purpose (GeMAPS v01a uses ``useBrokenJitterThresh = 1``):

* a period only counts when its interpolated correlation is strictly larger than the
  smallest correlation of the frame so far *stored as a 32-bit float*, so the first period
  of a frame counts only when rounding that correlation to float32 rounded it down;
* jitter compares the period with the last counted one, even across frames;
* a voiced frame where no period counted repeats the previous frame's values, one whose only
  counted period has no predecessor gives jitter 0; unvoiced frames give 0 and reset all;
* jitter = mean |T_k - T_{k-1}| / mean T_k (clipped at 1); shimmer = 20 log10(1 + r) with
  r = sum |A_k - A'_k| / sum (A_k + A'_k) / 2 over the counted pairs of consecutive periods
  (clipped at r = 1).

The float32 rounding above depends on the last bits of the samples: the extractor feeds
the signal on openSMILE's 16-bit grid (:func:`streamer.features.lld.extractor.quantise_16bit`).

The walk is inherently sequential within a voiced run (each frame starts where the previous
one stopped). Runs are walked side by side: the loop runs over the frame position within the
runs and the period index, with the correlations of all active runs computed in one batch;
when at most ``_MAX_SCALAR_RUNS`` runs are active (small streaming batches) a leaner scalar
walk with the same operations (hence the same bits) is used instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from streamer.features.lld.framing import FRAME60, HOP, SAMPLE_RATE_HZ
from streamer.features.lld.parabola import parabola_vertex

HISTORY = 1536  # samples kept before the next frame start (>= the longest unread tail)
MIN_F0_HZ = 25.0  # voiced F0 is clipped into [MIN_F0_HZ, MAX_F0_HZ]
MAX_F0_HZ = 4000.0
SEARCH_RANGE_REL = 0.1
MIN_NUM_PERIODS = 2
_T = 1.0 / SAMPLE_RATE_HZ
_VIEW_WIDTH = 160  # > the number of candidate period lengths at MIN_F0_HZ
_MAX_SCALAR_RUNS = 4  # up to this many runs at a time are walked with scalar code
_RANGE = np.arange(4 * SAMPLE_RATE_HZ // int(MIN_F0_HZ))  # index offsets, sliced instead of arange


def initial_state() -> dict:
    """Return the state at the start of a stream."""
    return {
        "tail": np.zeros(HISTORY),
        "last_mis": 0,
        "last_t0": np.float32(0.0),
        "last_jitter": np.float32(0.0),
        "last_shimmer": np.float32(0.0),
    }


def _peak_at(y1, y2, y3, x2):
    """Vertex (position, value) of the parabola through (x2-1, y1), (x2, y2), (x2+1, y3)."""
    return parabola_vertex(x2 - 1.0, x2, x2 + 1.0, y1, y2, y3)


def _pearson(s_ab, s_a, s_aa, s_b, s_bb, n):
    """Pearson correlation of two length-n sequences from their sums and sums of products."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = s_ab - s_a * s_b / n
        var_a = np.maximum(s_aa - s_a * s_a / n, 0.0)
        var_b = np.maximum(s_bb - s_b * s_b / n, 0.0)
        return cov / (np.sqrt(var_a) * np.sqrt(var_b))


def _period_step_single(seg, view, p, lo, hi, t0f):
    """`_period_step_group` for one row, with scalars (same operations, same results)."""
    nl = hi - lo + 1
    u = seg[p : p + 2 * hi + 1]
    cu = np.cumsum(u)
    cu2 = np.cumsum(u * u)
    lags = _RANGE[lo : hi + 1]
    cross = np.cumsum(u[:hi, None] * view[p + lo : p + lo + hi, :nl], axis=0)
    s_a = cu[lags - 1]
    s_aa = cu2[lags - 1]
    cc = _pearson(
        cross[lags - 1, _RANGE[:nl]],
        s_a,
        s_aa,
        cu[2 * lags - 1] - s_a,
        cu2[2 * lags - 1] - s_aa,
        lags.astype(np.float64),
    ).tolist()
    best = -1
    for j in range(1, nl - 2):
        if cc[j - 1] < cc[j] and cc[j] > cc[j + 1] and (best < 0 or cc[j] > cc[best]):
            best = j
    if best < 0:
        return t0f, False, 0.0, 0.0, np.float32(0.0), np.float32(0.0)
    xi, cc_i = _peak_at(cc[best - 1], cc[best], cc[best + 1], float(best))
    pp = lo + best
    amps = []
    for part in (u[1 : pp - 1], u[pp + 1 : 2 * pp - 1]):
        amps.append(np.float32(part.max()) - np.float32(part.min()))
    return pp, True, float(cc_i), abs(lo + float(xi)), amps[0], amps[1]


def _period_step(seg, pos, lo, hi, t0f):
    """Find one period at absolute positions ``pos`` (one per row), see `_period_step_group`.

    Rows are processed in groups of similar period length so that little padding is
    computed; each row's result does not depend on the group it is in.
    """
    if hi.max() <= 1.3 * hi.min():
        return _period_step_group(seg, pos, lo, hi, t0f)
    order = np.argsort(hi, kind="stable")
    hi_sorted = hi[order]
    # a new group starts where the period grows by more than 30 % over the group's first
    bounds = [0]
    while bounds[-1] < order.size:
        first = hi_sorted[bounds[-1]]
        bounds.append(int(np.searchsorted(hi_sorted, 1.3 * first, side="right")))
    results = [
        np.empty(pos.size, dtype=dt)
        for dt in (np.int64, bool, np.float64, np.float64, np.float32, np.float32)
    ]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[begin:end]
        for out, part in zip(
            results, _period_step_group(seg, pos[rows], lo[rows], hi[rows], t0f[rows]), strict=True
        ):
            out[rows] = part
    return tuple(results)


def _period_step_group(seg, pos, lo, hi, t0f):
    """Find one period at absolute positions ``pos`` (one per row).

    Returns the period length in samples (int), whether a correlation peak was found,
    the interpolated correlation, the interpolated period (samples) and both peak-to-peak
    amplitudes (float32).
    """
    n_rows = pos.size
    nl = hi - lo + 1
    l_max = int(hi.max())
    nl_max = int(nl.max())
    # samples from the period start: a = w[0:L], b = w[L:2L]
    g_len = 2 * l_max + 1
    g = seg[np.minimum(pos[:, None] + _RANGE[:g_len], seg.size - 1)]
    cg = np.zeros((n_rows, g_len + 1))
    np.cumsum(g, axis=1, out=cg[:, 1:])
    cg2 = np.zeros((n_rows, g_len + 1))
    np.cumsum(g * g, axis=1, out=cg2[:, 1:])
    # cross products sum_{i<L} w[i] w[L+i] for L = lo + j: Hankel view of w[lo:]
    hb_len = l_max + nl_max
    gb = seg[np.minimum((pos + lo)[:, None] + _RANGE[:hb_len], seg.size - 1)]
    hank = as_strided(
        gb,
        shape=(n_rows, l_max, nl_max),
        strides=(gb.strides[0], gb.strides[1], gb.strides[1]),
        writeable=False,
    )
    # running sums along the period (sequential, so padding never changes a row's result)
    cross = np.cumsum(g[:, :l_max, None] * hank, axis=1)
    j = _RANGE[:nl_max]
    lag_idx = np.where(j < nl[:, None], lo[:, None] + j, lo[:, None])
    r = np.arange(n_rows)[:, None]
    s_ab = cross[r, lag_idx - 1, j]
    s_a = cg[r, lag_idx]
    s_aa = cg2[r, lag_idx]
    s_b = cg[r, 2 * lag_idx] - s_a
    s_bb = cg2[r, 2 * lag_idx] - s_aa
    cc = _pearson(s_ab, s_a, s_aa, s_b, s_bb, lag_idx.astype(np.float64))
    # local maxima at candidate index 1 .. nl-3, best one (first on ties)
    cand = (j >= 1) & (j <= nl[:, None] - 3)
    inner = np.zeros_like(cand)
    inner[:, 1:-1] = (cc[:, :-2] < cc[:, 1:-1]) & (cc[:, 1:-1] > cc[:, 2:])
    peak = cand & inner
    found = peak.any(axis=1)
    best = np.argmax(np.where(peak, cc, -np.inf), axis=1)
    best = np.where(found, best, 1)
    rows = np.arange(n_rows)
    xi, cc_i = _peak_at(
        cc[rows, best - 1], cc[rows, best], cc[rows, best + 1], best.astype(np.float64)
    )
    period_len = np.where(found, lo + best, t0f)
    period_interp = np.abs(lo + xi)
    # peak-to-peak amplitudes over w[1:pp-1] and w[pp+1:2pp-1]
    k = _RANGE[:l_max]
    in_period = (k >= 1) & (k < period_len[:, None] - 1)
    first = g[:, :l_max]
    second = g[r, np.minimum(period_len[:, None] + k, g_len - 1)]
    amp = []
    for part in (first, second):
        top = np.where(in_period, part, -np.inf).max(axis=1).astype(np.float32)
        bottom = np.where(in_period, part, np.inf).min(axis=1).astype(np.float32)
        amp.append(top - bottom)
    return period_len, found, cc_i, period_interp, amp[0], amp[1]


def _contiguous_signal(frames60: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """History tail followed by the samples the 60 ms frames of the batch cover."""
    body = frames60[:, :HOP].reshape(-1)
    return np.concatenate([tail, body, frames60[-1, HOP:]])


def _voiced_runs(voiced: np.ndarray):
    """Start index and length of each run of voiced frames."""
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def jitter_shimmer(
    frames60: np.ndarray,
    f0_hz: np.ndarray,
    state: dict | None = None,
) -> tuple[dict, dict]:
    """Raw jitterLocal and shimmerLocaldB per 10 ms frame (openSMILE ``cPitchJitter``).

    Parameters
    ----------
    frames60 : ndarray, shape (n_frames, 960)
        Raw (un-windowed) 60 ms frames, ``frames60[i] = x[i*160 : i*160 + 960]`` of a 16 kHz
        signal in [-1, 1]; consecutive rows of a stream, batch after batch.
    f0_hz : ndarray, shape (n_frames,)
        Final F0 per frame in Hz (0 = unvoiced), openSMILE's ``F0final``; voiced values are
        clipped into [25, 4000] Hz.
    state : dict or None
        State returned by the previous call, or None at the start of the stream.

    Returns
    -------
    values : dict
        ``"jitterLocal"`` (relative, 0..1) and ``"shimmerLocaldB"`` (dB), ndarrays of shape
        (n_frames,); 0 for unvoiced frames.
    state : dict
        State to pass with the next batch (history samples and the period memory).
    """
    state = initial_state() if state is None else state
    frames60 = np.asarray(frames60, dtype=np.float64)
    n_frames = frames60.shape[0]
    jitter = np.zeros(n_frames)
    shimmer = np.zeros(n_frames)
    if n_frames == 0:
        return {"jitterLocal": jitter, "shimmerLocaldB": shimmer}, state
    seg = _contiguous_signal(frames60, state["tail"])
    seg = np.concatenate([seg, np.zeros(_VIEW_WIDTH)])  # room for the sliding view
    f0 = np.asarray(f0_hz, dtype=np.float64).astype(np.float32).astype(np.float64)
    voiced = f0 > 0.0
    # guard against F0 values openSMILE never produces (its F0final lies in 55..1000 Hz):
    # the period walk needs >= 2 samples per period and HISTORY covers periods up to 1/25 s
    f0 = np.where(voiced, np.clip(f0, MIN_F0_HZ, MAX_F0_HZ), 0.0)
    run_start, run_len = _voiced_runs(voiced)
    n_runs = run_start.size
    # period memory per run; a run that starts the batch continues the previous one
    last_mis = np.zeros(n_runs, dtype=np.int64)
    last_t0 = np.zeros(n_runs, dtype=np.float32)
    last_j = np.zeros(n_runs, dtype=np.float32)
    last_s = np.zeros(n_runs, dtype=np.float32)
    if n_runs and run_start[0] == 0:
        last_mis[0] = state["last_mis"]
        last_t0[0] = state["last_t0"]
        last_j[0] = state["last_jitter"]
        last_s[0] = state["last_shimmer"]
    view = as_strided(
        seg,
        shape=(seg.size - _VIEW_WIDTH + 1, _VIEW_WIDTH),
        strides=(seg.strides[0], seg.strides[0]),
    )
    memory = (last_mis, last_t0, last_j, last_s)
    for step in range(int(run_len.max()) if n_runs else 0):
        act = np.flatnonzero(run_len > step)
        frame = run_start[act] + step
        if act.size > _MAX_SCALAR_RUNS:
            _process_frames(seg, frame, f0[frame], act, *memory, jitter, shimmer)
            continue
        for run, i in zip(act.tolist(), frame.tolist(), strict=True):
            jitter[i], shimmer[i] = _process_frame_single(seg, view, i, float(f0[i]), run, memory)
    new_state = initial_state()
    new_state["tail"] = seg[n_frames * HOP : n_frames * HOP + HISTORY].copy()
    if voiced[-1]:
        new_state.update(
            last_mis=int(last_mis[-1]),
            last_t0=last_t0[-1],
            last_jitter=last_j[-1],
            last_shimmer=last_s[-1],
        )
    return {"jitterLocal": jitter, "shimmerLocaldB": shimmer}, new_state


def _process_frames(seg, frame, f0, run, last_mis, last_t0, last_j, last_s, jitter, shimmer):
    """Process one voiced frame of each run in ``run`` (updates the run memories in place)."""
    period_f = (1.0 / f0) / _T
    t0f = np.floor(period_f + 0.5).astype(np.int64)
    lo = np.floor((1.0 - SEARCH_RANGE_REL) * period_f).astype(np.int64)
    hi = np.ceil((1.0 + SEARCH_RANGE_REL) * period_f).astype(np.int64)
    mis = last_mis[run]
    to_read0 = HOP + mis
    to_read = np.minimum(
        np.maximum(to_read0, MIN_NUM_PERIODS * hi + MIN_NUM_PERIODS), mis + FRAME60
    )
    base = HISTORY + frame * HOP - mis
    n = run.size
    start = np.zeros(n, dtype=np.int64)
    last_period = np.zeros(n, dtype=np.int64)
    n_per = np.zeros(n, dtype=np.float32)
    n_local = np.zeros(n, dtype=np.float32)
    sum_period = np.zeros(n, dtype=np.float32)
    sum_jit = np.zeros(n, dtype=np.float32)
    sum_amp = np.zeros(n, dtype=np.float32)
    sum_amp_diff = np.zeros(n, dtype=np.float32)
    min_cc = np.full(n, np.inf, dtype=np.float32)
    t0 = last_t0[run].copy()
    while True:
        act = np.flatnonzero(start < to_read - 2 * hi - 1)
        if act.size == 0:
            break
        plen, found, cc_i, p_interp, amp0, amp1 = _period_step(
            seg, base[act] + start[act], lo[act], hi[act], t0f[act]
        )
        start[act] += plen
        upd = act[start[act] < to_read0[act] - 1]
        last_period[upd] = start[upd]
        # the broken threshold: strictly above the float32 minimum of this frame so far
        cc32 = cc_i.astype(np.float32)
        min_cc[act] = np.where(found, np.fmin(min_cc[act], cc32), min_cc[act])
        keep = found & (cc_i > min_cc[act].astype(np.float64))
        rows = act[keep]
        period = (p_interp[keep] * _T).astype(np.float32)
        sum_period[rows] += period
        n_per[rows] += np.float32(1.0)
        has_prev = t0[rows] > 0
        rows_prev = rows[has_prev]
        sum_jit[rows_prev] += np.abs(t0[rows_prev] - period[has_prev])
        n_local[rows_prev] += np.float32(1.0)
        t0[rows] = period
        a0 = amp0[keep]
        a1 = amp1[keep]
        sum_amp[rows] += (a0 + a1) / np.float32(2.0)
        sum_amp_diff[rows] += np.abs(a0 - a1)
    last_mis[run] = to_read0 - last_period
    last_t0[run] = t0
    # jitter: new value when two counted periods could be compared, else carried or 0
    new_j = (n_per > 0) & (n_local > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        jit_val = (sum_jit / np.where(new_j, n_local, 1)) / (sum_period / np.where(new_j, n_per, 1))
    lj = np.where(new_j, jit_val, last_j[run])
    lj = np.minimum(lj, np.float32(1.0))
    last_j[run] = lj
    jitter[frame] = np.where(new_j | (n_per == 0), lj, 0.0)
    # shimmer: new value whenever a period counted, else carried
    new_s = n_per > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        shim_val = np.where(sum_amp > 0, sum_amp_diff / np.where(sum_amp > 0, sum_amp, 1), 0)
    ls = np.minimum(np.where(new_s, shim_val, last_s[run]), np.float32(1.0)).astype(np.float32)
    last_s[run] = ls
    shimmer[frame] = np.float32(20.0 * np.log10(ls.astype(np.float64) + 1.0))


def _process_frame_single(seg, view, i, f0, run, memory):
    """`_process_frames` for frame ``i`` of one run, with scalars; returns (jitter, shimmer)."""
    last_mis, last_t0, last_j, last_s = memory
    period_f = (1.0 / f0) / _T
    t0f = math.floor(period_f + 0.5)
    lo = math.floor((1.0 - SEARCH_RANGE_REL) * period_f)
    hi = math.ceil((1.0 + SEARCH_RANGE_REL) * period_f)
    mis = int(last_mis[run])
    to_read0 = HOP + mis
    to_read = min(max(to_read0, MIN_NUM_PERIODS * hi + MIN_NUM_PERIODS), mis + FRAME60)
    base = HISTORY + i * HOP - mis
    start = last_period = 0
    zero = np.float32(0.0)
    n_per = n_local = sum_period = sum_jit = sum_amp = sum_amp_diff = zero
    min_cc = np.float32(np.inf)
    t0 = last_t0[run]
    while start < to_read - 2 * hi - 1:
        plen, found, cc_i, p_interp, amp0, amp1 = _period_step_single(
            seg, view, base + start, lo, hi, t0f
        )
        start += plen
        if start < to_read0 - 1:
            last_period = start
        if not found:
            continue
        cc32 = np.float32(cc_i)
        if cc32 < min_cc:
            min_cc = cc32
        if cc_i > float(min_cc):
            period = np.float32(p_interp * _T)
            sum_period += period
            n_per += np.float32(1.0)
            if t0 > 0:
                sum_jit += abs(t0 - period)
                n_local += np.float32(1.0)
            t0 = period
            sum_amp += (amp0 + amp1) / np.float32(2.0)
            sum_amp_diff += abs(amp0 - amp1)
    last_mis[run] = to_read0 - last_period
    last_t0[run] = t0
    new_j = n_per > 0 and n_local > 0
    lj = min((sum_jit / n_local) / (sum_period / n_per) if new_j else last_j[run], np.float32(1.0))
    last_j[run] = lj
    jitter = float(lj) if (new_j or n_per == 0) else 0.0
    ratio = last_s[run]
    if n_per > 0:
        ratio = sum_amp_diff / sum_amp if sum_amp > 0 else zero
    ls = np.float32(min(ratio, np.float32(1.0)))
    last_s[run] = ls
    return jitter, float(np.float32(20.0 * np.log10(np.float64(ls) + 1.0)))
