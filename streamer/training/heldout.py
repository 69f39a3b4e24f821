"""Held-out checks of each branch of a trained model, on real data outside the demo corpus.

The demo corpus pairs voices, faces and sentences that were never recorded together, so
its Test CCC says little about how each branch reads its own modality. These checks feed
one modality at a time (the others are zero rows, as the runtime gives a missing one) on
material none of the model's training recordings used:

- audio -> arousal: EmoDB utterances of the speakers of a corpus partition, one bag over
  all the LLD frames of each 2-s utterance; CCC against the category's arousal.
- video -> valence: KDEF photographs of the partition's actors, each shown as a short
  clip with the corpus's head wobble (:mod:`streamer.training.demo_media`), one bag over
  the clip's face frames; CCC against the category's valence.
- text -> valence: every sentence of EmoBank's own test split, one bag of its tokens;
  Pearson r against EmoBank's valence rating.

Category values are category_va.csv's, mapped to [-1, 1] as the demo corpus maps them
(:func:`streamer.training.demo_corpus.load_sources`), for its six categories only. Bags
use the model's ``bow`` settings with every frame (or token) inside one window.

``python -m streamer.training.heldout --models DIR [--codebooks DIR] --shared DIR
--manifest FILE --out FILE.md`` writes the table (and prints it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.feature_tables import GROUP_COLUMNS
from streamer.bow.rolling import bags
from streamer.config import BowConfig, Config, load_config
from streamer.fusion.metrics import ccc, pcc
from streamer.training import demo_media
from streamer.training.sources import load_sources

CLIP_S = 3.0  # length of the clip each photograph is shown as (s)
AIMS = {"audio": 0.6, "video": 0.6, "text": 0.4}  # what a usable branch should reach


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
        ``"CCC"`` or ``"Pearson r"``.
    value : float
        The metric (dimensionless, -1..1).
    n : int
        Items scored (utterances, photographs, sentences).
    aim : float
        The value a usable branch should reach.
    """

    modality: str
    dimension: str
    data: str
    metric: str
    value: float
    n: int
    aim: float

    @property
    def passed(self) -> bool:
        """Whether ``value`` reaches ``aim``."""
        return self.value >= self.aim


def single_bag(assignments: np.ndarray, n_words: int, bow: BowConfig) -> np.ndarray:
    """One bag (n_words,) holding every frame of ``assignments`` (n_frames, a) in one window.

    All frames are placed at 0 s, so the window at 0 s holds them all; weighting and
    normalisation are the model's (``bow``). No frames give a bag of zeros.
    """
    assignments = np.asarray(assignments, dtype=np.int64)
    assignments = assignments[:, None] if assignments.ndim == 1 else assignments
    _, rows = bags(
        np.zeros(len(assignments)), assignments, n_words, window_s=bow.window_s,
        hop_s=bow.hop_s, window=bow.window, weighting=bow.weighting, normalise=bow.normalise,
        end_s=0.0,
    )  # fmt: skip
    return rows[0]


def frames_bag(model, modality: str, frames: dict[str, np.ndarray], bow: BowConfig) -> np.ndarray:
    """The bag of ``modality`` (its groups side by side) from each group's frames (n, d)."""
    parts = []
    for group in model.groups[modality]:
        book = model.codebooks[group]
        parts.append(single_bag(book.quantise(frames[group]), book.n_words, bow))
    return np.concatenate(parts)


