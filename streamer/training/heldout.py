"""Held-out checks of each branch of a trained model, on real people no step trained on.

Each check feeds one modality (the others are zero rows, as the runtime gives a missing
one) with one bag per item (every frame of the item in one window, the model's ``bow``
settings) of the people of one partition (:mod:`streamer.training.sources`; by default
Test, which no step trains or tunes on; Devel is what choices may be made on):

- audio -> arousal, CCC: RAVDESS utterances of the partition's actors (8 expressions);
  EmoDB utterances of its speakers (7 categories).
- video -> valence, CCC: KDEF photographs of its actors (7 expressions, both sessions),
  each as a clip with the demo corpus's head wobble (:mod:`streamer.training.unimodal`).
- video -> valence on faces_lfw's persons: AUC of happy against neutral faces, and the
  mean valence of the neutral ones (a person at rest should read neutral, about 0).
- text -> valence, Pearson r: EmoBank's sentences of the split against their own ratings;
  the NRC VAD lexicon's words of the partition that are in the vocabulary, one word each.

Category values are NRC VAD's (:func:`streamer.training.sources.load_sources`).

With a model that calibrates a modality, its checks are calibrated per person as in
training (against the person's neutral items here), and more lines show the scenario
calibration is for: each RAVDESS, EmoDB and KDEF item read after ``NEUTRAL_FIRST_S`` of
the same person's neutral voice or face (their other neutral items, repeated as needed),
its statistics then being the person's over the neutral preamble and the item
(:func:`neutral_first`).

``python -m streamer.training.heldout --models DIR [--codebooks DIR] --shared DIR
[--partition test|devel] [--seed N] [--cache DIR] --out FILE.md`` writes the table (and prints it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.config import Config, load_config
from streamer.errors import StreamerError
from streamer.fusion.metrics import ccc, pcc
from streamer.training import unimodal
from streamer.training.pretrain import calibrated_frames, frames_bag, token_bag
from streamer.training.sources import load_sources, split_people

NEUTRAL_FIRST_S = 8.0  # the neutral voice or face a person shows before an expression (s)
DEFAULT_CACHE = Path.home() / ".cache" / "streamer" / "frames"
# What a usable branch should reach: (lowest, highest) value of the metric.
AIMS = {
    ("audio", "ravdess"): (0.70, 1.0), ("audio", "emodb"): (0.65, 1.0),
    ("video", "kdef"): (0.75, 1.0), ("video", "lfw"): (0.90, 1.0),
    ("video", "lfw neutral"): (-0.2, 0.2),
    ("text", "emobank"): (0.45, 1.0), ("text", "nrc"): (0.6, 1.0),
}  # fmt: skip


@dataclass(frozen=True)
class HeldOutScore:
    """How one branch did on one held-out set.

    Attributes
    ----------
    modality, dimension : str
        The branch fed (``audio``, ``video``, ``text``) and the output scored.
    data : str
        What it was scored on (corpus and people or split).
    metric : str
        ``"CCC"``, ``"Pearson r"``, ``"AUC"`` or ``"mean"``.
    value : float
        The metric (dimensionless).
    n : int
        Items scored (utterances, photographs, sentences, words).
    aim : tuple of float
        The lowest and highest value a usable branch gives.
    """

    modality: str
    dimension: str
    data: str
    metric: str
    value: float
    n: int
    aim: tuple[float, float]

    @property
    def passed(self) -> bool:
        """Whether ``value`` lies in ``aim``."""
        return self.aim[0] <= self.value <= self.aim[1]


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive scores above a negative (ties
    count half)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    above = (positive[:, None] > negative[None, :]).sum() + 0.5 * (
        positive[:, None] == negative[None, :]
    ).sum()
    return float(above / (len(positive) * len(negative)))


def predict_branch(model, modality: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Estimates (dimension -> (n,)) from bags (n, bag_size) of one modality, others zero."""
    rows = np.asarray(rows, dtype=np.float32)
    inputs = {m: np.zeros((len(rows), model.bag_size(m)), np.float32) for m in model.modalities}
    inputs[modality] = rows
    return model.predict(inputs)


def item_bags(model, modality: str, items, frames, config: Config) -> np.ndarray:
    """One bag per item: its frames (audio, video) or its tokens (text) with the model's
    codebooks."""
    if modality == "text":
        vocabulary = model.codebooks["text"]
        return np.array([token_bag(i.source.split(), vocabulary, config.bow) for i in items])
    groups = model.groups[modality]
    return np.array([frames_bag(model.codebooks, groups, f, config.bow) for f in frames])


