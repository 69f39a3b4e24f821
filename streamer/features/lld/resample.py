"""Streaming sample-rate conversion whose output does not depend on the block sizes.

Band-limited interpolation with a Kaiser-windowed sinc: output sample ``m`` sits at
input position ``m * rate_in / rate_out`` and is the dot product of the input around it
with one of ``up`` precomputed filter phases. Every output sample is computed from the
same inputs with the same arithmetic whether the signal arrives in one block or many,
so streaming equals offline exactly.
"""

from __future__ import annotations

import math

import numpy as np


class StreamingResampler:
    """Convert a stream of samples from ``rate_in_hz`` to ``rate_out_hz``.

    Parameters
    ----------
    rate_in_hz, rate_out_hz : int
        Input and output sample rates in Hz.
    half_width : int
        Half-length of the interpolation filter, in samples at the lower of the two rates.
    """

    def __init__(self, rate_in_hz: int, rate_out_hz: int, half_width: int = 16):
        if rate_in_hz <= 0 or rate_out_hz <= 0:
            raise ValueError("sample rates must be positive")
        divisor = math.gcd(int(rate_in_hz), int(rate_out_hz))
        self.up = int(rate_out_hz) // divisor
        self.down = int(rate_in_hz) // divisor
        self.passthrough = self.up == self.down
        stretch = max(1.0, self.down / self.up)  # >1 when downsampling: widen the filter
        self.n_side = int(math.ceil(half_width * stretch))
        self.taps_ = _filter_phases(self.up, self.down, self.n_side, stretch)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample pushed is sample 0."""
        self._buffer = np.zeros(self.n_side)  # the zeros before the first sample
        self._buffer_start = -self.n_side  # input index of _buffer[0]
        self._n_in = 0
        self._n_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples that can now be computed."""
        samples = np.asarray(samples, dtype=np.float64).ravel()
        if self.passthrough:
            return samples.copy()
        self._buffer = np.concatenate([self._buffer, samples])
        self._n_in += samples.size
        return self._emit(self._n_in)

    def flush(self) -> np.ndarray:
        """Return the last output samples, treating the input as followed by silence."""
        if self.passthrough:
            return np.zeros(0)
        self._buffer = np.concatenate([self._buffer, np.zeros(self.n_side)])
        return self._emit(self._n_in + self.n_side, n_final=-(-self._n_in * self.up // self.down))

    def _emit(self, n_available: int, n_final: int | None = None) -> np.ndarray:
        # output m needs input indices up to floor(m * down / up) + n_side
        n_ready = (n_available - self.n_side) * self.up // self.down
        n_ready = max(n_ready, self._n_out) if n_final is None else n_final
        m = np.arange(self._n_out, n_ready, dtype=np.int64)
        centre, phase = np.divmod(m * self.down, self.up)
        first = centre - self.n_side + 1 - self._buffer_start
        windows = self._buffer[first[:, None] + np.arange(2 * self.n_side)]
        out = (windows * self.taps_[phase]).sum(axis=1)
        self._n_out = n_ready
        keep_from = (self._n_out * self.down) // self.up - self.n_side + 1 - self._buffer_start
        keep_from = max(0, keep_from)
        self._buffer = self._buffer[keep_from:]
        self._buffer_start += keep_from
        return out


def _filter_phases(up: int, down: int, n_side: int, stretch: float) -> np.ndarray:
    """Kaiser-windowed sinc taps, one row per fractional phase ``p / up``."""
    cutoff = 0.95 / stretch  # fraction of the input Nyquist rate kept
    j = np.arange(2 * n_side)
    phase = np.arange(up)[:, None] / up
    distance = (n_side - 1 - j)[None, :] + phase  # input samples between tap and output
    beta = 8.0
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (distance / n_side) ** 2, 0.0, 1.0))) / np.i0(beta)
    return cutoff * np.sinc(cutoff * distance) * window