def predict_branch(model, modality: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Estimates (dimension -> (n,)) from bags (n, bag_size) of one modality, others zero."""
    rows = np.asarray(rows, dtype=np.float32)
    inputs = {m: np.zeros((len(rows), model.bag_size(m)), np.float32) for m in model.modalities}
    inputs[modality] = rows
    return model.predict(inputs)


def emodb_llds(shared: str | Path, speakers, config: Config) -> list[tuple[str, np.ndarray]]:
    """(category, LLD frames (n, 23)) of each EmoDB utterance of ``speakers`` in the corpus's
    six categories, computed from the WAV file with the model's ``audio`` settings."""
    from streamer.features.audio_lld import create_extractor
    from streamer.sources.media_file import read_audio

    items = []
    for (speaker, category), paths in sorted(load_sources(shared)["utterances"].items()):
        if speaker not in speakers:
            continue
        for path in paths:
            samples, rate_hz = read_audio(path)
            extractor = create_extractor(config.audio, rate_hz)
            frames = [extractor.push(samples), extractor.flush()]
            items.append((category, np.concatenate([f.values for f in frames if len(f)])))
    return items


def kdef_faces(
    shared: str | Path, actors, config: Config, clip_s: float = CLIP_S, seed: int = 0
) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(category, group -> face frames (n, d)) of each KDEF photograph of ``actors``.

    Each photograph is shown for ``clip_s`` seconds at ``demo_media.FPS`` with a head wobble
    drawn like the corpus's, and tracked with the model's ``face`` settings (frames without
    a face are left out). ``seed`` seeds the wobbles.
    """
    import cv2

    from streamer.features.face.tracker import FaceTracker
    from streamer.features.face_features import face_column_names, observation_row
    from streamer.types import VideoFrame

    shared = Path(shared)
    model_path = config.face.model_path or os.environ.get("STREAMER_FACE_MODEL")
    bundled = shared / "models" / "face_landmarker.task"
    model_path = model_path or (bundled if bundled.is_file() else None)
    columns = face_column_names(config.face.blendshapes)
    index = {g: [columns.index(c) for c in GROUP_COLUMNS[g]] for g in ("pose", "eyes", "landmarks")}
    t_s = np.arange(int(round(clip_s * demo_media.FPS))) / demo_media.FPS
    faces = sorted(load_sources(shared)["faces"].items())
    items = []
    with FaceTracker(config.face, model_path) as tracker:
        for k, ((actor, _, category), path) in enumerate(faces):
            if actor not in actors:
                continue
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            motion = demo_media.wobble(t_s, np.random.default_rng([seed, k]))
            tracker.reset()
            rows = []
            for i, (t, move) in enumerate(zip(t_s, motion, strict=True)):
                frame = VideoFrame(float(t), demo_media.moved_frame(image, move), i)
                rows.append(observation_row(tracker.process(frame)))
            rows = np.array(rows)
            rows = rows[rows[:, 0] > 0.5]
            items.append((category, {g: rows[:, i] for g, i in index.items()}))
    return items


def emobank_sentences(shared: str | Path, split: str = "test") -> list[tuple[float, list[str]]]:
    """(valence rating 1-5, tokens) of every sentence of EmoBank's ``split``."""
    from streamer.features.speech.words import tokenize

    with (Path(shared) / "data" / "emobank" / "emobank.csv").open(encoding="utf-8") as file:
        return [
            (float(row["V"]), tokenize(row["text"]))
            for row in csv.DictReader(file)
            if row["split"] == split
        ]


def _scored(model, modality, dimension, rows, truth, data: str, metric: str) -> HeldOutScore:
    """Predict from one modality's bags and score against ``truth`` with ``metric``."""
    predicted = predict_branch(model, modality, np.array(rows))[dimension]
    value = (ccc if metric == "CCC" else pcc)(np.asarray(truth, dtype=float), predicted)
    return HeldOutScore(modality, dimension, data, metric, value, len(rows), AIMS[modality])


def score_audio(model, config: Config, items, va: dict, data: str) -> HeldOutScore:
    """CCC of the arousal the audio branch gives each utterance of :func:`emodb_llds`;
    ``va``: category -> (valence, arousal) in [-1, 1]."""
    rows = [frames_bag(model, "audio", {"audio": frames}, config.bow) for _, frames in items]
    truth = [va[category][1] for category, _ in items]
    return _scored(model, "audio", "arousal", rows, truth, data, "CCC")


def score_face(model, config: Config, items, va: dict, data: str) -> HeldOutScore:
    """CCC of the valence the video branch gives each photograph of :func:`kdef_faces`."""
    rows = [frames_bag(model, "video", groups, config.bow) for _, groups in items]
    truth = [va[category][0] for category, _ in items]
    return _scored(model, "video", "valence", rows, truth, data, "CCC")


def score_text(model, config: Config, items, data: str) -> HeldOutScore:
    """Pearson r of the valence the text branch gives each sentence of
    :func:`emobank_sentences` (tokens not in the vocabulary are skipped)."""
    vocabulary = model.codebooks["text"]
    rows = []
    for _, tokens in items:
        found = [i for i in map(vocabulary.index, tokens) if i is not None]
        rows.append(single_bag(np.array(found, dtype=np.int64), len(vocabulary), config.bow))
    truth = [rating for rating, _ in items]
    return _scored(model, "text", "valence", rows, truth, data, "Pearson r")


def run_checks(
    models_dir: str | Path,
    shared: str | Path,
    manifest: str | Path,
    codebooks_dir: str | Path | None = None,
    clip_s: float = CLIP_S,
) -> list[HeldOutScore]:
    """All checks of the model in ``models_dir`` on the people of a demo corpus's manifest.

    Parameters
    ----------
    models_dir : path
        The trained networks (and the ``config.yaml`` their features were made with).
    shared : path
        The shared data folder (``data/emodb``, ``data/kdef``, ``data/emobank``...).
    manifest : path
        The demo corpus's ``manifest.json``: its ``split`` names each partition's people.
    codebooks_dir : path, optional
        Where the codebooks are, after ``models_dir`` (default: the shipped ones).
    clip_s : float
        Seconds each KDEF photograph is shown for.

    Returns
    -------
    list of HeldOutScore
        Audio on the Test speakers, audio on the Devel speakers, video on the Test actors,
        text on EmoBank's test split.
    """
    from streamer.runtime.model_bundle import load_affect_model, model_config_path

    model = load_affect_model(models_dir, codebooks_dir)
    config = load_config(model_file=model_config_path(models_dir))
    split = json.loads(Path(manifest).read_text(encoding="utf-8"))["split"]
    va = load_sources(shared)["va"]
    scores = []
    for partition in ("test", "devel"):
        speakers = split[partition]["speakers"]
        items = emodb_llds(shared, speakers, config)
        data = f"EmoDB, {partition.capitalize()} speakers {', '.join(sorted(speakers))}"
        scores.append(score_audio(model, config, items, va, data))
    actors = split["test"]["actors"]
    items = kdef_faces(shared, actors, config, clip_s)
    scores.append(score_face(model, config, items, va, f"KDEF, {len(actors)} Test actors"))
    items = emobank_sentences(shared, "test")
    scores.append(score_text(model, config, items, "EmoBank test split"))
    return scores


def markdown_table(scores: list[HeldOutScore]) -> str:
    """The scores as a markdown table (one line per check)."""
    lines = [
        "| branch | data | n | metric | value | aim | reached |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in scores:
        lines.append(
            f"| {s.modality} -> {s.dimension} | {s.data} | {s.n} | {s.metric} | {s.value:.3f} "
            f"| {s.aim:.2f} | {'yes' if s.passed else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry: run the checks, write and print the markdown table."""
    parser = argparse.ArgumentParser(
        prog="python -m streamer.training.heldout",
        description="score each branch of a trained model on held-out EmoDB, KDEF and EmoBank",
    )
    parser.add_argument("--models", required=True, metavar="DIR", help="the models folder")
    parser.add_argument("--codebooks", metavar="DIR", help="codebooks folder (default: shipped)")
    parser.add_argument("--shared", required=True, metavar="DIR", help="the shared data folder")
    parser.add_argument(
        "--manifest", required=True, metavar="FILE", help="the demo corpus's manifest.json"
    )
    parser.add_argument("--out", required=True, metavar="FILE.md", help="the table to write")
    parser.add_argument("--clip-s", type=float, default=CLIP_S, help="seconds a photo is shown")
    args = parser.parse_args(argv)
    scores = run_checks(args.models, args.shared, args.manifest, args.codebooks, args.clip_s)
    table = markdown_table(scores)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("# Held-out checks\n\n" + table, encoding="utf-8")
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
