"""A pseudo-paired demo corpus in the AVEC layout, built from real emotional recordings.

Each recording is one speaker's voice (EmoDB, German, or RAVDESS, English), one KDEF
actor's face (same sex as the speaker) and EmoBank sentences as its words, cut into
segments of one emotion category:

- Categories: the six all the sources share (anger, disgust, fear, happiness, neutral,
  sadness). Boredom, calm and surprise are left out: not every modality has them.
- A segment is 2-4 utterances of its category by the recording's speaker, 2 s each from
  just before the voice onset (:func:`voiced_window`); a category the speaker has fewer than two utterances of is not used for that
  speaker. Categories are drawn with probability proportional to the square root of the
  speaker's utterances of it, never twice in a row; the least-used utterances come first,
  so each is used about once or twice in the default corpus.
- The face is the actor's KDEF photograph of the category (one of the actor's two
  sessions per recording), shown for the whole segment with a slow head wobble
  (:mod:`streamer.training.demo_media`).
- The words are EmoBank sentences near the category in (valence, arousal): EmoBank's 1-5
  ratings map to [-1, 1] by ``(x - 3) / 2``, category_va.csv's 0-1 values by ``2x - 1``.
  Each category takes in turn its nearest sentence not yet taken (3-20 words each), up to
  a pool of ``2 * recordings + 4`` per category and partition; a segment gets sentences
  until it has ``WORDS_PER_S`` words per second, spread over the segment with a 0.2-s
  margin, each word's slot proportional to its length plus 2 characters.
- Labels every 0.1 s (``name;timestamp;arousal;valence``, no liking): the category's
  values mapped by ``2x - 1``, through a causal first-order lag with time constant
  ``LAG_S`` (``y[k] = y[k-1] + (1 - exp(-0.1 / LAG_S)) * (target[k] - y[k-1])``, starting
  at the first target) like a rater's trace following a change.
- Speakers, actors and sentences of each partition as :mod:`streamer.training.sources`
  splits them (EmoDB 6/2/2 speakers, RAVDESS 12/4/4, KDEF 50/10/10 actors, EmoBank's own
  split). faces_lfw is not used here: its persons have no photograph of every category,
  and a recording is one person throughout.

Outputs in OUT: ``media/<name>.mp4``, ``words/<name>.csv``, ``labels/<name>.csv`` and
``manifest.json``; names ``Train_01``, ``Devel_01``, ``Test_01``...
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.training.sources import (
    EMOBANK_SPLITS,
    PARTITIONS,
    load_sources,
    speaker_sex,
    split_people,
)

CATEGORIES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
DEFAULT_RECORDINGS = (20, 6, 6)
DEFAULT_SEGMENTS = 7
LAG_S = 1.0  # time constant of the labels' first-order lag (s)
WORDS_PER_S = 2.5  # words per second of segment
HOP_S = 0.1
UTTERANCE_S = 2.0
SENTENCE_WORDS = (3, 20)  # shortest and longest sentence a segment takes (tokens)
_WORDS_MARGIN_S = 0.2
_ONSET_MARGIN_S = 0.1  # speech kept before an utterance's voice onset (s)


def sentence_pools(sentences: list, va: dict, pool_size: int) -> dict[str, list]:
    """Per category, its nearest sentences in (valence, arousal), each sentence in one pool."""
    points = np.array([(v, a) for _, v, a, _ in sentences])
    order = {
        c: iter(np.argsort(np.hypot(*(points - np.array(va[c])).T), kind="stable"))
        for c in CATEGORIES
    }
    taken: set[int] = set()
    pools: dict[str, list] = {c: [] for c in CATEGORIES}
    for _ in range(min(pool_size, len(sentences) // len(CATEGORIES))):
        for c in CATEGORIES:
            index = next(i for i in order[c] if i not in taken)
            taken.add(index)
            pools[c].append(sentences[index])
    return pools


def lagged_labels(targets: np.ndarray, lag_s: float = LAG_S) -> np.ndarray:
    """Causal first-order lag (time constant ``lag_s``, s) of (n, k) targets every 0.1 s."""
    from scipy.signal import lfilter

    alpha = 1.0 - np.exp(-HOP_S / lag_s)
    targets = np.asarray(targets, dtype=np.float64)
    return lfilter([alpha], [1.0, alpha - 1.0], targets, axis=0, zi=(1 - alpha) * targets[:1])[0]


def _least_used(items: list, uses: dict, n: int, rng: np.random.Generator) -> list:
    """``n`` distinct items, least used first (random among equals); counts their use."""
    ranks = rng.permutation(len(items))
    chosen = sorted(range(len(items)), key=lambda i: (uses.get(_key(items[i]), 0), ranks[i]))
    picked = [items[i] for i in chosen[:n]]
    for item in picked:
        uses[_key(item)] = uses.get(_key(item), 0) + 1
    return picked


def _key(item) -> str:
    return item.name if isinstance(item, Path) else item[0]


def _spread_words(tokens: list[str], start_s: float, end_s: float) -> list[tuple]:
    """(word, start, end) with slots proportional to word length + 2, inside the segment."""
    weights = np.array([len(t) + 2.0 for t in tokens])
    edges = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    span = end_s - start_s - 2 * _WORDS_MARGIN_S
    starts = start_s + _WORDS_MARGIN_S + span * edges[:-1]
    ends = starts + 0.9 * span * np.diff(edges)
    return [(t, float(s), float(e)) for t, s, e in zip(tokens, starts, ends, strict=True)]


def plan_corpus(sources: dict, counts, n_segments: int, seed: int) -> dict:
    """Decide every recording's speaker, actor, segments, utterances, faces and sentences."""
    rng = np.random.default_rng(seed)
    split = split_people(sources, seed)
    uses: dict[str, int] = {}
    recordings = {}
    for partition, count in zip(PARTITIONS, counts, strict=True):
        shortest, longest = SENTENCE_WORDS
        sentences = [
            s for s in sources["sentences"][EMOBANK_SPLITS[partition]]
            if shortest <= len(s[3]) <= longest
        ]  # fmt: skip
        pools = sentence_pools(sentences, sources["va"], 2 * count + 4)
        actors = {sex: [a for a in split[partition]["actors"] if a[0] == sex] for sex in "fm"}
        n_actors = {"f": 0, "m": 0}
        for i in range(count):
            speaker = split[partition]["speakers"][i % len(split[partition]["speakers"])]
            sex = speaker_sex(speaker)
            actor = actors[sex][n_actors[sex] % len(actors[sex])]
            n_actors[sex] += 1
            session = "ab"[int(rng.integers(2))]
            available = {
                c: sources["utterances"].get((speaker, c), [])
                for c in CATEGORIES
                if len(sources["utterances"].get((speaker, c), [])) >= 2
            }
            segments, start_s, previous = [], 0.0, None
            for _ in range(n_segments):
                options = [c for c in available if c != previous]
                weights = np.sqrt([len(available[c]) for c in options])
                category = options[rng.choice(len(options), p=weights / weights.sum())]
                n_utterances = min(int(rng.integers(3, 5)), len(available[category]))
                files = _least_used(available[category], uses, n_utterances, rng)
                end_s = start_s + UTTERANCE_S * len(files)
                chosen, n_words = [], 0
                while n_words < WORDS_PER_S * (end_s - start_s) or not chosen:
                    sentence = _least_used(pools[category], uses, 1, rng)[0]
                    chosen.append(sentence)
                    n_words += len(sentence[3])
                words = _spread_words([t for s in chosen for t in s[3]], start_s, end_s)
                segments.append({
                    "category": category, "start_s": start_s, "end_s": end_s,
                    "utterances": [f"{f.parent.name}/{f.name}" for f in files],
                    "face": sources["faces"][(actor, session, category)].name,
                    "sentences": [s[0] for s in chosen], "words": words,
                })  # fmt: skip
                start_s, previous = end_s, category
            name = f"{partition.capitalize()}_{i + 1:02d}"
            recordings[name] = {
                "partition": partition, "speaker": speaker, "actor": actor,
                "session": session, "duration_s": start_s, "segments": segments,
                "motion_seed": int(rng.integers(2**31)),
            }  # fmt: skip
    return {"split": split, "recordings": recordings}


