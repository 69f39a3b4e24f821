"""Our bags against openXBOW's semantics, written out naively (loops, no vectorisation).

openXBOW (``-t W H``, ``-a A``, ``-log``, a ``-b`` codebook with ``standardizeInput``):
standardise each frame with the codebook's mean and standard deviation, assign it to its
``A`` nearest words (Euclidean, nearest first, ties to the lower index), and at every
centre ``c = k H`` up to the last frame count the assignments of the frames with
``c - W/2 <= t <= c + W/2``; ``-log`` turns a count into ``log10(count + 1)``.
"""

import math

import numpy as np
import pytest

from streamer.bow.codebook_files import parse_openxbow
from streamer.bow.rolling import bags


def _openxbow_bags(codebook_text, t_s, frames, a, window_s, hop_s, log):
    lines = codebook_text.strip().splitlines()
    mean = [float(v) for v in lines[1].split(";")[2:]]
    std = [float(v) for v in lines[2].split(";")[2:]]
    words = [[float(v) for v in line.split(";")] for line in lines[5:]]
    assigned = []
    for frame in frames:
        z = [(x - m) / s for x, m, s in zip(frame, mean, std, strict=True)]
        distances = [math.dist(z, w) for w in words]
        order = sorted(range(len(words)), key=lambda i: (distances[i], i))
        assigned.append(order[:a])
    out = []
    k = 0
    while k * hop_s <= t_s[-1] + 1e-9:
        centre = k * hop_s
        counts = [0] * len(words)
        for t, indices in zip(t_s, assigned, strict=True):
            if centre - window_s / 2 - 1e-9 <= t <= centre + window_s / 2 + 1e-9:
                for i in indices:
                    counts[i] += 1
        out.append([math.log10(c + 1) if log else c for c in counts])
        k += 1
    return np.array(out, dtype=float)


def _codebook_text(rng, n_words, n_dims):
    mean = rng.normal(size=n_dims).tolist()
    std = rng.uniform(0.5, 2.0, size=n_dims).tolist()
    words = rng.normal(size=(n_words, n_dims)).tolist()
    lines = [
        "standardizeInput",
        "0.0;0.0;" + ";".join(map(repr, mean)),
        "0.0;0.0;" + ";".join(map(repr, std)),
    ]
    lines += ["codebookNumeric", f"{n_words};{n_dims};1;0.0;0.0"]
    lines += [";".join(map(repr, w)) for w in words]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("a", [1, 5, 20])
@pytest.mark.parametrize("log", [False, True])
def test_centred_bags_equal_openxbow_semantics(a, log):
    rng = np.random.default_rng(a + 100 * log)
    text = _codebook_text(rng, n_words=30, n_dims=4)
    codebook = parse_openxbow(text)
    t_s = np.round(np.arange(80) * 0.04, 2)  # 25 frames/s for 3.2 s
    frames = rng.normal(size=(len(t_s), 4)) * 1.5
    expected = _openxbow_bags(text, t_s, frames, a, window_s=1.0, hop_s=0.1, log=log)
    times, ours = bags(
        t_s, codebook.quantise(frames, a), codebook.n_words, window_s=1.0, hop_s=0.1,
        window="centred", weighting="log" if log else "counts", normalise=False,
    )  # fmt: skip
    assert np.allclose(times, np.arange(len(expected)) * 0.1)
    assert np.allclose(ours, expected, rtol=0, atol=1e-12)
