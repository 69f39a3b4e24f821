"""Training loop for the fusion networks: Adam on mini-batches of rows, MSE (or CCC) loss,
the best epoch by CCC on the tuning subset, early stopping, reproducible for a seed.

Inputs are mappings ``{modality: array of shape (n_rows, n_features)}``; targets are arrays
of shape ``(n_rows,)`` or ``(n_rows, n_outputs)``. One row is one 0.1 s label step.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from streamer.errors import StreamerError
from streamer.fusion.metrics import ccc

# Defaults measured on the SEWA-sized benchmark (benchmarks/bench_training.py).
DEFAULT_EPOCHS = 25
DEFAULT_BATCH_SIZE = 256
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_PATIENCE = 5
# One thread: on 2 cores, two OpenMP threads are barely faster when idle and up to 30 times
# slower when another process holds a core (measured: 3.7 s vs 116 s per epoch).
DEFAULT_THREADS = 1
EVAL_BATCH_ROWS = 8192

Inputs = Mapping[str, np.ndarray]


def _selection_ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """AVEC CCC (``streamer.fusion.metrics.ccc``); -inf when undefined (e.g. NaN output)."""
    try:
        return ccc(y_true, y_pred)
    except StreamerError:
        return float("-inf")


def ccc_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - CCC, averaged over the output columns (AVEC convention: cov over N, var over N-1)."""
    mp, mt = prediction.mean(dim=0), target.mean(dim=0)
    covariance = ((prediction - mp) * (target - mt)).mean(dim=0)
    denominator = prediction.var(dim=0) + target.var(dim=0) + (mp - mt) ** 2
    return (1.0 - 2.0 * covariance / (denominator + 1e-8)).mean()


@dataclass
class TrainingHistory:
    """What happened while training; per-epoch lists have one entry per epoch run.

    ``tune_ccc`` is the mean over outputs of the CCC on the whole tuning set (per-output
    values in ``tune_ccc_per_output``). ``best_epoch`` counts from 1.
    """

    train_loss: list[float] = field(default_factory=list)
    tune_ccc: list[float] = field(default_factory=list)
    tune_ccc_per_output: list[list[float]] = field(default_factory=list)
    epoch_time_s: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_tune_ccc: float = float("-inf")
    stopped_early: bool = False
    seed: int = 0
    device: str = "cpu"

    @property
    def total_time_s(self) -> float:
        """Wall time of all epochs, in seconds."""
        return float(sum(self.epoch_time_s))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary."""
        return {
            "train_loss": self.train_loss,
            "tune_ccc": self.tune_ccc,
            "best_epoch": self.best_epoch,
            "best_tune_ccc": self.best_tune_ccc,
            "stopped_early": self.stopped_early,
            "epochs_run": len(self.tune_ccc),
            "total_time_s": self.total_time_s,
            "seed": self.seed,
        }


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; otherwise the device named."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise StreamerError(
            f"training.device is {device} but torch sees no GPU here: set training.device "
            "to cpu (or auto, which takes a GPU when there is one)"
        )
    return torch.device(device)


def _as_targets(targets: np.ndarray) -> torch.Tensor:
    array = np.asarray(targets, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise StreamerError(f"targets must be (n_rows,) or (n_rows, n_outputs), got {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _as_inputs(inputs: Inputs, n_rows: int, what: str) -> dict[str, torch.Tensor]:
    tensors = {}
    for name, values in inputs.items():
        array = np.ascontiguousarray(values, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] != n_rows:
            raise StreamerError(
                f"{what} modality {name!r} has shape {array.shape}, expected ({n_rows}, n_features)"
            )
        tensors[name] = torch.from_numpy(array)
    return tensors


def _forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Call a network on a modality mapping; single-tensor networks get the concatenation."""
    if getattr(model, "input_dims", None) is not None:
        return model(batch)
    return model(torch.cat(list(batch.values()), dim=1))


