"""Training time of the fusion network per dimension on a SEWA-sized random corpus.

Usage: python benchmarks/bench_training.py [--dimension arousal|valence|liking|all] [--epochs N]
       [--batch-size N] [--learning-rate X] [--patience N] [--threads N]

Corpus: 34 training recordings x 1,750 rows (0.1 s each) x 4,521 features (1000 audio +
3000 video + 521 text), bag-like values (non-negative, mostly zero, log10(tf + 1)-sized),
and a tuning set of 5 x 1,750 rows. The target is a noisy squashed linear function of a
few hundred features, so the tuning CCC moves and early stopping behaves as on real data.
The network has the dimension's Table I sizes; training uses the package defaults unless
overridden (``--dimension all`` runs the three). Prints the time per epoch and per
dimension; the aim is under 2 minutes per dimension on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from streamer.fusion.network import TABLE_I, FusionNet
from streamer.training import train

INPUT_DIMS = {"audio": 1000, "video": 3000, "text": 521}
DENSITY = {"audio": 0.10, "video": 0.05, "text": 0.01}
ROWS_PER_RECORDING = 1750
N_TRAIN_RECORDINGS = 34
N_TUNE_RECORDINGS = 5


def bag_like(n_rows: int, dim: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Non-negative, mostly-zero float32 features of log10(tf + 1) size (0 .. ~0.5)."""
    out = np.zeros((n_rows, dim), dtype=np.float32)
    chunk = 4096
    for start in range(0, n_rows, chunk):
        block = out[start : start + chunk]
        mask = rng.random(block.shape, dtype=np.float32) < density
        block[mask] = np.log10(1.0 + rng.random(int(mask.sum()), dtype=np.float32) * 2.0)
    return out


def corpus(n_recordings: int, rng: np.random.Generator, weights: dict) -> tuple[dict, np.ndarray]:
    """Inputs ``{modality: (rows, dim)}`` and a planted target (rows,) in about [-1, 1]."""
    n_rows = n_recordings * ROWS_PER_RECORDING
    inputs = {m: bag_like(n_rows, d, DENSITY[m], rng) for m, d in INPUT_DIMS.items()}
    signal = sum(inputs[m] @ weights[m] for m in INPUT_DIMS)
    signal = (signal - signal.mean()) / (signal.std() + 1e-9)
    target = np.tanh(0.5 * signal) + 0.3 * rng.standard_normal(n_rows).astype(np.float32)
    return inputs, target.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dimension", default="all", choices=[*sorted(TABLE_I), "all"])
    parser.add_argument("--epochs", type=int, default=train.DEFAULT_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=train.DEFAULT_BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=train.DEFAULT_LEARNING_RATE)
    parser.add_argument("--patience", type=int, default=train.DEFAULT_PATIENCE)
    parser.add_argument("--threads", type=int, default=train.DEFAULT_THREADS)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    weights = {}
    for m, d in INPUT_DIMS.items():
        w = np.zeros(d, dtype=np.float32)
        chosen = rng.choice(d, size=max(10, d // 10), replace=False)
        w[chosen] = rng.standard_normal(chosen.size).astype(np.float32)
        weights[m] = w
    start = time.perf_counter()
    x_train, y_train = corpus(N_TRAIN_RECORDINGS, rng, weights)
    x_tune, y_tune = corpus(N_TUNE_RECORDINGS, rng, weights)
    print(
        f"corpus: {y_train.size} training rows, {y_tune.size} tuning rows, "
        f"{sum(INPUT_DIMS.values())} features, generated in {time.perf_counter() - start:.1f} s"
    )
    dimensions = sorted(TABLE_I) if args.dimension == "all" else [args.dimension]
    rows = []
    for dimension in dimensions:
        rows.append(run_dimension(dimension, args, x_train, y_train, x_tune, y_tune))
    print(
        "| dimension | epochs run | best epoch | best tuning CCC | s per epoch | s per dimension |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)


def run_dimension(dimension: str, args, x_train, y_train, x_tune, y_tune) -> str:
    """Train one dimension's network; its markdown table row."""
    sizes = TABLE_I[dimension]

    def factory() -> FusionNet:
        return FusionNet(INPUT_DIMS, sizes["modality_units"], sizes["fusion_units"])

    print(
        f"{dimension}: epochs <= {args.epochs}, batch {args.batch_size}, "
        f"lr {args.learning_rate}, patience {args.patience}, {args.threads} torch thread(s)"
    )
    start = time.perf_counter()
    _, history = train.train_model(
        x_train,
        y_train,
        x_tune,
        y_tune,
        factory,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=0,
        device="cpu",
        n_threads=args.threads,
        log=print,
    )
    total_s = time.perf_counter() - start
    per_epoch = np.asarray(history.epoch_time_s)
    verdict = "meets" if total_s < 120 else "MISSES"
    print(f"{dimension}: {total_s:.1f} s, {verdict} the aim of under 120 s per dimension")
    worst_s = per_epoch.mean() * args.epochs
    return (
        f"| {dimension} | {per_epoch.size} | {history.best_epoch} | {history.best_tune_ccc:.3f} | "
        f"{per_epoch.mean():.2f} (min {per_epoch.min():.2f}) | {total_s:.1f} "
        f"(all {args.epochs} epochs: ~{worst_s:.0f}) |"
    )


if __name__ == "__main__":
    main()
