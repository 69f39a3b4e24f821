"""The real corpora of the shared folder, what each item expresses, and who is in which part.

Every training step reads its people through :func:`load_sources` and :func:`split_people`,
so that a speaker, actor, person, sentence or lexicon word of the Test part is never
trained or tuned on, whichever step uses it:

- EmoDB (German, 10 speakers): 6 / 2 / 2, Devel and Test one man and one woman each.
- RAVDESS (English, 20 actors, odd = male): 12 / 4 / 4, half of each sex.
- KDEF (70 actors, two sessions): 50 / 10 / 10, half of each sex.
- faces_lfw (3320 photographs; the person is the file name without ``_NNNN``): persons
  80 / 10 / 10 %.
- EmoBank: its own train / dev / test split.
- NRC VAD lexicon words: 80 / 10 / 10 %.

Expression categories map to (valence, arousal) in [-1, 1] through the NRC VAD values:
``data/category_va.csv`` by ``2x - 1``, and ``calm`` (RAVDESS) from the lexicon itself.
EmoBank's 1-5 ratings map by ``(x - 3) / 2``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.features.speech.words import tokenize

PARTITIONS = ("train", "devel", "test")
EMOBANK_SPLITS = {"train": "train", "devel": "dev", "test": "test"}
EMODB_LETTERS = {"W": "anger", "E": "disgust", "A": "fear", "F": "happiness", "N": "neutral",
                 "T": "sadness", "L": "boredom"}  # fmt: skip
KDEF_CODES = {"an": "anger", "di": "disgust", "af": "fear", "ha": "happiness", "ne": "neutral",
              "sa": "sadness", "su": "surprise"}  # fmt: skip
RAVDESS_CODES = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
                 "05": "anger", "06": "fear", "07": "disgust", "08": "surprise"}  # fmt: skip
EMODB_SEX = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f",
             "14": "f", "15": "m", "16": "f"}  # fmt: skip
RAVDESS_PREFIX = "r"  # RAVDESS speakers are "r01".."r20", EmoDB's "03".."16"
_LFW_NUMBER = re.compile(r"_\d+$")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise StreamerError(f"{what} not found: {path} (is --shared the shared data folder?)")
    return path


def speaker_sex(speaker: str) -> str:
    """``"f"`` or ``"m"`` for an EmoDB speaker (``"03"``) or a RAVDESS one (``"r07"``)."""
    if speaker.startswith(RAVDESS_PREFIX):
        return "m" if int(speaker[1:]) % 2 else "f"
    return EMODB_SEX[speaker]


def lfw_person(path: Path) -> str:
    """The person a faces_lfw photograph shows: its name without the ``_NNNN`` number."""
    return _LFW_NUMBER.sub("", Path(path).stem)


def _utterances(data: Path) -> dict[tuple[str, str], list[Path]]:
    utterances: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(_require(data / "emodb", "EmoDB folder").glob("*.wav")):
        category = EMODB_LETTERS.get(path.stem[5:6])
        if category and path.stem[:2] in EMODB_SEX:
            utterances.setdefault((path.stem[:2], category), []).append(path)
    if not utterances:
        raise StreamerError(f"no EmoDB utterances (SSTTTEV.wav) in {data / 'emodb'}")
    ravdess = data / "ravdess"
    for path in sorted(ravdess.glob("03-01-*.flac")) if ravdess.is_dir() else []:
        fields = path.stem.split("-")
        if len(fields) == 7 and fields[2] in RAVDESS_CODES:
            speaker = RAVDESS_PREFIX + fields[6]
            utterances.setdefault((speaker, RAVDESS_CODES[fields[2]]), []).append(path)
    return utterances


def _faces(data: Path) -> dict[tuple[str, str, str], Path]:
    faces = {}
    kdef = _require(data / "kdef", "KDEF folder")
    for path in sorted(kdef.glob("*.jpg")):
        category = KDEF_CODES.get(path.stem[4:6])
        if category:
            faces[(path.stem[1:4], path.stem[0], category)] = path
    if not faces:
        raise StreamerError(f"no KDEF photographs (GSNNEEs.jpg) in {kdef}")
    codes = {category: code for code, category in KDEF_CODES.items()}
    for actor in sorted({a for a, _, _ in faces}):
        for session in "ab":
            for category in KDEF_CODES.values():
                if (actor, session, category) not in faces:
                    name = f"{session}{actor}{codes[category]}s.jpg"
                    raise StreamerError(f"KDEF photograph not found: {kdef / name}")
    return faces


def _lfw(data: Path) -> list[tuple[str, str, Path]]:
    labels = data / "faces_lfw" / "labels.csv"
    if not labels.is_file():
        return []
    with labels.open(encoding="utf-8", newline="") as file:
        rows = [(row["image"], row["emotion"]) for row in csv.DictReader(file)]
    return sorted(
        (lfw_person(Path(image)), category, labels.parent / image)
        for image, category in rows
        if (labels.parent / image).is_file()
    )


def _sentences(data: Path) -> dict[str, list]:
    sentences: dict[str, list] = {split: [] for split in EMOBANK_SPLITS.values()}
    emobank = _require(data / "emobank" / "emobank.csv", "EmoBank file")
    with emobank.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            tokens = tokenize(row["text"])
            if row["split"] in sentences and tokens:
                values = ((float(row["V"]) - 3) / 2, (float(row["A"]) - 3) / 2)
                sentences[row["split"]].append((row["id"], *values, tokens))
    return sentences


def _lexicon(data: Path) -> dict[str, tuple[float, float]]:
    path = data / "lexicons" / "NRC-VAD-Lexicon-v1.txt"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as file:
        return {
            row["word"]: (2 * float(row["valence"]) - 1, 2 * float(row["arousal"]) - 1)
            for row in csv.DictReader(file)
        }


def load_sources(shared: str | Path) -> dict:
    """Index the shared corpora.

    Returns
    -------
    dict
        ``utterances``: (speaker, category) -> sorted EmoDB and RAVDESS paths; ``faces``:
        (sex+actor, session, category) -> KDEF path; ``lfw``: sorted (person, category,
        path) of faces_lfw; ``sentences``: EmoBank split -> list of (id, valence, arousal,
        tokens); ``lexicon``: NRC VAD word -> (valence, arousal); ``va``: category ->
        (valence, arousal). Values in [-1, 1]. RAVDESS, faces_lfw and the lexicon are
        empty when absent.

    Raises
    ------
    StreamerError
        When EmoDB, KDEF, EmoBank or the category table is missing (the message names it).
    """
    data = _require(Path(shared), "shared data folder") / "data"
    sources = {
        "utterances": _utterances(data), "faces": _faces(data), "lfw": _lfw(data),
        "sentences": _sentences(data), "lexicon": _lexicon(data),
    }  # fmt: skip
    va = {}
    with _require(data / "category_va.csv", "category table").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            va[row["category"]] = (2 * float(row["valence"]) - 1, 2 * float(row["arousal"]) - 1)
    if "calm" in sources["lexicon"]:
        va.setdefault("calm", sources["lexicon"]["calm"])
    sources["va"] = va
    used = {c for _, c in sources["utterances"]} | {c for _, _, c in sources["faces"]}
    missing = sorted(used - set(va))
    if missing:
        raise StreamerError(f"{data / 'category_va.csv'} lacks the categories {missing}")
    sources["lfw"] = [item for item in sources["lfw"] if item[1] in va]
    return sources


def _shuffled(items: list, rng: np.random.Generator) -> list:
    return [items[i] for i in rng.permutation(len(items))]


def split_people(sources: dict, seed: int) -> dict[str, dict[str, list[str]]]:
    """Who is in each partition (see the module docstring); the same ``seed``, the same split.

    Returns
    -------
    dict
        partition -> ``speakers`` (EmoDB and RAVDESS), ``actors`` (KDEF), ``persons``
        (faces_lfw), ``words`` (lexicon), each a list of ids.
    """
    rng = np.random.default_rng(seed)
    split = {p: {"speakers": [], "actors": [], "persons": [], "words": []} for p in PARTITIONS}
    emodb = sorted({s for s, _ in sources["utterances"] if not s.startswith(RAVDESS_PREFIX)})
    ravdess = sorted({s for s, _ in sources["utterances"] if s.startswith(RAVDESS_PREFIX)})
    actors = sorted({a for a, _, _ in sources["faces"]})
    # EmoDB and KDEF first, from the seed's generator: their parts stay as they always were
    groups = [("speakers", emodb, speaker_sex, 1), ("actors", actors, lambda a: a[0], len(actors) // 14)]
    for key, people, sex_of, held_out in groups:
        for sex in "fm":
            group = _shuffled([p for p in people if sex_of(p) == sex], rng)
            split["devel"][key] += group[:held_out]
            split["test"][key] += group[held_out : 2 * held_out]
            split["train"][key] += group[2 * held_out :]
    more = np.random.default_rng([seed, 1])
    for sex in "fm":
        group = _shuffled([p for p in ravdess if speaker_sex(p) == sex], more)
        held_out = len(group) // 5
        split["devel"]["speakers"] += group[:held_out]
        split["test"]["speakers"] += group[held_out : 2 * held_out]
        split["train"]["speakers"] += group[2 * held_out :]
    for key, ids in (("persons", sorted({p for p, _, _ in sources["lfw"]})),
                     ("words", sorted(sources["lexicon"]))):  # fmt: skip
        ids = _shuffled(ids, more)
        held_out = len(ids) // 10
        split["devel"][key] = sorted(ids[:held_out])
        split["test"][key] = sorted(ids[held_out : 2 * held_out])
        split["train"][key] = sorted(ids[2 * held_out :])
    return split