def predict(
    model: nn.Module,
    inputs: Inputs | Mapping[str, torch.Tensor],
    device: str | torch.device = "cpu",
    batch_rows: int = EVAL_BATCH_ROWS,
) -> np.ndarray:
    """Predictions of ``model`` in eval mode, shape (n_rows, n_outputs), float32."""
    device = resolve_device(device)
    tensors = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in inputs.items()}
    n_rows = next(iter(tensors.values())).shape[0]
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, n_rows, batch_rows):
            batch = {k: v[start : start + batch_rows].to(device) for k, v in tensors.items()}
            outputs.append(_forward(model, batch).cpu())
    model.train(was_training)
    return torch.cat(outputs).numpy() if outputs else np.zeros((0, 1), np.float32)


def evaluate_ccc(
    model: nn.Module, inputs: Inputs, targets: np.ndarray, device: Any = "cpu"
) -> list[float]:
    """CCC per output column of ``model`` on the whole set."""
    prediction = predict(model, inputs, device)
    truth = _as_targets(targets).numpy()
    return [_selection_ccc(truth[:, j], prediction[:, j]) for j in range(truth.shape[1])]


def train_model(
    train_inputs: Inputs,
    train_targets: np.ndarray,
    tune_inputs: Inputs,
    tune_targets: np.ndarray,
    model_factory: Callable[[], nn.Module],
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    patience: int = DEFAULT_PATIENCE,
    seed: int = 0,
    loss: str = "mse",
    device: str | torch.device = "auto",
    weight_decay: float = 0.0,
    n_threads: int | None = DEFAULT_THREADS,
    log: Callable[[str], None] | None = None,
) -> tuple[nn.Module, TrainingHistory]:
    """Train one network; return the checkpoint with the best tuning CCC and the history.

    Parameters
    ----------
    train_inputs, tune_inputs : dict[str, ndarray]
        ``{modality: (n_rows, n_features)}``; rows are 0.1 s steps.
    train_targets, tune_targets : ndarray
        ``(n_rows,)`` or ``(n_rows, n_outputs)``.
    model_factory : callable
        Builds a fresh network; called right after ``torch.manual_seed(seed)``.
    epochs : int
        Maximum passes over the training rows.
    batch_size : int
        Rows per Adam step (shuffled each epoch with a seeded ``torch.Generator``).
    learning_rate : float
        Adam's step size.
    patience : int
        Stop after this many epochs without a better tuning CCC (0 = never stop early).
    seed : int
        Seeds the weights, the shuffling and dropout: same seed, same weights (same device
        and thread count).
    loss : {"mse", "ccc"}
        Training loss: mean squared error (the paper) or 1 - CCC per batch.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``...
    weight_decay : float
        Adam's L2 penalty.
    n_threads : int or None
        Torch CPU threads while training (restored afterwards); None keeps the current
        setting. Default 1 (see ``DEFAULT_THREADS``).
    log : callable, optional
        Receives one line per epoch.
    """
    if loss not in ("mse", "ccc"):
        raise StreamerError(f"loss must be 'mse' or 'ccc', got {loss!r}")
    if epochs < 1 or batch_size < 1:
        raise StreamerError("epochs and batch_size must be at least 1")
    threads_before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        return _train(
            train_inputs, train_targets, tune_inputs, tune_targets, model_factory,
            epochs, batch_size, learning_rate, patience, seed, loss,
            resolve_device(device), weight_decay, log,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads_before)


