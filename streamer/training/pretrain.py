"""Branch pretraining: each modality's two layers learnt first from its own real people.

The demo corpus pairs few people (its voices, faces and words come from 18 speakers,
50 actors and a few hundred sentences). Each branch can learn from far more unimodal data
before the fusion layer learns to combine them (:mod:`streamer.training.unimodal`):

- audio: EmoDB and RAVDESS utterances of the training speakers;
- video: KDEF and faces_lfw photographs of the training actors and persons;
- text: EmoBank's training sentences with their own ratings and the NRC VAD lexicon's
  training words.

Steps (``streamer pretrain``):

1. Codebooks fitted on the training items only, with the ``codebooks`` settings: audio
   LLDs, the three face groups; the text vocabulary is the ``text.vocabulary_size`` most
   frequent tokens of the training sentences and lexicon words (each word counting once),
   seen at least ``text.min_count`` times.
2. One bag per item (every frame in one window, the ``bow`` settings of the runtime).
3. For each dimension and modality, a one-modality :class:`FusionNet` with the dimension's
   Table I sizes, trained on the training items (MSE, Adam), its best epoch chosen by CCC
   on the Devel items; items whose bag is empty (no face found, no known word) are left
   out.
4. Written to OUT: ``codebooks/`` (each keeping the population statistics of its group's
   training frames, the calibration prior), ``branches/<dimension>_<modality>.pt`` +
   ``.json`` and ``items/<modality>.npz`` (the training items' bags and values, which
   ``training.pretraining_items`` adds to the fusion network's training rows).

With ``calibration.audio`` / ``calibration.face`` each speaker's, actor's and person's
frames are read against their own neutral ones (:mod:`streamer.bow.calibration`) before
the codebooks are fitted and the bags made; the calibration prior the codebooks keep is
the training people's neutral frames'.

``streamer train`` with ``training.branches: OUT/branches`` then starts each branch of the
fusion network from these weights (:func:`load_branches`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.calibration import FRAMES_PER_S, CalibrationPrior, sparse_columns
from streamer.bow.codebook import Codebook
from streamer.bow.feature_tables import GROUP_COLUMNS, VIDEO_GROUPS
from streamer.bow.rolling import bags
from streamer.config import BowConfig, Config
from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary
from streamer.fusion.metrics import ccc
from streamer.fusion.network import FusionNet, load_model, save_model
from streamer.training import unimodal
from streamer.training.sources import PARTITIONS, load_sources, split_people
from streamer.training.train import predict, train_model

MODALITY_GROUPS = {"audio": ("audio",), "video": VIDEO_GROUPS, "text": ("text",)}
CODEBOOK_FILES = {"audio": "audio.npz", "pose": "pose.npz", "eyes": "eyes.npz",
                  "landmarks": "landmarks.npz", "text": "vocabulary.txt"}  # fmt: skip
DIMENSIONS = ("arousal", "valence")
ITEMS_FOLDER = "items"  # beside branches/: the training items' bags (save_training_items)
# Training of a branch: a few hundred to 20,000 items, so more passes than the corpus needs.
EPOCHS = 300
PATIENCE = 30
BATCH_SIZE = 64


def single_bag(assignments: np.ndarray, n_words: int, bow: BowConfig) -> np.ndarray:
    """One bag (n_words,) holding every frame of ``assignments`` (n_frames, a) in one window.

    All frames are placed at 0 s, so the window at 0 s holds them all; weighting and
    normalisation are ``bow``'s. No frames give a bag of zeros.
    """
    assignments = np.asarray(assignments, dtype=np.int64)
    assignments = assignments[:, None] if assignments.ndim == 1 else assignments
    _, rows = bags(
        np.zeros(len(assignments)), assignments, n_words, window_s=bow.window_s,
        hop_s=bow.hop_s, window=bow.window, weighting=bow.weighting, normalise=bow.normalise,
        end_s=0.0,
    )  # fmt: skip
    return rows[0]


def token_bag(tokens, vocabulary: Vocabulary, bow: BowConfig) -> np.ndarray:
    """One bag of a text's tokens (tokens not in the vocabulary are skipped)."""
    found = [i for i in map(vocabulary.index, tokens) if i is not None]
    return single_bag(np.array(found, dtype=np.int64), len(vocabulary), bow)


