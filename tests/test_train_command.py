"""``streamer train`` on a synthetic corpus in the AVEC 2017 layout (planted signal and delay)."""

import json

import numpy as np
import torch

from streamer.cli import main
from streamer.fusion.network import load_model
from streamer.training.datasets import make_synthetic_corpus


def test_train_writes_models_that_beat_a_constant_predictor(tmp_path, capsys):
    data = tmp_path / "corpus"
    make_synthetic_corpus(data, n_train=6, n_devel=7, n_rows=400, delay_s=1.5, seed=3)
    manifest = {
        "codebooks": [{"file": "audio.npz", "group": "audio", "n_words": 40, "checksum": "abc"}]
    }
    (data / "audio_features_xbow_6s" / "codebooks.json").write_text(json.dumps(manifest))
    out = tmp_path / "models"
    settings = ["--set", "training.max_epochs=8", "--set", "training.tuning_recordings=3"]
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--out",
                str(out),
                "--dimensions",
                "arousal,valence",
                *settings,
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    for dimension in ("arousal", "valence"):
        meta = json.loads((out / f"{dimension}.json").read_text())["meta"]
        assert meta["dimensions"] == [dimension] and meta["delays_s"] == {dimension: 1.5}
        assert meta["scaling"][dimension]["kind"] == "std_ratio"
        assert meta["codebooks"] == {"audio": manifest["codebooks"]}  # video, text: no manifest
        # a constant predictor has CCC 0: the planted signal is learned
        assert meta["scores_ccc"][dimension]["test"]["scaled"] > 0.3, err
        model, loaded_meta = load_model(out, dimension)
        assert loaded_meta == meta
        state = torch.load(out / f"{dimension}.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert "arousal: CCC tuning" in err


def test_train_with_missing_labels_folder_is_a_one_line_error(tmp_path, capsys):
    data = tmp_path / "corpus"
    make_synthetic_corpus(data, n_train=2, n_devel=3, n_rows=50, seed=0)
    for path in (data / "labels").iterdir():
        path.unlink()
    (data / "labels").rmdir()
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: ") and "labels" in err and err.count("\n") == 1


def test_multitask_network_keeps_each_dimension_delay(tmp_path, capsys):
    data = tmp_path / "corpus"
    make_synthetic_corpus(data, n_train=6, n_devel=7, n_rows=400, delay_s=(1.5, 1.5, 2.5), seed=4)
    out = tmp_path / "models"
    settings = ["--set", "training.max_epochs=8", "--set", "training.tuning_recordings=3"]
    assert main(["train", "--data", str(data), "--out", str(out), "--multitask", *settings]) == 0
    meta = json.loads((out / "multitask.json").read_text())["meta"]
    assert meta["dimensions"] == ["arousal", "valence", "liking"]
    assert meta["delays_s"] == {"arousal": 1.5, "valence": 1.5, "liking": 2.5}
    for dimension in meta["dimensions"]:
        assert meta["scores_ccc"][dimension]["test"]["scaled"] > 0.3, capsys.readouterr().err
    model, _ = load_model(out, "multitask")
    assert model.architecture()["args"]["n_outputs"] == 3


def test_stack_advances_labels_with_longer_delays():
    from streamer.training.datasets import Recording
    from streamer.training.protocol import stack

    n = 30
    features = np.arange(n, dtype=np.float32)[:, None]
    labels = np.stack([np.arange(n), np.arange(n) + 100], axis=1).astype(np.float32)
    recording = Recording(
        "Train_01", "train", np.arange(n) * 0.1, {"audio": features}, labels, ("a", "b"), {}
    )
    inputs, targets = stack([recording], ["audio"], [0.5, 1.5], [0, 1])
    # label a at row t meets the features of t - 5 rows, label b those of t - 15 rows
    assert inputs["audio"][20, 0] == 15 and targets[20, 0] == 20
    assert (
        targets[10, 1] == 100 + 20
    )  # b advanced by 10 rows: row 10 holds b(20), features 5 = 20 - 15
    assert targets[-1, 1] == 100 + n - 1  # end padded with the last value
