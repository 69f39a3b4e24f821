"""Branch pretraining (streamer.training.pretrain) and training from pretrained branches."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from streamer.cli import main
from streamer.config import load_config
from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary
from streamer.fusion.network import FusionNet, load_model, save_model
from streamer.training import pretrain
from streamer.training.datasets import make_synthetic_corpus
from streamer.training.unimodal import Item

CONFIG = load_config()
BOW = CONFIG.bow  # normalised, log weighting
DIMS = {"audio": 40, "video": 60, "text": 30}


def test_single_bag_holds_every_frame_normalised_and_log_weighted():
    bag = pretrain.single_bag(np.array([[0], [0], [2], [0]]), 3, BOW)
    np.testing.assert_allclose(bag, np.log10(1 + np.array([3, 0, 1]) / 4))


def test_single_bag_counts_every_assignment_and_is_zero_without_frames():
    bag = pretrain.single_bag(np.array([[0, 1], [1, 2]]), 3, BOW)
    np.testing.assert_allclose(bag, np.log10(1 + np.array([1, 2, 1]) / 2))
    np.testing.assert_array_equal(pretrain.single_bag(np.zeros((0, 1), int), 3, BOW), 0.0)


def test_token_bag_skips_unknown_tokens():
    vocabulary = Vocabulary(("good", "bad"), (3, 2), 1)
    np.testing.assert_allclose(
        pretrain.token_bag(["good", "good", "day"], vocabulary, BOW), [np.log10(2), 0.0]
    )
    np.testing.assert_array_equal(pretrain.token_bag(["day"], vocabulary, BOW), 0.0)


def test_fit_codebooks_uses_the_settings_and_only_the_frames_given():
    rng = np.random.default_rng(0)
    config = load_config(overrides=["codebooks.audio_size=16", "text.vocabulary_size=2"])
    books = pretrain.fit_codebooks(
        {"audio": rng.standard_normal((200, 23))}, ["a b b", "b c c c", "d"], config
    )
    assert books["audio"].n_words == 16 and books["audio"].group == "audio"
    assert books["text"].words == ("b", "c")  # 3 each (ties alphabetical); "a", "d" once
    manifest = pretrain.codebook_manifest(books, "audio")
    assert manifest == [{"group": "audio", "file": "audio.npz", "checksum": books["audio"].checksum}]


def test_branch_data_drops_empty_bags_and_keeps_partitions():
    items = [Item("kdef", "F01", p, "happiness", 0.9, 0.5, f"{k}.jpg")
             for k, p in enumerate(["train", "train", "devel", "test"])]  # fmt: skip
    rows = [np.array([1.0, 0]), np.zeros(2), np.array([0, 2.0]), np.array([3.0, 0])]
    data = pretrain.branch_data(items, rows)
    assert [len(data.items[p]) for p in ("train", "devel", "test")] == [1, 1, 1]
    assert data.bags["train"].shape == (1, 2) and data.bags["devel"][0, 1] == 2.0
    np.testing.assert_allclose(data.targets("train", "arousal"), [0.5])


def test_train_branch_learns_a_planted_valence():
    rng = np.random.default_rng(1)
    items, rows = [], []
    for k in range(300):
        valence = float(rng.uniform(-1, 1))
        partition = ("train", "train", "devel", "test")[k % 4]
        items.append(Item("emobank", str(k), partition, "", valence, 0.0, "x"))
        rows.append(np.clip(np.array([valence, -valence, 0.5]) + 0.1 * rng.standard_normal(3), 0, None) + 0.01)
    config = load_config(overrides=["fusion.valence_text_units=8", "fusion.valence_fusion_units=8"])
    model, scores = pretrain.train_branch(pretrain.branch_data(items, rows), "text", "valence", config)
    assert model.input_dims == {"text": 3}
    assert scores["devel_ccc"] > 0.8 and "test_ccc" not in scores


def _pretrained_folder(tmp_path, manifests, sizes=None):
    """One-modality networks as `streamer pretrain` writes them, for the synthetic corpus."""
    folder = tmp_path / "branches"
    for dimension in ("arousal",):
        units, fusion_units = CONFIG.fusion.units(dimension)
        for modality, width in DIMS.items():
            torch.manual_seed(7)
            net = FusionNet({modality: width}, {modality: (sizes or units)[modality]}, fusion_units)
            meta = {"codebooks": {modality: manifests[modality]}}
            save_model(net, folder, f"{dimension}_{modality}", meta)
    return folder


def _corpus_with_manifests(tmp_path):
    data = tmp_path / "corpus"
    make_synthetic_corpus(data, n_train=4, n_devel=4, n_rows=200, seed=3)
    manifests = {}
    for modality in DIMS:
        folder = {"audio": "audio", "video": "video", "text": "text"}[modality]
        entry = {"file": f"{modality}.npz", "group": modality, "n_words": 1, "checksum": modality[:2]}
        manifests[modality] = [entry]
        path = data / f"{folder}_features_xbow_6s" / "codebooks.json"
        path.write_text(json.dumps({"codebooks": [entry]}))
    return data, manifests


@pytest.mark.parametrize("freeze", [True, False])
def test_train_starts_from_the_pretrained_branches(tmp_path, freeze):
    data, manifests = _corpus_with_manifests(tmp_path)
    branches = _pretrained_folder(tmp_path, manifests)
    out = tmp_path / "models"
    status = main([
        "train", "--data", str(data), "--out", str(out), "--dimensions", "arousal",
        "--set", "training.max_epochs=2", "--set", "training.tuning_recordings=2",
        "--set", f"training.branches={branches}", "--set", f"training.freeze_branches={str(freeze).lower()}",
    ])  # fmt: skip
    assert status == 0
    trained, _ = load_model(out, "arousal")
    for modality in DIMS:
        pretrained, _ = load_model(branches, f"arousal_{modality}")
        before = pretrained.branches[modality].state_dict()
        after = trained.branches[modality].state_dict()
        same = all(torch.equal(before[k], after[k]) for k in before)
        assert same == freeze, modality


def test_branches_of_other_codebooks_or_sizes_are_refused(tmp_path):
    data, manifests = _corpus_with_manifests(tmp_path)
    other = {m: [dict(e, checksum="zz") for e in entries] for m, entries in manifests.items()}
    net = FusionNet(DIMS, CONFIG.fusion.units("arousal")[0], 100)
    with pytest.raises(StreamerError, match="other codebooks"):
        pretrain.load_branches(net, _pretrained_folder(tmp_path / "a", other), "arousal", manifests)
    small = {"audio": 3, "video": 3, "text": 3}
    with pytest.raises(StreamerError, match="other sizes"):
        pretrain.load_branches(net, _pretrained_folder(tmp_path / "b", manifests, small), "arousal",
                               manifests)  # fmt: skip
    with pytest.raises(StreamerError, match="is missing"):
        pretrain.load_branches(net, tmp_path / "nowhere", "arousal", manifests)


def test_multitask_with_branches_is_a_one_line_error(tmp_path, capsys):
    data, manifests = _corpus_with_manifests(tmp_path)
    status = main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--multitask",
                   "--set", "training.tuning_recordings=2", "--set", f"training.branches={tmp_path}"])  # fmt: skip
    last = capsys.readouterr().err.splitlines()[-1]  # after the line describing the corpus
    assert status == 2 and last.startswith("streamer: error:") and "per dimension" in last


def test_training_items_round_trip_and_refuse_other_codebooks(tmp_path):
    items = [Item("emodb", "03", "train", "anger", -0.5, 0.8, "a.wav"),
             Item("emodb", "03", "train", "neutral", 0.0, -0.2, "b.wav"),
             Item("emodb", "08", "devel", "anger", -0.5, 0.8, "c.wav")]  # fmt: skip
    rows = [np.array([0.0, 0.3, 0.0]), np.array([0.5, 0.0, 0.2]), np.array([1.0, 0.0, 0.0])]
    manifest = [{"group": "audio", "file": "audio.npz", "checksum": "ab"}]
    path = tmp_path / "items" / "audio.npz"
    pretrain.save_training_items(path, pretrain.branch_data(items, rows), manifest)
    bags, arousal = pretrain.load_training_items(tmp_path / "items", "audio", "arousal", manifest)
    np.testing.assert_array_equal(bags, np.array(rows[:2], np.float32))  # Devel items not kept
    np.testing.assert_allclose(arousal, [0.8, -0.2])
    other = [dict(manifest[0], checksum="zz")]
    with pytest.raises(StreamerError, match="other codebooks"):
        pretrain.load_training_items(tmp_path / "items", "audio", "arousal", other)
    with pytest.raises(StreamerError, match="streamer pretrain"):
        pretrain.load_training_items(tmp_path / "items", "video", "arousal", manifest)


def test_pretraining_items_join_the_training_rows_their_modality_alone(tmp_path):
    from streamer.training.protocol import with_pretraining_items

    manifests = {m: [{"group": m, "file": f"{m}.npz", "checksum": m[:2]}] for m in DIMS}
    rng = np.random.default_rng(0)
    for k, (modality, width) in enumerate(DIMS.items()):
        items = [Item("x", str(i), "train", "", 0.1 * k, -0.1 * k, "") for i in range(k + 1)]
        rows = [rng.uniform(0.1, 1, width) for _ in items]
        pretrain.save_training_items(tmp_path / "items" / f"{modality}.npz",
                                     pretrain.branch_data(items, rows), manifests[modality])  # fmt: skip
    corpus_rows = ({m: np.ones((5, d), np.float32) for m, d in DIMS.items()}, np.zeros((5, 1), np.float32))
    settings = load_config(overrides=[f"training.branches={tmp_path / 'branches'}",
                                      "training.pretraining_items=2"]).training  # fmt: skip
    inputs, targets = with_pretraining_items(corpus_rows, DIMS, "valence", manifests, settings)
    assert targets.shape == (5 + 2 * (1 + 2 + 3), 1)
    for k, modality in enumerate(DIMS):  # rows 5.. : audio x2, video x4, text x6
        first = 5 + 2 * sum(range(1, k + 1))
        block = slice(first, first + 2 * (k + 1))
        np.testing.assert_allclose(targets[block, 0], 0.1 * k)
        assert inputs[modality][block].min() > 0
        assert all(not inputs[m][block].any() for m in DIMS if m != modality)


def test_evaluate_trains_the_proposed_network_as_train_does_with_pretraining_items(tmp_path):
    from streamer.training import report
    from streamer.training.datasets import load_corpus, split_devel
    from streamer.training.protocol import train_network

    data, manifests = _corpus_with_manifests(tmp_path)
    branches = _pretrained_folder(tmp_path, manifests)
    rng = np.random.default_rng(1)
    for modality, width in DIMS.items():
        items = [Item("x", str(i), "train", "", rng.uniform(-1, 1), 0.0, "") for i in range(30)]
        rows = [rng.uniform(0, 1, width) for _ in items]
        pretrain.save_training_items(tmp_path / "items" / f"{modality}.npz",
                                     pretrain.branch_data(items, rows), manifests[modality])  # fmt: skip
    config = load_config(overrides=[
        f"training.branches={branches}", "training.freeze_branches=true",
        "training.pretraining_items=2", "training.max_epochs=3", "training.tuning_recordings=2",
    ])  # fmt: skip
    corpus = load_corpus(data)
    tuning, test = split_devel(corpus, 2, config.training.seed)
    trained = train_network(corpus, tuning, test, ["arousal"], config)
    result = report.evaluate(corpus, tuning, test, config, ["arousal"], delays_s=[0.0],
                             complexities=[0.01])  # fmt: skip
    row = next(r for r in result.table3
               if r["model"] == "Proposed fusion" and r["scaling"] == config.training.scaling)  # fmt: skip
    expected = trained.scores["arousal"]
    assert row["tuning"] == pytest.approx(expected["tuning"]["scaled"], abs=1e-6)
    assert row["test"] == pytest.approx(expected["test"]["scaled"], abs=1e-6)
