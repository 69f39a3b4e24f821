"""Unimodal training data: one item per utterance, photograph or sentence, with its frames.

An item is something a person expressed and what it expresses, in [-1, 1]: an EmoDB or
RAVDESS utterance (its category's valence and arousal), a KDEF or faces_lfw photograph
(likewise), an EmoBank sentence (its own ratings) or an NRC VAD lexicon word (its own
values). Items carry the partition of their person (:mod:`streamer.training.sources`).

Frames are what the runtime quantises: audio LLDs from the file with the model's
``audio`` settings, face rows tracked with the model's ``face`` settings in a clip of
the photograph with the demo corpus's head wobble (``FACE_FRAMES`` frames spread over
``CLIP_S``), tokens of the text. Audio and face frames are slow to compute (minutes), so
:func:`item_frames` keeps them in a cache folder, recomputed when the settings change.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.feature_tables import GROUP_COLUMNS, VIDEO_GROUPS
from streamer.config import Config
from streamer.errors import StreamerError
from streamer.training import demo_media
from streamer.training.sources import EMOBANK_SPLITS, PARTITIONS, RAVDESS_PREFIX

CLIP_S = 3.0  # the wobble clip a photograph is shown as (s)
FACE_FRAMES = 10  # frames tracked per clip, evenly spread
NEUTRAL = "neutral"  # the category of a person at rest: their calibration reference
_EMOBANK_PARTITION = {split: partition for partition, split in EMOBANK_SPLITS.items()}


@dataclass(frozen=True)
class Item:
    """One expression by one person.

    Attributes
    ----------
    corpus : str
        ``emodb``, ``ravdess``, ``kdef``, ``lfw``, ``emobank`` or ``nrc``.
    person : str
        Speaker, actor, person, sentence id or word: what the partitions keep apart.
    partition : str
        ``train``, ``devel`` or ``test``.
    category : str
        The expression category, ``""`` for rated sentences and words.
    valence, arousal : float
        What it expresses, in [-1, 1].
    source : str
        The file (audio, photograph) or the text.
    """

    corpus: str
    person: str
    partition: str
    category: str
    valence: float
    arousal: float
    source: str


def _partition_of(split: dict, key: str) -> dict[str, str]:
    return {person: p for p in PARTITIONS for person in split[p][key]}


def audio_items(sources: dict, split: dict) -> list[Item]:
    """Every EmoDB and RAVDESS utterance of a category with known values, sorted."""
    where = _partition_of(split, "speakers")
    return [
        Item("ravdess" if speaker.startswith(RAVDESS_PREFIX) else "emodb", speaker, where[speaker],
             category, *sources["va"][category], str(path))  # fmt: skip
        for (speaker, category), paths in sorted(sources["utterances"].items())
        if category in sources["va"] and speaker in where
        for path in paths
    ]


def face_items(sources: dict, split: dict) -> list[Item]:
    """Every KDEF photograph (both sessions) and faces_lfw photograph, sorted."""
    actors, persons = _partition_of(split, "actors"), _partition_of(split, "persons")
    items = [
        Item("kdef", actor, actors[actor], category, *sources["va"][category], str(path))
        for (actor, _, category), path in sorted(sources["faces"].items())
        if actor in actors
    ]
    items += [
        Item("lfw", person, persons[person], category, *sources["va"][category], str(path))
        for person, category, path in sources["lfw"]
        if person in persons
    ]
    return items


def text_items(sources: dict, split: dict) -> list[Item]:
    """Every EmoBank sentence (its own ratings) and NRC VAD word (its own values)."""
    items = [
        Item("emobank", sentence_id, _EMOBANK_PARTITION[emobank_split], "", valence, arousal,
             " ".join(tokens))  # fmt: skip
        for emobank_split, sentences in sources["sentences"].items()
        for sentence_id, valence, arousal, tokens in sentences
    ]
    words = _partition_of(split, "words")
    items += [
        Item("nrc", word, words[word], "", *values, word)
        for word, values in sorted(sources["lexicon"].items())
        if word in words
    ]
    return items


def utterance_llds(path: str | Path, config: Config) -> np.ndarray:
    """LLD frames (n, 23) of a whole audio file with ``config.audio``'s settings."""
    from streamer.features.audio_lld import create_extractor
    from streamer.sources.media_file import read_audio

    samples, rate_hz = read_audio(path)
    extractor = create_extractor(config.audio, rate_hz)
    frames = [extractor.push(samples), extractor.flush()]
    return np.concatenate([f.values for f in frames if len(f)])


def face_model_path(config: Config, shared: str | Path | None = None) -> str | None:
    """The face model: ``face.model_path``, ``$STREAMER_FACE_MODEL``, the shared folder's,
    or None (the tracker's own resolution: the shipped copy)."""
    bundled = Path(shared) / "models" / "face_landmarker.task" if shared else None
    fallback = str(bundled) if bundled is not None and bundled.is_file() else None
    return config.face.model_path or os.environ.get("STREAMER_FACE_MODEL") or fallback


def photo_frames(
    tracker, image: np.ndarray, seed, clip_s: float = CLIP_S, n_frames: int | None = None
) -> np.ndarray:
    """Face rows (columns of :func:`face_column_names`) of a photograph shown as a clip.

    The photograph (RGB) moves with :func:`demo_media.wobble` for ``clip_s`` seconds at
    ``demo_media.FPS``; ``n_frames`` of those frames, evenly spread (all by default), are
    tracked after ``tracker.reset()``. Frames without a face are left out.
    """
    from streamer.features.face_features import observation_row
    from streamer.types import VideoFrame

    t_s = np.arange(int(round(clip_s * demo_media.FPS))) / demo_media.FPS
    motion = demo_media.wobble(t_s, np.random.default_rng(seed))
    keep = np.arange(len(t_s))
    if n_frames is not None and n_frames < len(t_s):
        keep = np.round(np.linspace(0, len(t_s) - 1, n_frames)).astype(int)
    tracker.reset()
    rows = []
    for i in keep:
        frame = VideoFrame(float(t_s[i]), demo_media.moved_frame(image, motion[i]), int(i))
        rows.append(observation_row(tracker.process(frame)))
    rows = np.array(rows)
    return rows[rows[:, 0] > 0.5]


