"""Training one proposed fusion network per dimension with the paper's protocol.

Features are shifted against labels by the dimension's delay, the network is trained on
Train with the best epoch chosen by CCC on the Devel tuning subset, the scaling module is
fitted on the training predictions, and the tuning and test subsets of Devel are scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.recording_bags import MANIFEST_NAME
from streamer.config import Config
from streamer.errors import StreamerError
from streamer.fusion.delay import shift_features
from streamer.fusion.metrics import ccc
from streamer.fusion.network import FusionNet, save_model
from streamer.fusion.scaling import Scaler
from streamer.training.datasets import MODALITY_FOLDERS, Corpus, Recording
from streamer.training.train import TrainingHistory, predict, train_model


@dataclass
class TrainedDimension:
    """A trained network for one dimension and how it scored.

    Attributes
    ----------
    dimension : str
        ``arousal``, ``valence`` or ``liking``.
    model : FusionNet
        The checkpoint with the best tuning CCC (before scaling).
    scaler : Scaler
        The scaling module, fitted on the training predictions.
    delay_s : float
        Delay compensation used, seconds.
    scores : dict
        CCC on ``tuning`` and ``test`` (Devel subsets), ``raw`` and ``scaled``.
    history : TrainingHistory
        Per-epoch losses and tuning CCC.
    """

    dimension: str
    model: FusionNet
    scaler: Scaler
    delay_s: float
    scores: dict
    history: TrainingHistory


def stack(
    recordings: Sequence[Recording], modalities: Sequence[str], delay_s: float, label: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows of many recordings: features shifted by ``delay_s`` per recording, and one label."""
    if not recordings:
        raise StreamerError("no recordings to stack: the corpus partition is empty")
    inputs = {
        m: np.concatenate([shift_features(r.features[m], delay_s) for r in recordings])
        for m in modalities
    }
    targets = np.concatenate([r.labels[:, label] for r in recordings])
    return inputs, targets


def train_dimension(
    corpus: Corpus,
    tuning: Sequence[Recording],
    test: Sequence[Recording],
    dimension: str,
    config: Config,
    log: Callable[[str], None] | None = None,
) -> TrainedDimension:
    """Train, scale and score the proposed network for one dimension."""
    if dimension not in corpus.label_names:
        raise StreamerError(
            f"the corpus has no {dimension} labels (it has {', '.join(corpus.label_names)}): "
            "choose others with --dimensions"
        )
    label = corpus.label_names.index(dimension)
    delay_s = getattr(config.training, f"{dimension}_delay_s")
    modalities = corpus.modalities
    train_inputs, train_targets = stack(corpus.recordings["train"], modalities, delay_s, label)
    tune_inputs, tune_targets = stack(tuning, modalities, delay_s, label)
    units, fusion_units = config.fusion.units(dimension)
    dims = {m: corpus.dims[m] for m in modalities}

    def new_network() -> FusionNet:
        return FusionNet(
            dims,
            {m: units[m] for m in modalities},
            fusion_units,
            dropout=config.fusion.dropout,
            modality_dropout=config.fusion.modality_dropout,
        )

    settings = config.training
    model, history = train_model(
        train_inputs, train_targets, tune_inputs, tune_targets, new_network,
        epochs=settings.max_epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, patience=settings.patience, seed=settings.seed,
        loss=settings.loss, device=settings.device, log=log,
    )  # fmt: skip
    device = "cpu"
    model = model.to(device)
    scaler = Scaler(settings.scaling).fit(predict(model, train_inputs)[:, 0], train_targets)
    scores = {}
    for name, subset in (("tuning", tuning), ("test", test)):
        inputs, targets = stack(subset, modalities, delay_s, label)
        raw = predict(model, inputs)[:, 0]
        scores[name] = {"raw": ccc(targets, raw), "scaled": ccc(targets, scaler.apply(raw))}
    return TrainedDimension(dimension, model, scaler, delay_s, scores, history)


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
    trained: TrainedDimension, folder: str | Path, config: Config, codebooks: dict | None = None
) -> Path:
    """Write the network (``<dimension>.pt``) and its description (``<dimension>.json``).

    ``codebooks``: the manifests of :func:`codebook_manifests`, kept so that the runtime
    can refuse codebooks other than those the model was trained with.
    """
    meta = {
        "codebooks": codebooks or {},
        "dimension": trained.dimension,
        "delay_s": trained.delay_s,
        "scaling": trained.scaler.to_dict(),
        "scores_ccc": trained.scores,
        "best_epoch": trained.history.as_dict().get("best_epoch"),
        "config": {"fusion": vars(config.fusion), "training": vars(config.training)},
    }
    return save_model(trained.model, folder, trained.dimension, meta)