def _train(
    train_inputs: Inputs,
    train_targets: np.ndarray,
    tune_inputs: Inputs,
    tune_targets: np.ndarray,
    model_factory: Callable[[], nn.Module],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    seed: int,
    loss: str,
    device: torch.device,
    weight_decay: float,
    log: Callable[[str], None] | None,
) -> tuple[nn.Module, TrainingHistory]:
    """The loop of ``train_model`` (arguments checked, threads set)."""
    y_train = _as_targets(train_targets)
    n_rows = y_train.shape[0]
    x_train = _as_inputs(train_inputs, n_rows, "training")
    y_tune = _as_targets(tune_targets).numpy()
    _as_inputs(tune_inputs, y_tune.shape[0], "tuning")  # shape check only
    if device.type != "cpu":
        x_train = {k: v.to(device) for k, v in x_train.items()}
        y_train = y_train.to(device)

    torch.manual_seed(seed)
    model = model_factory().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_fn = ccc_loss if loss == "ccc" else nn.functional.mse_loss
    generator = torch.Generator().manual_seed(seed)
    history = TrainingHistory(seed=seed, device=str(device))
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n_rows, generator=generator).to(device)
        total, seen = 0.0, 0
        for first in range(0, n_rows, batch_size):
            rows = order[first : first + batch_size]
            if loss == "ccc" and rows.numel() < 2:
                continue
            batch = {k: v.index_select(0, rows) for k, v in x_train.items()}
            value = loss_fn(_forward(model, batch), y_train.index_select(0, rows))
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            total += float(value.detach()) * rows.numel()
            seen += rows.numel()
        per_output = evaluate_ccc(model, tune_inputs, y_tune, device)
        score = float(np.mean(per_output))
        history.train_loss.append(total / max(seen, 1))
        history.tune_ccc.append(score)
        history.tune_ccc_per_output.append(per_output)
        history.epoch_time_s.append(time.perf_counter() - start)
        if score > history.best_tune_ccc:
            history.best_tune_ccc, history.best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
            since_best = 0
        else:
            since_best += 1
        if log is not None:
            log(
                f"epoch {epoch}: loss {history.train_loss[-1]:.4f}, tuning CCC {score:.4f}, "
                f"{history.epoch_time_s[-1]:.1f} s"
            )
        if patience > 0 and since_best >= patience:
            history.stopped_early = epoch < epochs
            break
    model.load_state_dict(best_state)
    model.eval()
    return model, history


@dataclass
class RepeatedRuns:
    """Results of training with several seeds.

    ``*_mean`` / ``*_std`` are over runs (std with ddof=1; 0 for one run) of the mean CCC
    over outputs. ``best_model`` is the run with the highest tuning CCC.
    """

    seeds: list[int]
    tune_ccc: list[float]
    test_ccc: list[float] | None
    histories: list[TrainingHistory]
    best_model: nn.Module
    best_seed: int

    @staticmethod
    def _std(values: Sequence[float]) -> float:
        return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    @property
    def tune_mean(self) -> float:
        return float(np.mean(self.tune_ccc))

    @property
    def tune_std(self) -> float:
        return self._std(self.tune_ccc)

    @property
    def test_mean(self) -> float | None:
        return None if self.test_ccc is None else float(np.mean(self.test_ccc))

    @property
    def test_std(self) -> float | None:
        return None if self.test_ccc is None else self._std(self.test_ccc)


def repeated_runs(
    n_runs: int,
    train_inputs: Inputs,
    train_targets: np.ndarray,
    tune_inputs: Inputs,
    tune_targets: np.ndarray,
    model_factory: Callable[[], nn.Module],
    test_inputs: Inputs | None = None,
    test_targets: np.ndarray | None = None,
    first_seed: int = 0,
    **train_kwargs: Any,
) -> RepeatedRuns:
    """Train with seeds ``first_seed .. first_seed + n_runs - 1``; CCC mean and std over runs.

    ``train_kwargs`` go to ``train_model`` (epochs, batch_size, learning_rate, patience,
    loss, device...). The test subset, when given, is scored with each run's best checkpoint.
    """
    if n_runs < 1:
        raise StreamerError("n_runs must be at least 1")
    if (test_inputs is None) != (test_targets is None):
        raise StreamerError("give both test_inputs and test_targets, or neither")
    seeds = [first_seed + i for i in range(n_runs)]
    tune, test, histories = [], [], []
    best_model, best_seed, best_score = None, seeds[0], float("-inf")
    for seed in seeds:
        model, history = train_model(
            train_inputs,
            train_targets,
            tune_inputs,
            tune_targets,
            model_factory,
            seed=seed,
            **train_kwargs,
        )
        histories.append(history)
        tune.append(history.best_tune_ccc)
        if test_inputs is not None:
            device = resolve_device(train_kwargs.get("device", "auto"))
            test.append(float(np.mean(evaluate_ccc(model, test_inputs, test_targets, device))))
        if history.best_tune_ccc > best_score:
            best_model, best_seed, best_score = model, seed, history.best_tune_ccc
    return RepeatedRuns(
        seeds=seeds,
        tune_ccc=tune,
        test_ccc=test if test_inputs is not None else None,
        histories=histories,
        best_model=best_model,
        best_seed=best_seed,
    )