def frames_bag(codebooks: dict, groups, frames: dict[str, np.ndarray], bow: BowConfig) -> np.ndarray:
    """The bag of one item: each group's frames (n, d) quantised, the groups side by side."""
    parts = []
    for group in groups:
        book = codebooks[group]
        parts.append(single_bag(book.quantise(frames[group]), book.n_words, bow))
    return np.concatenate(parts)


def fit_codebooks(
    frames: dict[str, np.ndarray], texts: list[str], config: Config, priors: dict | None = None
) -> dict:
    """Codebooks of the groups in ``frames`` ((n, d) training frames each) and the vocabulary
    of ``texts``, with the ``codebooks`` and ``text`` settings; ``priors``: group -> the
    calibration prior each codebook keeps."""
    settings = config.codebooks
    books: dict = {}
    for group, values in frames.items():
        books[group] = Codebook.fit(
            values, n_words=getattr(settings, f"{group}_size"), generation=settings.generation,
            seed=settings.seed, max_frames=settings.max_training_frames,
            assignments=settings.assignments, feature_names=GROUP_COLUMNS[group], group=group,
        )  # fmt: skip
        if priors:
            books[group] = dataclasses.replace(books[group], prior=priors[group])
    books["text"] = Vocabulary.build(texts, config.text.vocabulary_size, config.text.min_count)
    return books


def codebook_manifest(codebooks: dict, modality: str) -> list[dict]:
    """The ``codebooks`` entries a model's JSON keeps for ``modality`` (group, file, checksum)."""
    return [
        {"group": g, "file": CODEBOOK_FILES[g], "checksum": codebooks[g].checksum}
        for g in MODALITY_GROUPS[modality]
    ]


@dataclass
class BranchData:
    """Bags and targets of one modality's items, by partition.

    Attributes
    ----------
    items : dict of str to list of Item
        partition -> the items whose bag is not empty.
    bags : dict of str to np.ndarray
        partition -> (n_items, bag_size) float32.
    """

    items: dict
    bags: dict

    def targets(self, partition: str, dimension: str) -> np.ndarray:
        """(n_items,) values of ``dimension`` in [-1, 1]."""
        return np.array([getattr(i, dimension) for i in self.items[partition]], np.float32)


def branch_data(items: list, rows: list[np.ndarray]) -> BranchData:
    """Bags (one per item, in the order of ``items``) grouped by partition; empty ones dropped."""
    keep = {p: [] for p in PARTITIONS}
    for item, row in zip(items, rows, strict=True):
        if row.any():
            keep[item.partition].append((item, row))
    width = len(rows[0]) if len(rows) else 0
    return BranchData(
        {p: [i for i, _ in pairs] for p, pairs in keep.items()},
        {p: np.array([r for _, r in pairs], np.float32).reshape(len(pairs), width)
         for p, pairs in keep.items()},
    )  # fmt: skip


def train_branch(
    data: BranchData, modality: str, dimension: str, config: Config, log=None
) -> tuple[FusionNet, dict]:
    """A one-modality network with ``dimension``'s Table I sizes, trained on ``data``.

    Returns
    -------
    FusionNet
        The checkpoint with the best Devel CCC.
    dict
        ``best_epoch`` and the CCC on each partition.
    """
    units, fusion_units = config.fusion.units(dimension)
    width = data.bags["train"].shape[1]

    def new_network() -> FusionNet:
        return FusionNet({modality: width}, {modality: units[modality]}, fusion_units,
                         dropout=config.fusion.dropout)  # fmt: skip

    model, history = train_model(
        {modality: data.bags["train"]}, data.targets("train", dimension),
        {modality: data.bags["devel"]}, data.targets("devel", dimension), new_network,
        epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=config.training.learning_rate,
        patience=PATIENCE, seed=config.training.seed, device="cpu", log=log,
    )  # fmt: skip
    scores = {"best_epoch": history.best_epoch}
    for partition in PARTITIONS:
        if partition == "test":
            continue  # the Test items are scored only by the held-out checks
        estimate = predict(model, {modality: data.bags[partition]})[:, 0]
        scores[f"{partition}_ccc"] = ccc(data.targets(partition, dimension), estimate)
    return model, scores


