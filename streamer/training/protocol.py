"""Training the proposed fusion network with the paper's protocol.

Features are shifted against labels by each dimension's delay, the network is trained on
Train with the best epoch chosen by CCC on the Devel tuning subset, the scaling module is
fitted on the training predictions, and the tuning and test subsets of Devel are scored.
One network per dimension (the paper), or with ``multitask`` one network whose outputs
are all the dimensions (an option beyond the paper): its layers take, per modality, the
largest of the dimensions' Table I sizes, and each output keeps its own delay (the
features are shifted by the smallest delay and each label is advanced by the rest).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.recording_bags import MANIFEST_NAME
from streamer.config import Config, TrainingConfig
from streamer.errors import StreamerError
from streamer.fusion.delay import delay_rows, shift_features
from streamer.fusion.metrics import ccc
from streamer.fusion.network import FusionNet, save_model
from streamer.fusion.scaling import Scaler
from streamer.training.datasets import MODALITY_FOLDERS, Corpus, Recording
from streamer.training.pretrain import ITEMS_FOLDER, load_branches, load_training_items
from streamer.training.train import TrainingHistory, predict, train_model


@dataclass
class TrainedNetwork:
    """A trained network and how it scored.

    Attributes
    ----------
    dimensions : list of str
        The outputs, in order (one for the paper's per-dimension networks).
    model : FusionNet
        The checkpoint with the best tuning CCC (before scaling).
    scalers : dict of str to Scaler
        The scaling module of each output, fitted on the training predictions.
    delays_s : dict of str to float
        Delay compensation of each output, seconds.
    scores : dict
        Per dimension, CCC on ``tuning`` and ``test`` (Devel subsets), ``raw`` and ``scaled``.
    history : TrainingHistory
        Per-epoch losses and tuning CCC.
    """

    dimensions: list[str]
    model: FusionNet
    scalers: dict[str, Scaler]
    delays_s: dict[str, float]
    scores: dict
    history: TrainingHistory

    @property
    def name(self) -> str:
        """File stem: the dimension, or ``multitask``."""
        return self.dimensions[0] if len(self.dimensions) == 1 else "multitask"


def stack(
    recordings: Sequence[Recording],
    modalities: Sequence[str],
    delays_s: Sequence[float],
    labels: Sequence[int],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows of many recordings: features and labels paired with each label's delay.

    The features are shifted by the smallest delay (start padded with the first row); a
    label with a longer delay is advanced by the difference (end padded with its last
    value), so that label ``k`` at time ``t`` meets the features of ``t - delays_s[k]``.

    Returns
    -------
    inputs : dict of str to ndarray, shape (n_rows, n_features)
    targets : ndarray, shape (n_rows, len(labels))
    """
    if not recordings:
        raise StreamerError("no recordings to stack: the corpus partition is empty")
    base_s = min(delays_s)
    inputs = {
        m: np.concatenate([shift_features(r.features[m], base_s) for r in recordings])
        for m in modalities
    }
    advances = [delay_rows(d) - delay_rows(base_s) for d in delays_s]
    targets = np.concatenate([
        np.stack([_advanced(r.labels[:, k], n) for k, n in zip(labels, advances, strict=True)], 1)
        for r in recordings
    ])  # fmt: skip
    return inputs, targets


def _advanced(values: np.ndarray, n_rows: int) -> np.ndarray:
    """``values`` moved ``n_rows`` earlier, the end padded with the last value."""
    if n_rows == 0 or len(values) == 0:
        return values
    return np.concatenate([values[n_rows:], np.repeat(values[-1:], min(n_rows, len(values)))])


def proposed_network(
    dims: dict[str, int],
    units: dict[str, int],
    fusion_units: int,
    config: Config,
    dimensions: Sequence[str],
    codebooks: dict[str, list],
) -> FusionNet:
    """A fresh proposed network; with ``training.branches``, its branches start from the
    pretrained ones of ``dimensions[0]`` (frozen with ``training.freeze_branches``).

    ``codebooks``: modality -> the manifest of the corpus's bags (:func:`codebook_manifests`).
    """
    network = FusionNet(
        dims, {m: units[m] for m in dims}, fusion_units, dropout=config.fusion.dropout,
        modality_dropout=config.fusion.modality_dropout, n_outputs=len(dimensions),
    )  # fmt: skip
    if config.training.branches:
        load_branches(network, config.training.branches, dimensions[0], codebooks,
                      vars(config.calibration))  # fmt: skip
        for parameter in network.branches.parameters():
            parameter.requires_grad_(not config.training.freeze_branches)
    return network


def train_network(
    corpus: Corpus,
    tuning: Sequence[Recording],
    test: Sequence[Recording],
    dimensions: Sequence[str],
    config: Config,
    log: Callable[[str], None] | None = None,
) -> TrainedNetwork:
    """Train, scale and score one proposed network whose outputs are ``dimensions``."""
    missing = [d for d in dimensions if d not in corpus.label_names]
    if missing:
        raise StreamerError(
            f"the corpus has no {missing[0]} labels (it has {', '.join(corpus.label_names)}): "
            "choose others with --dimensions"
        )
    labels = [corpus.label_names.index(d) for d in dimensions]
    delays = [getattr(config.training, f"{d}_delay_s") for d in dimensions]
    modalities = corpus.modalities
    parts = {"train": corpus.recordings["train"], "tuning": tuning, "test": test}
    data = {name: stack(recs, modalities, delays, labels) for name, recs in parts.items()}
    sizes = [config.fusion.units(d) for d in dimensions]
    units = {m: max(per_modality[m] for per_modality, _ in sizes) for m in modalities}
    fusion_units = max(fusion for _, fusion in sizes)
    dims = {m: corpus.dims[m] for m in modalities}
    settings = config.training
    if settings.branches and len(dimensions) > 1:
        raise StreamerError(
            "training.branches are pretrained per dimension: train one network per "
            "dimension (no multitask) or leave training.branches empty"
        )
    codebooks = codebook_manifests(corpus)
    if settings.branches and settings.pretraining_items:
        data["train"] = with_pretraining_items(data["train"], dims, dimensions[0], codebooks, settings)

    def new_network() -> FusionNet:
        return proposed_network(dims, units, fusion_units, config, dimensions, codebooks)

    model, history = train_model(
        *data["train"], *data["tuning"], new_network,
        epochs=settings.max_epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, patience=settings.patience, seed=settings.seed,
        loss=settings.loss, device=settings.device, log=log,
    )  # fmt: skip
    model = model.to("cpu")
    predictions = {name: predict(model, inputs) for name, (inputs, _) in data.items()}
    scalers, scores = {}, {}
    for k, dimension in enumerate(dimensions):
        scaler = Scaler(settings.scaling).fit(predictions["train"][:, k], data["train"][1][:, k])
        scalers[dimension] = scaler
        scores[dimension] = {
            name: {
                "raw": ccc(data[name][1][:, k], predictions[name][:, k]),
                "scaled": ccc(data[name][1][:, k], scaler.apply(predictions[name][:, k])),
            }
            for name in ("tuning", "test")
        }
    return TrainedNetwork(
        list(dimensions), model, scalers, dict(zip(dimensions, delays, strict=True)), scores,
        history,
    )  # fmt: skip


def with_pretraining_items(
    rows: tuple[dict[str, np.ndarray], np.ndarray],
    dims: dict[str, int],
    dimension: str,
    codebooks: dict[str, list],
    settings: TrainingConfig,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Training ``rows`` (inputs, targets (n, 1)) followed by the pretraining items of
    each modality (``settings.branches``/../items), each ``settings.pretraining_items``
    times, its modality's bag with the others' zero (as a missing modality is fed)."""
    folder = Path(settings.branches).parent / ITEMS_FOLDER
    inputs, targets = rows
    items = {}
    for modality in dims:
        items[modality] = load_training_items(folder, modality, dimension, codebooks.get(modality, []))
        if items[modality][0].shape[1] != dims[modality]:
            raise StreamerError(
                f"the pretraining items in {folder} have {modality} bags of "
                f"{items[modality][0].shape[1]} words, the corpus's {dims[modality]}: make the "
                "bags with the codebooks `streamer pretrain` wrote"
            )
    repeat = settings.pretraining_items
    n_rows = len(targets) + repeat * sum(len(values) for _, values in items.values())
    # Zeros from np.zeros take no memory until written: only the bags below are.
    joined = {m: np.zeros((n_rows, d), np.float32) for m, d in dims.items()}
    joined_targets = np.zeros((n_rows, 1), np.float32)
    for m in dims:
        joined[m][: len(targets)] = inputs[m]
    joined_targets[: len(targets)] = targets
    first = len(targets)
    for modality, (bags, values) in items.items():
        for _ in range(repeat):
            joined[modality][first : first + len(bags)] = bags
            joined_targets[first : first + len(bags), 0] = values
            first += len(bags)
    return joined, joined_targets


def codebook_manifests(corpus: Corpus) -> dict[str, list]:
    """The codebooks each modality's bags were made with, from the ``codebooks.json`` that
    ``streamer features bow`` writes beside them (absent for other corpora, e.g. AVEC's)."""
    manifests = {}
    for modality in corpus.modalities:
        path = Path(corpus.folder) / MODALITY_FOLDERS[modality] / MANIFEST_NAME
        if path.is_file():
            manifests[modality] = json.loads(path.read_text(encoding="utf-8"))["codebooks"]
    return manifests


def save_trained(
    trained: TrainedNetwork, folder: str | Path, config: Config, codebooks: dict | None = None
) -> Path:
    """Write the network (``<name>.pt``) and its description (``<name>.json``).

    ``codebooks``: the manifests of :func:`codebook_manifests`, kept so that the runtime
    can refuse codebooks other than those the model was trained with.
    """
    meta = {
        "dimensions": trained.dimensions,
        "delays_s": trained.delays_s,
        "scaling": {d: scaler.to_dict() for d, scaler in trained.scalers.items()},
        "scores_ccc": trained.scores,
        "best_epoch": trained.history.best_epoch,
        "codebooks": codebooks or {},
        "config": {"fusion": vars(config.fusion), "training": vars(config.training),
                   "calibration": vars(config.calibration)},  # fmt: skip
    }
    return save_model(trained.model, folder, trained.name, meta)
