"""Speed of the bag-of-words stages on one hour of LLD-like frames.

Usage: python benchmarks/bench_bow.py

Quantisation: one hour of 10 ms frames (360,000 x 23, a mixture of Gaussians with
LLD-like scales) against a 1000-word random++ codebook, with a = 1 and a = 20: wall time
(best of 3) and peak memory of the call (tracemalloc, a separate run). Rolling: those
assignments into 6 s causal bags every 0.1 s (36,000 bags), offline and streamed in 1 s
pushes. Also the time to fit the codebook (random++) on those frames. Prints a markdown
table; the aim is under 5 s for quantising and rolling the hour with a = 1.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from streamer.bow.codebook import Codebook
from streamer.bow.rolling import RollingBag, bags

N_FRAMES = 360_000  # one hour at 100 frames per second
N_DIMS = 23
N_WORDS = 1000


def lld_like_frames(
    n_frames: int = N_FRAMES, n_dims: int = N_DIMS, n_modes: int = 40, seed: int = 0
) -> np.ndarray:
    """Frames from a mixture of Gaussians, with per-feature offsets and scales like LLDs."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_modes, n_dims)) * 2.0
    spreads = rng.uniform(0.2, 1.0, size=(n_modes, n_dims))
    modes = rng.integers(n_modes, size=n_frames)
    frames = centres[modes] + spreads[modes] * rng.standard_normal((n_frames, n_dims))
    scale = 10.0 ** rng.uniform(-2, 3, size=n_dims)  # e.g. jitter ~0.01 .. F0 ~100 Hz
    offset = rng.uniform(-1, 1, size=n_dims) * scale * 3
    return frames * scale + offset


def best_time_s(run, repeats: int = 3) -> float:
    """The shortest wall-clock time of ``repeats`` calls of ``run``, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def peak_memory_mb(run) -> float:
    """Peak memory (MB) allocated during one call of ``run``, as tracemalloc sees it."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def time_quantisation(frames: np.ndarray, codebook: Codebook, a: int) -> dict:
    """Best-of-3 time (s) and peak memory (MB) of quantising ``frames`` with ``a`` words."""
    return {
        "time_s": best_time_s(lambda: codebook.quantise(frames, a)),
        "peak_mb": peak_memory_mb(lambda: codebook.quantise(frames, a)),
    }


def time_rolling(t_s: np.ndarray, assignments: np.ndarray, n_words: int) -> dict:
    """Best-of-3 time (s) and peak memory (MB) of rolling assignments into 0.1 s bags.

    ``offline``: one call of :func:`bags`; ``streamed``: a :class:`RollingBag` pushed 1 s
    of frames at a time.
    """

    def offline() -> None:
        bags(t_s, assignments, n_words)

    def streamed() -> None:
        rolling = RollingBag(n_words)
        for start in range(0, len(t_s), 100):
            rolling.push(t_s[start : start + 100], assignments[start : start + 100])
        rolling.flush()

    return {
        name: (best_time_s(run), peak_memory_mb(run))
        for name, run in (("offline", offline), ("streamed", streamed))
    }


def time_fit(frames: np.ndarray, n_words: int = N_WORDS, generation: str = "random++") -> tuple:
    """The fitted codebook and its fit time (s, one run)."""
    started = time.perf_counter()
    codebook = Codebook.fit(frames, n_words, generation=generation, seed=0)
    return codebook, time.perf_counter() - started


def main() -> None:
    frames = lld_like_frames()
    hour_s = len(frames) / 100
    codebook, fit_s = time_fit(frames)
    rows = [(f"fit random++, {N_WORDS} words", fit_s, float("nan"))]
    t_s = np.arange(len(frames)) * 0.01
    for a in (1, 20):
        result = time_quantisation(frames, codebook, a)
        rows.append((f"quantise, a = {a}", result["time_s"], result["peak_mb"]))
        rolled = time_rolling(t_s, codebook.quantise(frames, a), N_WORDS)
        for name, (seconds, peak) in rolled.items():
            rows.append((f"roll into bags, a = {a}, {name}", seconds, peak))
    print(
        f"{len(frames):,} frames x {frames.shape[1]} ({hour_s / 3600:.0f} h at 10 ms), "
        f"{N_WORDS} words"
    )
    print()
    print("| stage | time (s) | x real time | peak memory (MB) |")
    print("| --- | --- | --- | --- |")
    for name, seconds, peak in rows:
        memory = "" if np.isnan(peak) else f"{peak:.0f}"
        print(f"| {name} | {seconds:.2f} | {seconds / hour_s:.5f} | {memory} |")


if __name__ == "__main__":
    main()
