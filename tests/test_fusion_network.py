"""FusionNet / EarlyFusionNet, the training loop, and saving and loading checkpoints."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from streamer.errors import StreamerError
from streamer.fusion.metrics import ccc
from streamer.fusion.network import (
    TABLE_I,
    EarlyFusionNet,
    FusionNet,
    load_model,
    save_model,
)
from streamer.training.train import predict, repeated_runs, train_model

DIMS = {"audio": 12, "video": 20, "text": 8}
UNITS = {"audio": 8, "video": 8, "text": 6}


def planted(n_rows: int, seed: int, n_outputs: int = 1) -> tuple[dict, np.ndarray]:
    """Bag-like non-negative inputs and targets linear in a few features of each modality."""
    rng = np.random.default_rng(seed)
    inputs = {
        m: (rng.random((n_rows, d)) * (rng.random((n_rows, d)) < 0.5)).astype(np.float32)
        for m, d in DIMS.items()
    }
    w_rng = np.random.default_rng(1234)  # same planted weights for every split
    targets = np.zeros((n_rows, n_outputs), dtype=np.float32)
    for m, d in DIMS.items():
        targets += inputs[m] @ w_rng.standard_normal((d, n_outputs)).astype(np.float32)
    targets = (targets - targets.mean(0)) / targets.std(0)
    targets += 0.2 * rng.standard_normal(targets.shape).astype(np.float32)
    return inputs, targets[:, 0] if n_outputs == 1 else targets


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks train faster on one thread, and timings do not suffer from a busy core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_net(**kwargs) -> FusionNet:
    return FusionNet(DIMS, UNITS, fusion_units=10, **kwargs)


def as_tensors(inputs: dict) -> dict:
    return {m: torch.from_numpy(v) for m, v in inputs.items()}


def test_table_i_sizes_and_output_shapes():
    arousal = TABLE_I["arousal"]
    net = FusionNet({"audio": 1000, "video": 3000, "text": 521}, **arousal)
    assert net.branches["video"][0].out_features == net.branches["video"][3].out_features == 100
    assert net.fusion[0].in_features == 50 + 100 + 200
    assert net.fusion[0].out_features == 100
    x = {m: torch.rand(7, d) for m, d in net.input_dims.items()}
    assert net(x).shape == (7, 1)
    multi = small_net(n_outputs=3)
    assert multi(as_tensors(planted(5, 0)[0])).shape == (5, 3)


def test_early_fusion_takes_a_tensor_or_a_mapping():
    net = EarlyFusionNet(sum(DIMS.values()), hidden_units=(16, 8), input_dims=DIMS).eval()
    inputs = as_tensors(planted(6, 0)[0])
    joined = torch.cat(list(inputs.values()), dim=1)
    assert net(joined).shape == (6, 1)
    torch.testing.assert_close(net(inputs), net(joined))
    with pytest.raises(StreamerError):
        EarlyFusionNet(10, input_dims=DIMS)


def test_wrong_width_is_a_streamer_error():
    x = as_tensors(planted(4, 0)[0])
    x["audio"] = torch.rand(4, 5)
    with pytest.raises(StreamerError, match="audio"):
        small_net()(x)


def test_modality_dropout_zeroes_whole_modalities_only_in_training():
    torch.manual_seed(0)
    net = small_net(modality_dropout=0.5)
    seen: dict[str, torch.Tensor] = {}
    for name in DIMS:
        net.branches[name][0].register_forward_hook(
            lambda _mod, args, _out, name=name: seen.__setitem__(name, args[0].detach().clone())
        )
    inputs = {m: torch.rand(400, d) + 0.1 for m, d in DIMS.items()}  # no zero entries
    net.train()
    net(inputs)
    kept = []
    for name, x in seen.items():
        zero_rows = (x == 0).all(dim=1)
        full_rows = (x == inputs[name]).all(dim=1)
        assert bool((zero_rows | full_rows).all()), "a modality was partly zeroed"
        assert 0.3 < float(zero_rows.float().mean()) < 0.6
        kept.append(full_rows)
    assert bool(torch.stack(kept).any(dim=0).all()), "a row lost every modality"
    net.eval()
    net(inputs)
    for name, x in seen.items():
        torch.testing.assert_close(x, inputs[name])


def test_missing_modality_at_inference_is_zero_input():
    net = small_net(modality_dropout=0.3).eval()
    x = as_tensors(planted(9, 1)[0])
    without_video = {"audio": x["audio"], "text": x["text"]}
    zero_video = dict(x, video=torch.zeros_like(x["video"]))
    torch.testing.assert_close(net(without_video), net(zero_video))
    torch.testing.assert_close(net(dict(x, video=None)), net(zero_video))
    with pytest.raises(StreamerError):
        net({})


def test_planted_signal_trains_to_high_ccc_on_held_out_rows():
    train_x, train_y = planted(3000, 0)
    tune_x, tune_y = planted(600, 1)
    test_x, test_y = planted(1000, 2)
    start = time.perf_counter()
    model, history = train_model(
        train_x, train_y, tune_x, tune_y, small_net,
        epochs=20, batch_size=64, learning_rate=3e-3, patience=5, seed=0, device="cpu",
    )  # fmt: skip
    assert time.perf_counter() - start < 15.0  # about 1 s on one idle core
    assert ccc(test_y, predict(model, test_x)[:, 0]) > 0.8
    assert history.best_tune_ccc > 0.8


def test_ccc_loss_and_multi_task_train():
    train_x, train_y = planted(2000, 0, n_outputs=3)
    tune_x, tune_y = planted(500, 1, n_outputs=3)
    factory = lambda: small_net(n_outputs=3)  # noqa: E731
    _, history = train_model(
        train_x, train_y, tune_x, tune_y, factory,
        epochs=8, batch_size=64, learning_rate=3e-3, patience=0, loss="ccc", device="cpu",
    )  # fmt: skip
    assert len(history.tune_ccc_per_output[0]) == 3
    assert history.best_tune_ccc > 0.7


def test_same_seed_same_weights():
    train_x, train_y = planted(800, 0)
    tune_x, tune_y = planted(200, 1)
    kwargs = dict(epochs=3, batch_size=32, learning_rate=1e-3, patience=0, device="cpu")
    factory = lambda: small_net(dropout=0.2, modality_dropout=0.2)  # noqa: E731
    a, _ = train_model(train_x, train_y, tune_x, tune_y, factory, seed=5, **kwargs)
    b, _ = train_model(train_x, train_y, tune_x, tune_y, factory, seed=5, **kwargs)
    c, _ = train_model(train_x, train_y, tune_x, tune_y, factory, seed=6, **kwargs)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_best_checkpoint_is_kept_and_early_stopping_counts_patience():
    train_x, train_y = planted(600, 0)
    tune_x, tune_y = planted(300, 1)
    # a large step size makes the tuning CCC wander, so the best epoch is not the last
    model, history = train_model(
        train_x, train_y, tune_x, tune_y, lambda: small_net(dropout=0.3),
        epochs=25, batch_size=16, learning_rate=3e-2, patience=3, seed=1, device="cpu",
    )  # fmt: skip
    scores = history.tune_ccc
    assert history.best_epoch == int(np.argmax(scores)) + 1
    assert history.best_tune_ccc == max(scores)
    assert len(scores) <= history.best_epoch + 3
    if history.stopped_early:
        assert len(scores) == history.best_epoch + 3
    assert not model.training
    rescored = ccc(tune_y, predict(model, tune_x)[:, 0])
    assert rescored == pytest.approx(history.best_tune_ccc, abs=1e-6)


def test_repeated_runs_mean_and_std():
    train_x, train_y = planted(600, 0)
    tune_x, tune_y = planted(200, 1)
    test_x, test_y = planted(200, 2)
    runs = repeated_runs(
        2, train_x, train_y, tune_x, tune_y, small_net, test_x, test_y,
        epochs=2, batch_size=64, patience=0, device="cpu",
    )  # fmt: skip
    assert runs.seeds == [0, 1] and len(runs.histories) == 2
    assert runs.tune_mean == pytest.approx(np.mean(runs.tune_ccc))
    assert runs.test_std == pytest.approx(np.std(runs.test_ccc, ddof=1))
    assert runs.best_seed in runs.seeds


@pytest.mark.parametrize("factory", [small_net, lambda: EarlyFusionNet(40, (16,), input_dims=DIMS)])
def test_save_load_round_trip_uses_weights_only(tmp_path, monkeypatch, factory):
    torch.manual_seed(0)
    model = factory().eval()
    meta = {"delay_s": 1.5, "scaling": {"kind": "std_ratio", "ratio": 0.8}, "codebooks": {}}
    json_path = save_model(model, tmp_path, "arousal", meta)
    assert json.loads(json_path.read_text())["meta"] == meta
    assert isinstance(torch.load(tmp_path / "arousal.pt", weights_only=True), dict)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded, loaded_meta = load_model(tmp_path, "arousal")
    assert calls == [True]
    assert loaded_meta == meta and not loaded.training
    x = planted(11, 3)[0]
    np.testing.assert_array_equal(predict(model, x), predict(loaded, x))


def test_missing_or_mismatched_files_are_one_line_errors(tmp_path):
    with pytest.raises(StreamerError, match="missing"):
        load_model(tmp_path, "valence")
    save_model(small_net(), tmp_path, "valence", {})
    # architecture that no longer fits the weights
    record = json.loads((tmp_path / "valence.json").read_text())
    record["architecture"]["args"]["fusion_units"] = 11
    (tmp_path / "valence.json").write_text(json.dumps(record))
    with pytest.raises(StreamerError) as error:
        load_model(tmp_path, "valence")
    assert "\n" not in str(error.value)
    # weights replaced by another model's
    save_model(small_net(), tmp_path, "liking", {})
    torch.save(FusionNet(DIMS, UNITS, 4).state_dict(), tmp_path / "liking.pt")
    with pytest.raises(StreamerError, match="sha256") as error:
        load_model(tmp_path, "liking")
    assert "\n" not in str(error.value)
    (tmp_path / "liking.json").write_text("{not json")
    with pytest.raises(StreamerError):
        load_model(tmp_path, "liking")
