"""Held-out checks of a model's branches (streamer.training.heldout)."""

from __future__ import annotations

import json
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

REPO_ROOT = Path(__file__).resolve().parents[1]
BOW = load_config().bow  # normalised, log weighting


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


VA = {"anger": (-0.666, 0.73), "neutral": (-0.062, -0.632), "happiness": (0.92, 0.464)}


def test_single_bag_holds_every_frame_normalised_and_log_weighted():
    bag = heldout.single_bag(np.array([[0], [0], [2], [0]]), 3, BOW)
    np.testing.assert_allclose(bag, np.log10(1 + np.array([3, 0, 1]) / 4))


def test_single_bag_counts_every_assignment_and_is_zero_without_frames():
    bag = heldout.single_bag(np.array([[0, 1], [1, 2]]), 3, BOW)
    np.testing.assert_allclose(bag, np.log10(1 + np.array([1, 2, 1]) / 2))
    np.testing.assert_array_equal(heldout.single_bag(np.zeros((0, 1), int), 3, BOW), 0.0)


def test_score_audio_is_the_ccc_of_one_bag_per_utterance_other_modalities_zero(model):
    rng = np.random.default_rng(0)
    items = [
        (category, level + 0.1 * rng.standard_normal((50, 23)))
        for category, level in [("anger", 1.0), ("neutral", 0.0), ("happiness", 0.8)] * 3
    ]
    score = heldout.score_audio(model, load_config(), items, VA, "generated")
    bags = model.seen[-1]
    assert bags["audio"].shape == (9, 2)
    assert not bags["video"].any() and not bags["text"].any()
    expected = bags["audio"][:, 1] - bags["audio"][:, 0]
    truth = [VA[c][1] for c, _ in items]
    assert score.value == pytest.approx(ccc(truth, expected))
    assert (score.modality, score.dimension, score.metric, score.n) == (
        "audio",
        "arousal",
        "CCC",
        9,
    )
    assert score.value > 0.5


def test_score_face_uses_the_video_groups_of_the_model(model):
    items = [
        ("happiness", {"pose": np.tile([9.0, 0, 0], (30, 1))}),
        ("anger", {"pose": np.tile([-9.0, 0, 0], (20, 1))}),
        ("neutral", {"pose": np.zeros((0, 3))}),  # no face found in the clip
    ]
    score = heldout.score_face(model, load_config(), items, VA, "generated")
    video = model.seen[-1]["video"]
    np.testing.assert_allclose(video[:, 0], [np.log10(2), 0.0, 0.0])
    assert score.value == pytest.approx(ccc([VA[c][0] for c, _ in items], video[:, 0]))
    assert (score.modality, score.dimension, score.n) == ("video", "valence", 3)


def test_score_text_is_the_pearson_r_over_sentences_and_skips_unknown_tokens(model):
    items = [(4.5, ["good", "good", "day"]), (1.5, ["bad", "news"]), (3.0, ["nothing", "known"])]
    score = heldout.score_text(model, load_config(), items, "generated")
    text = model.seen[-1]["text"]
    np.testing.assert_allclose(text[0], [np.log10(2), 0.0])  # "day" is not in the vocabulary
    np.testing.assert_array_equal(text[2], 0.0)
    assert score.metric == "Pearson r"
    assert score.value == pytest.approx(pcc([4.5, 1.5, 3.0], text[:, 0] - text[:, 1]))


def test_emobank_sentences_reads_one_split(tmp_path):
    folder = tmp_path / "data" / "emobank"
    folder.mkdir(parents=True)
    (folder / "emobank.csv").write_text(
        'id,split,V,A,D,text\na,train,3.0,3.0,3.0,"Not this one."\n'
        "b,test,4.2,3.1,2.8,It's a Good day!\nc,test,1.8,3.0,3.0,bad\n",
        encoding="utf-8",
    )
    assert heldout.emobank_sentences(tmp_path) == [
        (4.2, ["it's", "a", "good", "day"]),
        (1.8, ["bad"]),
    ]


def test_markdown_table_has_one_line_per_score():
    scores = [
        heldout.HeldOutScore("audio", "arousal", "EmoDB", "CCC", 0.65, 87, 0.6),
        heldout.HeldOutScore("text", "valence", "EmoBank", "Pearson r", 0.3, 1000, 0.4),
    ]
    lines = heldout.markdown_table(scores).splitlines()
    assert len(lines) == 4
    assert lines[2] == "| audio -> arousal | EmoDB | 87 | CCC | 0.650 | 0.60 | yes |"
    assert lines[3].endswith("| 0.300 | 0.40 | no |")


@pytest.fixture(scope="module")
def shipped_scores(tmp_path_factory, shared_dir):
    """The checks of the shipped model (models/ + codebooks/) on the default corpus's people.

    Runs ``python -m streamer.training.heldout`` once for the tests below: about 75 s on 2
    cores (faces tracked in 120 clips of 3 s); killed, and the tests failed, after 3 min.
    """
    from streamer.training.sources import load_sources, split_people

    tmp_path = tmp_path_factory.mktemp("heldout")
    # the people of the default demo corpus (seed 0, as models/reproduce.sh builds it)
    split = split_people(load_sources(shared_dir), 0)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"split": split}), encoding="utf-8")
    out = tmp_path / "heldout.md"
    command = [
        sys.executable, "-m", "streamer.training.heldout", "--models", str(REPO_ROOT / "models"),
        "--codebooks", str(REPO_ROOT / "codebooks"), "--shared", str(shared_dir),
        "--manifest", str(manifest), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=180, capture_output=True)
    table = out.read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in table.splitlines() if "->" in line]
    # rows: audio (Test speakers), audio (Devel speakers), video (Test actors), text (test split)
    return [float(row[4]) for row in rows], table


def test_shipped_audio_branch_tracks_arousal_of_held_out_speakers(shipped_scores):
    """The aim (CCC 0.6) is not reached: the best setting tried gives 0.51 on EmoDB speakers
    10 and 16 (r 0.70, but the estimates are compressed: sd 0.22 against 0.50; the Devel
    speakers reach 0.61), as the model card says. This guards what was reached."""
    values, table = shipped_scores
    assert values[0] >= 0.45, table  # arousal CCC, EmoDB Test speakers
    assert values[1] >= 0.45, table  # arousal CCC, EmoDB Devel speakers


def test_shipped_video_branch_reaches_the_aim_on_held_out_actors(shipped_scores):
    values, table = shipped_scores
    assert values[2] >= heldout.AIMS["video"], table  # valence CCC, KDEF Test actors


def test_shipped_text_branch_follows_emobank_valence(shipped_scores):
    """The aim (r 0.4) is out of reach of the demo corpus: its ~560 training sentences teach
    no general lexicon (a ridge regression on the same sentences reaches r 0.15 as well),
    as the model card says. This guards that the text branch still ranks valence."""
    values, table = shipped_scores
    assert values[3] >= 0.1, table  # valence Pearson r, EmoBank test split