def voiced_window(samples: np.ndarray, rate_hz: int, duration_s: float) -> np.ndarray:
    """``duration_s`` of ``samples`` from just before the voice onset, padded with silence.

    The onset is the first 25-ms RMS above 5 % of the loudest (RAVDESS files begin with
    about a second of silence, EmoDB's are cut at the voice); ``_ONSET_MARGIN_S`` before it
    is kept.
    """
    n = int(round(duration_s * rate_hz))
    width = max(1, int(0.025 * rate_hz))
    rms = np.sqrt(np.convolve(np.square(samples, dtype=np.float64), np.ones(width) / width, "same"))
    loud = np.flatnonzero(rms > 0.05 * rms.max()) if len(rms) and rms.max() > 0 else [0]
    start = max(0, min(int(loud[0]) - int(_ONSET_MARGIN_S * rate_hz), len(samples) - n))
    window = samples[start : start + n]
    return np.pad(window, (0, n - len(window)))


def _render(job: tuple) -> str:
    """Write one recording's MP4 (run in a worker process)."""
    import cv2

    from streamer.sources.media_file import read_audio
    from streamer.training.demo_media import join_speech, write_media

    path, recording, data = job
    images, ends, utterances, rate = [], [], [], None
    for segment in recording["segments"]:
        image = cv2.imread(str(data / "kdef" / segment["face"]))
        if image is None:
            raise StreamerError(f"cannot read the KDEF photograph {data / 'kdef' / segment['face']}")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        ends.append(segment["end_s"])
        for name in segment["utterances"]:
            samples, rate = read_audio(data / name)
            utterances.append(voiced_window(samples, rate, UTTERANCE_S))
    write_media(path, images, ends, join_speech(utterances, rate), rate, recording["motion_seed"])
    return str(path)