def read_photo(path: str | Path) -> np.ndarray:
    """A photograph as RGB uint8 (grey ones made RGB)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise StreamerError(f"cannot read the photograph {path}: is it a JPEG or PNG image?")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _face_rows(job: tuple) -> list[np.ndarray]:
    """Face rows of each photograph of ``paths`` (run in a worker process)."""
    from streamer.features.face.tracker import FaceTracker

    config, model_path, paths = job
    with FaceTracker(config.face, model_path) as tracker:
        return [photo_frames(tracker, read_photo(p), _seed(p), n_frames=FACE_FRAMES) for p in paths]


def _audio_rows(job: tuple) -> list[np.ndarray]:
    config, paths = job
    return [utterance_llds(path, config) for path in paths]


def _seed(path: str) -> list[int]:
    """The wobble's seed of a photograph: from its file name, so a cache is reproducible."""
    return [int.from_bytes(hashlib.sha256(Path(path).name.encode()).digest()[:4], "little")]


def _settings_key(modality: str, config: Config) -> str:
    section = vars(config.audio) if modality == "audio" else vars(config.face)
    settings = {k: v for k, v in section.items() if k != "model_path"}
    extra = {"clip_s": CLIP_S, "face_frames": FACE_FRAMES} if modality == "video" else {}
    text = json.dumps({"settings": settings, **extra}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def item_frames(
    items: list[Item],
    modality: str,
    config: Config,
    cache: str | Path,
    processes: int = 2,
    face_model: str | None = None,
    log=None,
) -> list[np.ndarray]:
    """Frames of each audio or face item (``modality``: ``audio`` or ``video``), cached.

    Returns
    -------
    list of np.ndarray
        Per item, LLD frames (n, 23) or face rows (n, 1 + 3 + 20 + 98 [+ 52]); a photograph
        whose face is never found gives (0, d).
    """
    folder = Path(cache) / f"{modality}-{_settings_key(modality, config)}"
    sources = [item.source for item in items]
    done: dict[str, np.ndarray] = {}
    index_file = folder / "sources.json"
    if index_file.is_file():
        known = json.loads(index_file.read_text(encoding="utf-8"))
        with np.load(folder / "frames.npz") as stored:
            values, offsets = stored["values"], stored["offsets"]
        done = {s: values[offsets[k] : offsets[k + 1]] for k, s in enumerate(known)}
    todo = sorted({s for s in sources if s not in done})
    if todo:
        if log:
            log(f"{modality} frames of {len(todo)} items ({processes} processes)")
        chunks = [todo[k::processes * 8] for k in range(min(len(todo), processes * 8))]
        if modality == "audio":
            jobs, work = [(config, c) for c in chunks], _audio_rows
        else:
            jobs, work = [(config, face_model, c) for c in chunks], _face_rows
        with ProcessPoolExecutor(processes) as pool:
            for chunk, rows in zip(chunks, pool.map(work, jobs), strict=True):
                done.update(zip(chunk, rows, strict=True))
        known = sorted(done)
        arrays = [done[s] for s in known]
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "frames.npz", values=np.concatenate(arrays), offsets=offsets)
        index_file.write_text(json.dumps(known), encoding="utf-8")
    return [done[s] for s in sources]


def group_frames(rows: np.ndarray, config: Config) -> dict[str, np.ndarray]:
    """The pose, eyes and landmarks columns of face rows (n, d), as the codebooks take them."""
    from streamer.features.face_features import face_column_names

    columns = face_column_names(config.face.blendshapes)
    return {g: rows[:, [columns.index(c) for c in GROUP_COLUMNS[g]]] for g in VIDEO_GROUPS}



def calibration_weight(modality: str) -> float:
    """Frames each computed frame stands for: a photograph's ``FACE_FRAMES`` stand for its
    whole clip, an utterance's LLDs for themselves."""
    return CLIP_S * demo_media.FPS / FACE_FRAMES if modality == "video" else 1.0


def calibrate_items(items: list[Item], frames: list[dict], priors: dict, prior_frames: dict,
                    weight: float) -> list[dict]:  # fmt: skip
    """Each person's frames read against that person's neutral ones in ``items``
    (:func:`streamer.bow.calibration.calibrate_person`), group by group; the frames of a
    person with no neutral item are left as they are.

    ``frames``: per item, group -> (n, d); ``prior_frames``: group -> the prior's weight.
    """
    from streamer.bow.calibration import calibrate_person

    people: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        people.setdefault(f"{item.corpus}/{item.person}", []).append(k)
    out = [dict(f) for f in frames]
    for indices in people.values():
        neutral = [k for k in indices if items[k].category == NEUTRAL]
        for group, prior in priors.items():
            reference = [frames[k][group] for k in neutral if len(frames[k][group])]
            if not reference:
                continue
            reference = np.concatenate(reference)
            for k in indices:
                if len(frames[k][group]):
                    out[k][group] = calibrate_person(frames[k][group], prior, prior_frames[group],
                                                     weight, reference)  # fmt: skip
    return out