def calibrated(model, modality: str, items, frames, config: Config) -> list[dict]:
    """``frames`` read per person against all of that person's items here, when the model's
    ``calibration`` turns it on for ``modality`` (as in training: :func:`calibrated_frames`)."""
    if not (config.calibration.audio if modality == "audio" else config.calibration.face):
        return frames
    groups = model.groups[modality]
    priors = {g: model.codebooks[g].prior for g in groups}
    if any(p is None for p in priors.values()):
        raise StreamerError(f"the model calibrates {modality} but its codebooks keep no prior")
    return calibrated_frames({modality: items}, {modality: frames}, priors, config)[modality]


def neutral_first(
    model, modality: str, items, frames, config: Config, neutral_s: float = NEUTRAL_FIRST_S
) -> list[dict]:
    """Each item's frames read against its person's statistics after ``neutral_s`` seconds
    of their neutral items (other than itself) and then the item; an item whose person has
    no other neutral item is left raw (None in the list)."""
    from streamer.bow.calibration import FRAMES_PER_S, calibrate_person

    groups = model.groups[modality]
    weight = unimodal.calibration_weight(modality)
    people: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        people.setdefault(f"{item.corpus}/{item.person}", []).append(k)
    result: list = [None] * len(items)
    for indices in people.values():
        neutral = [k for k in indices if items[k].category == "neutral" and len(frames[k][groups[0]])]
        for k in indices:
            others = [n for n in neutral if n != k]
            if not others:
                continue
            calibrated = {}
            for group in groups:
                preamble = np.concatenate([frames[n][group] for n in others])
                needed = neutral_s * FRAMES_PER_S[group] / weight
                preamble = np.tile(preamble, (int(np.ceil(needed / len(preamble))), 1))
                shown = np.concatenate([preamble[: int(np.ceil(needed))], frames[k][group]])
                prior = model.codebooks[group].prior
                prior_frames = config.calibration.prior_s * FRAMES_PER_S[group]
                calibrated[group] = calibrate_person(frames[k][group], prior, prior_frames,
                                                     weight, reference=shown)  # fmt: skip
            result[k] = calibrated
    return result


def score_items(model, modality: str, dimension: str, items, bags, data: str) -> list[HeldOutScore]:
    """The check(s) of one corpus's items (see the module docstring); ``data`` names them."""
    corpus = items[0].corpus
    estimate = predict_branch(model, modality, bags)[dimension]
    truth = np.array([getattr(i, dimension) for i in items])
    if corpus == "lfw":
        category = np.array([i.category for i in items])
        happy, neutral = estimate[category == "happiness"], estimate[category == "neutral"]
        return [
            HeldOutScore(modality, dimension, f"{data}: happy vs neutral", "AUC",
                         auc(happy, neutral), len(happy) + len(neutral), AIMS[(modality, "lfw")]),
            HeldOutScore(modality, dimension, f"{data}: neutral faces", "mean",
                         float(np.mean(neutral)), len(neutral), AIMS[(modality, "lfw neutral")]),
        ]  # fmt: skip
    if modality == "text":
        value, metric = pcc(truth, estimate), "Pearson r"
    else:
        value, metric = ccc(truth, estimate), "CCC"
    return [HeldOutScore(modality, dimension, data, metric, value, len(items), AIMS[(modality, corpus)])]


def run_checks(
    models_dir: str | Path,
    shared: str | Path,
    codebooks_dir: str | Path | None = None,
    partition: str = "test",
    seed: int = 0,
    cache: str | Path | None = None,
    processes: int = 2,
    log: Callable[[str], None] | None = None,
) -> list[HeldOutScore]:
    """All checks of the model in ``models_dir`` on the people of ``partition``.

    Parameters
    ----------
    models_dir : path
        The trained networks (and the ``config.yaml`` their features were made with).
    shared : path
        The shared data folder.
    codebooks_dir : path, optional
        Where the codebooks are, after ``models_dir`` (default: the shipped ones).
    partition : {"test", "devel"}
        Whose items are scored.
    seed : int
        The partition seed (``streamer pretrain --seed``, ``data demo-corpus --seed``).
    cache : path, optional
        Frames cache folder (:func:`unimodal.item_frames`); default ``DEFAULT_CACHE``.
    processes : int
        Worker processes computing frames.
    """
    from streamer.runtime.model_bundle import load_affect_model, model_config_path

    model = load_affect_model(models_dir, codebooks_dir)
    config = load_config(model_file=model_config_path(models_dir))
    sources = load_sources(shared)
    split = split_people(sources, seed)
    cache = Path(cache) if cache else DEFAULT_CACHE
    face_model = unimodal.face_model_path(config, shared)
    kinds = {
        "audio": ("arousal", unimodal.audio_items, [("ravdess", "RAVDESS actors"), ("emodb", "EmoDB speakers")]),
        "video": ("valence", unimodal.face_items, [("kdef", "KDEF actors"), ("lfw", "faces_lfw persons")]),
        "text": ("valence", unimodal.text_items, [("emobank", "EmoBank sentences"), ("nrc", "NRC VAD words")]),
    }  # fmt: skip
    scores = []
    for modality, (dimension, items_of, corpora) in kinds.items():
        items = [i for i in items_of(sources, split) if i.partition == partition]
        frames = None
        if modality == "audio":
            frames = [{"audio": f} for f in unimodal.item_frames(items, "audio", config, cache, processes, log=log)]
        elif modality == "video":
            frames = [unimodal.group_frames(f, config) for f in unimodal.item_frames(
                items, "video", config, cache, processes, face_model, log=log)]  # fmt: skip
        raw = frames
        if frames is not None:
            frames = calibrated(model, modality, items, frames, config)
        bags = item_bags(model, modality, items, frames, config)
        if frames is not raw:
            scores += neutral_first_scores(model, modality, dimension, items, raw, config, partition)
        for corpus, label in corpora:
            keep = np.array([i.corpus == corpus and bags[k].any() for k, i in enumerate(items)])
            chosen = [i for i, k in zip(items, keep, strict=True) if k]
            people = len({i.person for i in chosen})
            what = "items" if modality != "text" else ("sentences" if corpus == "emobank" else "words")
            data = f"{label} ({partition}, {people} {'people' if modality != 'text' else what})"
            scores += score_items(model, modality, dimension, chosen, bags[keep], data)
    return scores


def neutral_first_scores(
    model, modality: str, dimension: str, items, frames, config: Config, partition: str,
    neutral_s: float = NEUTRAL_FIRST_S,
) -> list[HeldOutScore]:
    """The checks of :func:`neutral_first` (RAVDESS and EmoDB voices, KDEF faces)."""
    shown = neutral_first(model, modality, items, frames, config, neutral_s)
    what = "voice" if modality == "audio" else "face"
    scores = []
    for corpus, label in (("ravdess", "RAVDESS actors"), ("emodb", "EmoDB speakers"), ("kdef", "KDEF actors")):
        keep = [k for k, i in enumerate(items) if i.corpus == corpus and shown[k] is not None]
        if not keep:
            continue
        bags = item_bags(model, modality, [items[k] for k in keep], [shown[k] for k in keep], config)
        nonempty = [j for j in range(len(keep)) if bags[j].any()]
        chosen = [items[keep[j]] for j in nonempty]
        people = len({i.person for i in chosen})
        data = (f"{label} ({partition}, {people} people), after {neutral_s:g} s of "
                f"their neutral {what}")  # fmt: skip
        scores += score_items(model, modality, dimension, chosen, bags[nonempty], data)
    return scores


def markdown_table(scores: list[HeldOutScore]) -> str:
    """The scores as a markdown table (one line per check)."""
    lines = [
        "| branch | data | n | metric | value | aim | reached |",
        "| --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for s in scores:
        low, high = s.aim
        aim = f">= {low:.2f}" if high >= 1.0 else f"{low:+.2f}..{high:+.2f}"
        lines.append(
            f"| {s.modality} -> {s.dimension} | {s.data} | {s.n} | {s.metric} | {s.value:.3f} "
            f"| {aim} | {'yes' if s.passed else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry: run the checks, write and print the markdown table."""
    parser = argparse.ArgumentParser(
        prog="python -m streamer.training.heldout",
        description="score each branch of a trained model on held-out real people",
    )
    parser.add_argument("--models", required=True, metavar="DIR", help="the models folder")
    parser.add_argument("--codebooks", metavar="DIR", help="codebooks folder (default: shipped)")
    parser.add_argument("--shared", required=True, metavar="DIR", help="the shared data folder")
    parser.add_argument("--partition", default="test", choices=("test", "devel"))
    parser.add_argument("--seed", type=int, default=0, help="partition seed (default 0)")
    parser.add_argument("--cache", metavar="DIR", help=f"frames cache (default {DEFAULT_CACHE})")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", required=True, metavar="FILE.md", help="the table to write")
    args = parser.parse_args(argv)
    scores = run_checks(args.models, args.shared, args.codebooks, args.partition, args.seed,
                        args.cache, max(1, args.processes))  # fmt: skip
    table = markdown_table(scores)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(f"# Held-out checks ({args.partition})\n\n" + table, encoding="utf-8")
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