def make_demo_corpus(
    shared: str | Path,
    out: str | Path,
    seed: int = 0,
    recordings: tuple[int, int, int] = DEFAULT_RECORDINGS,
    n_segments: int = DEFAULT_SEGMENTS,
    processes: int = 2,
) -> dict:
    """Build the demo corpus (see the module docstring) in ``out``; return its manifest.

    Parameters
    ----------
    shared : str or Path
        The shared folder (holding ``data/emodb``, ``data/kdef``, ``data/emobank``,
        ``data/category_va.csv``).
    out : str or Path
        Output folder (created if needed); existing files of the same names are replaced.
    seed : int
        Seed of every choice (same seed, same corpus).
    recordings : tuple of 3 int
        Recordings in Train, Devel and Test.
    n_segments : int
        Segments per recording (4-8 s each).
    processes : int
        Worker processes writing the MP4 files.

    Returns
    -------
    dict
        The manifest also written to ``out/manifest.json``.
    """
    from streamer.feature_csv import WordCsvWriter
    from streamer.types import Word

    if len(recordings) != 3 or min(recordings) < 0 or n_segments < 1:
        raise StreamerError("need three non-negative recording counts and at least one segment")
    sources = load_sources(shared)
    plan = plan_corpus(sources, recordings, n_segments, seed)
    out = Path(out)
    for folder in ("media", "words", "labels"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    va = sources["va"]
    for name, recording in plan["recordings"].items():
        with WordCsvWriter(out / "words" / f"{name}.csv") as writer:
            for segment in recording["segments"]:
                writer.write([Word(t, s, e, 1.0) for t, s, e in segment["words"]])
                segment["words"] = len(segment.pop("words"))
        times_s = np.arange(int(round(recording["duration_s"] / HOP_S))) * HOP_S
        targets = np.zeros((len(times_s), 2))
        for segment in recording["segments"]:
            inside = (times_s >= segment["start_s"] - 1e-9) & (times_s < segment["end_s"] - 1e-9)
            valence, arousal = va[segment["category"]]
            targets[inside] = (arousal, valence)
        labels = lagged_labels(targets)
        lines = ["name;timestamp;arousal;valence"] + [
            f"{name};{t:.1f};{a:.5f};{v:.5f}" for t, (a, v) in zip(times_s, labels, strict=True)
        ]
        (out / "labels" / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        recording["media"] = f"media/{name}.mp4"
    data = Path(shared) / "data"
    jobs = [(out / "media" / f"{name}.mp4", rec, data) for name, rec in plan["recordings"].items()]
    if processes > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(processes, len(jobs))) as pool:
            list(pool.map(_render, jobs))
    else:
        for job in jobs:
            _render(job)
    manifest = {
        "seed": seed, "categories": list(CATEGORIES), "lag_s": LAG_S,
        "category_va": {c: {"valence": va[c][0], "arousal": va[c][1]} for c in CATEGORIES},
        "split": plan["split"],
        "sentence_split": EMOBANK_SPLITS,
        "recordings": plan["recordings"],
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest
