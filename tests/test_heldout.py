"""Held-out checks of a model's branches (streamer.training.heldout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamer.bow.codebook import Codebook
from streamer.config import load_config
from streamer.features.speech.words import Vocabulary
from streamer.fusion.metrics import ccc, pcc
from streamer.training import heldout
from streamer.training.unimodal import Item

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config()


class FakeModel:
    """An AffectModel stand-in: arousal from audio word 1, valence from video and text words 0."""

    def __init__(self, audio: Codebook, pose: Codebook, vocabulary: Vocabulary):
        self.codebooks = {"audio": audio, "pose": pose, "text": vocabulary}
        self.groups = {"audio": ["audio"], "video": ["pose"], "text": ["text"]}
        self.modalities = ("audio", "video", "text")
        self.seen = []

    def bag_size(self, modality: str) -> int:
        book = self.codebooks[self.groups[modality][0]]
        return len(book) if isinstance(book, Vocabulary) else book.n_words

    def predict(self, bags: dict) -> dict:
        self.seen.append(bags)
        return {
            "arousal": bags["audio"][:, 1] - bags["audio"][:, 0],
            "valence": bags["video"][:, 0] + bags["text"][:, 0] - bags["text"][:, 1],
        }


@pytest.fixture
def model():
    audio = Codebook(words=np.array([[0.0] * 23, [1.0] * 23]), group="audio")
    pose = Codebook(words=np.array([[10.0, 0, 0], [-10.0, 0, 0]]), group="pose")
    return FakeModel(audio, pose, Vocabulary(("good", "bad"), (3, 2), 1))


def _item(corpus, category="", valence=0.0, arousal=0.0, source="x"):
    return Item(corpus, "p", "test", category, valence, arousal, source)


def test_auc_counts_pairs_and_ties():
    assert heldout.auc([2, 3], [1, 0]) == 1.0
    assert heldout.auc([0], [1]) == 0.0
    assert heldout.auc([1, 1], [1, 0]) == 0.75


def test_audio_is_the_ccc_of_one_bag_per_utterance_other_modalities_zero(model):
    rng = np.random.default_rng(0)
    levels = [("anger", 1.0, 0.73), ("neutral", 0.0, -0.63), ("happiness", 0.8, 0.46)] * 3
    items = [_item("ravdess", c, arousal=a) for c, _, a in levels]
    frames = [{"audio": level + 0.1 * rng.standard_normal((50, 23))} for _, level, _ in levels]
    bags = heldout.item_bags(model, "audio", items, frames, CONFIG)
    (score,) = heldout.score_items(model, "audio", "arousal", items, bags, "generated")
    seen = model.seen[-1]
    assert seen["audio"].shape == (9, 2) and not seen["video"].any() and not seen["text"].any()
    expected = seen["audio"][:, 1] - seen["audio"][:, 0]
    assert score.value == pytest.approx(ccc([a for _, _, a in levels], expected))
    assert (score.metric, score.n, score.aim) == ("CCC", 9, heldout.AIMS[("audio", "ravdess")])


def test_lfw_gives_the_auc_of_happy_against_neutral_and_the_neutral_mean(model):
    items = [_item("lfw", c) for c in ("happiness", "happiness", "neutral", "neutral", "sadness")]
    bags = np.array([[0.3, 0], [0.1, 0], [0.2, 0], [0.0, 0], [0.9, 0]])
    auc, mean = heldout.score_items(model, "video", "valence", items, bags, "faces")
    assert (auc.metric, auc.n, auc.value) == ("AUC", 4, 0.75)
    assert (mean.metric, mean.n, mean.value) == ("mean", 2, pytest.approx(0.1))
    assert mean.passed and not auc.passed  # neutral within +-0.2; AUC below 0.9


def test_text_is_the_pearson_r_and_skips_unknown_tokens(model):
    items = [_item("emobank", valence=v, source=t)
             for v, t in [(0.75, "good good day"), (-0.75, "bad news"), (0.0, "bad good")]]  # fmt: skip
    bags = heldout.item_bags(model, "text", items, None, CONFIG)
    np.testing.assert_allclose(bags[0], [np.log10(2), 0.0])  # "day" is not in the vocabulary
    (score,) = heldout.score_items(model, "text", "valence", items, bags, "generated")
    assert score.metric == "Pearson r"
    assert score.value == pytest.approx(pcc([0.75, -0.75, 0.0], bags[:, 0] - bags[:, 1]))


def test_markdown_table_has_one_line_per_score():
    scores = [
        heldout.HeldOutScore("audio", "arousal", "EmoDB", "CCC", 0.65, 87, (0.6, 1.0)),
        heldout.HeldOutScore("video", "valence", "LFW", "mean", -0.3, 10, (-0.2, 0.2)),
    ]
    lines = heldout.markdown_table(scores).splitlines()
    assert len(lines) == 4
    assert lines[2] == "| audio -> arousal | EmoDB | 87 | CCC | 0.650 | >= 0.60 | yes |"
    assert lines[3].endswith("| -0.300 | -0.20..+0.20 | **no** |")


@pytest.fixture(scope="module")
def shipped_scores(tmp_path_factory, shared_dir):
    """The checks of the shipped model (models/ + codebooks/) on the Test people.

    Runs ``python -m streamer.training.heldout`` once for the tests below: about 70 s on
    2 cores (LLDs of 349 utterances, faces tracked in 418 photographs); killed, and the
    tests failed, after 8 min.
    """
    tmp_path = tmp_path_factory.mktemp("heldout")
    out = tmp_path / "heldout.md"
    command = [
        sys.executable, "-m", "streamer.training.heldout", "--models", str(REPO_ROOT / "models"),
        "--codebooks", str(REPO_ROOT / "codebooks"), "--shared", str(shared_dir),
        "--cache", str(tmp_path / "cache"), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=480, capture_output=True)
    table = out.read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in table.splitlines() if "->" in line]
    values = {}
    for row in rows:  # the first faces_lfw row (the AUC) keeps the key
        values.setdefault((row[0].strip(), row[1].split("(")[0].strip()), float(row[4]))
    return values, table


# What the shipped model reached on the Test people (models/MODEL_CARD.md), less a margin
# for other machines' float rounding in the face tracker; the issue's aims are higher for
# five of these seven and the card says so. A model that regresses fails here.
SHIPPED_FLOORS = {
    ("audio -> arousal", "RAVDESS actors"): 0.55,  # measured 0.612 (aim 0.70)
    ("audio -> arousal", "EmoDB speakers"): 0.57,  # measured 0.633 (aim 0.65)
    # the first KDEF row: after 8 s of the actor's neutral face, measured 0.735 (aim 0.75)
    ("video -> valence", "KDEF actors"): 0.67,
    ("video -> valence", "faces_lfw persons"): 0.77,  # happy vs neutral AUC 0.825 (aim 0.90)
    ("text -> valence", "EmoBank sentences"): 0.42,  # measured 0.451 (aim 0.45)
    ("text -> valence", "NRC VAD words"): 0.33,  # measured 0.390 (aim 0.60)
}


def test_shipped_branches_keep_what_they_reached_on_held_out_people(shipped_scores):
    values, table = shipped_scores
    for key, floor in SHIPPED_FLOORS.items():
        assert values[key] >= floor, (key, table)


def test_shipped_face_branch_reads_neutral_faces_as_neutral(shipped_scores):
    _, table = shipped_scores
    neutral = [line for line in table.splitlines() if "neutral faces" in line]
    assert len(neutral) == 1 and abs(float(neutral[0].split("|")[5])) <= 0.2, table
