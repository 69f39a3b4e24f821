"""``streamer train`` on a synthetic corpus in the AVEC 2017 layout (planted signal and delay)."""

import json

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
        assert meta["delay_s"] == 1.5 and meta["scaling"]["kind"] == "std_ratio"
        assert meta["codebooks"] == {"audio": manifest["codebooks"]}  # video, text: no manifest
        # a constant predictor has CCC 0: the planted signal is learned
        assert meta["scores_ccc"]["test"]["scaled"] > 0.3, err
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