def save_training_items(path: Path, data: BranchData, codebooks: list[dict]) -> None:
    """The training items' bags (stored sparse) and values of one modality, with the
    manifest of the ``codebooks`` they were made with."""
    bags = data.bags["train"]
    rows, columns = np.nonzero(bags)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, shape=np.array(bags.shape), rows=rows.astype(np.int32),
        columns=columns.astype(np.int32), values=bags[rows, columns],
        codebooks=np.array(json.dumps(codebooks)),
        **{d: data.targets("train", d) for d in DIMENSIONS},
    )  # fmt: skip


def load_training_items(
    folder: str | Path, modality: str, dimension: str, codebooks: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    """The bags (n, bag_size) float32 and values (n,) of ``dimension`` that
    :func:`save_training_items` wrote for ``modality`` in ``folder``.

    Raises
    ------
    StreamerError
        The file is missing, or its bags were made with other ``codebooks`` (a manifest).
    """
    path = Path(folder) / f"{modality}.npz"
    if not path.is_file():
        raise StreamerError(
            f"no pretraining items {path}: run `streamer pretrain` again (it writes "
            "OUT/items beside OUT/branches) or set training.pretraining_items to 0"
        )
    with np.load(path, allow_pickle=False) as stored:
        made_with = [(e["group"], e["checksum"]) for e in json.loads(str(stored["codebooks"]))]
        if made_with != [(e["group"], e["checksum"]) for e in codebooks]:
            raise StreamerError(
                f"the pretraining items {path} were made with other codebooks than the "
                "corpus's bags: make the bags with the codebooks `streamer pretrain` wrote"
            )
        bags = np.zeros(tuple(stored["shape"]), np.float32)
        bags[stored["rows"], stored["columns"]] = stored["values"]
        return bags, stored[dimension].astype(np.float32)


def training_frames(items: dict, frames: dict, neutral_only: bool = False) -> dict:
    """Group -> the frames (n, d) of the training items (only the neutral ones), from
    ``items`` and ``frames`` (modality -> per item, group -> (n, d))."""
    return {
        group: np.concatenate([
            f[group] for item, f in zip(items[modality], frames[modality], strict=True)
            if item.partition == "train" and (not neutral_only or item.category == unimodal.NEUTRAL)
        ])
        for modality in frames for group in MODALITY_GROUPS[modality]
    }  # fmt: skip


def calibration_priors(neutral: dict[str, np.ndarray]) -> dict[str, CalibrationPrior]:
    """The population statistics of each group's (uncalibrated) neutral training frames."""
    return {
        group: CalibrationPrior.fit(values, sparse_columns(GROUP_COLUMNS[group]))
        for group, values in neutral.items()
    }


def calibrated_frames(items: dict, frames: dict, priors: dict, config: Config) -> dict:
    """``frames`` (modality -> per item, group -> (n, d)) with each modality that
    ``config.calibration`` turns on read per person (:func:`unimodal.calibrate_items`)."""
    switch = {"audio": config.calibration.audio, "video": config.calibration.face}
    result = dict(frames)
    for modality, on in switch.items():
        if on and modality in frames:
            groups = {g: priors[g] for g in MODALITY_GROUPS[modality]}
            weights = {g: config.calibration.prior_s * FRAMES_PER_S[g] for g in groups}
            result[modality] = unimodal.calibrate_items(
                items[modality], frames[modality], groups, weights,
                unimodal.calibration_weight(modality),
            )  # fmt: skip
    return result


def run_pretraining(
    shared: str | Path,
    out: str | Path,
    config: Config,
    seed: int = 0,
    processes: int = 2,
    cache: str | Path | None = None,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Fit the codebooks and pretrain every branch (see the module docstring).

    Parameters
    ----------
    shared : path
        The shared data folder.
    out : path
        Gets ``codebooks/`` and ``branches/``.
    config : Config
        Feature, codebook, bag and network settings (those of the model to be trained).
    seed : int
        The partition seed: the same as the demo corpus's (``data demo-corpus --seed``).
    processes : int
        Worker processes computing LLDs and tracking faces.
    cache : path, optional
        Where frames are kept between runs (default ``OUT/frames``).

    Returns
    -------
    dict
        ``(dimension, modality)`` -> scores of :func:`train_branch`.
    """
    out = Path(out)
    cache = Path(cache) if cache else out / "frames"
    sources = load_sources(shared)
    split = split_people(sources, seed)
    face_model = unimodal.face_model_path(config, shared)
    items = {
        "audio": unimodal.audio_items(sources, split),
        "video": unimodal.face_items(sources, split),
        "text": unimodal.text_items(sources, split),
    }
    frames = {
        "audio": [{"audio": f} for f in unimodal.item_frames(
            items["audio"], "audio", config, cache, processes, log=log)],
        "video": [unimodal.group_frames(f, config) for f in unimodal.item_frames(
            items["video"], "video", config, cache, processes, face_model, log=log)],
    }  # fmt: skip
    priors = calibration_priors(training_frames(items, frames, neutral_only=True))
    frames = calibrated_frames(items, frames, priors, config)
    training = training_frames(items, frames)
    texts = [i.source for i in items["text"] if i.partition == "train"]
    if log:
        log("fitting the codebooks on the training items")
    codebooks = fit_codebooks(training, texts, config, priors)
    (out / "codebooks").mkdir(parents=True, exist_ok=True)
    for group, book in codebooks.items():
        book.save(out / "codebooks" / CODEBOOK_FILES[group])
    rows = {
        modality: [frames_bag(codebooks, MODALITY_GROUPS[modality], f, config.bow)
                   for f in frames[modality]]
        for modality in ("audio", "video")
    }  # fmt: skip
    rows["text"] = [token_bag(i.source.split(), codebooks["text"], config.bow) for i in items["text"]]
    report = {}
    for modality in ("audio", "video", "text"):
        data = branch_data(items[modality], rows[modality])
        manifest = codebook_manifest(codebooks, modality)
        save_training_items(out / ITEMS_FOLDER / f"{modality}.npz", data, manifest)
        for dimension in DIMENSIONS:
            if log:
                sizes = {p: len(data.items[p]) for p in PARTITIONS}
                log(f"== {dimension} from {modality}: items {sizes}")
            model, scores = train_branch(data, modality, dimension, config, log=None)
            meta = {"dimension": dimension, "modality": modality, "scores_ccc": scores,
                    "calibration": vars(config.calibration),
                    "codebooks": {modality: manifest},
                    "items": {p: len(data.items[p]) for p in PARTITIONS}}  # fmt: skip
            save_model(model, out / "branches", f"{dimension}_{modality}", meta)
            report[(dimension, modality)] = scores
            if log:
                log(f"   best epoch {scores['best_epoch']}, CCC train "
                    f"{scores['train_ccc']:.3f}, devel {scores['devel_ccc']:.3f}")  # fmt: skip
    return report


def load_branches(
    model: FusionNet, folder: str | Path, dimension: str, codebooks: dict,
    calibration: dict | None = None,
) -> list[str]:  # fmt: skip
    """Start each branch of ``model`` from ``folder/<dimension>_<modality>`` (in place).

    ``codebooks``: modality -> the manifest the corpus's bags were made with; a branch
    pretrained on other codebooks is refused (its inputs would mean other words), and so
    is one pretrained with other ``calibration`` settings (when given).

    Returns
    -------
    list of str
        The modalities whose branch was loaded.

    Raises
    ------
    StreamerError
        A branch is missing, has other sizes, or was pretrained on other codebooks.
    """
    loaded = []
    for modality in model.input_dims:
        pretrained, meta = load_model(folder, f"{dimension}_{modality}")
        expected = [(e["group"], e["checksum"]) for e in codebooks.get(modality, [])]
        found = [(e["group"], e["checksum"]) for e in meta["codebooks"][modality]]
        if expected != found:
            raise StreamerError(
                f"the pretrained {modality} branch in {folder} was trained on other codebooks "
                f"than the corpus's bags ({found} vs {expected}): make the bags with the "
                "codebooks `streamer pretrain` wrote"
            )
        if calibration is not None and meta.get("calibration", calibration) != calibration:
            raise StreamerError(
                f"the pretrained {modality} branch in {folder} was trained with calibration "
                f"{meta['calibration']}, the corpus's bags with {calibration}: use the same "
                "calibration settings for `streamer pretrain`, `features bow` and `train`"
            )
        source = pretrained.branches[modality].state_dict()
        target = model.branches[modality]
        shapes = [tuple(v.shape) for v in source.values()]
        if shapes != [tuple(v.shape) for v in target.state_dict().values()]:
            raise StreamerError(
                f"the pretrained {modality} branch in {folder} has other sizes than "
                f"fusion.{dimension}_{modality}_units: pretrain with the same settings"
            )
        target.load_state_dict(source)
        loaded.append(modality)
    return loaded
