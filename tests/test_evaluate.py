"""``streamer evaluate`` on a small synthetic corpus (planted delays and per-modality signal)."""

import csv

import pytest

from streamer.cli import main
from streamer.training.datasets import make_synthetic_corpus

DIMENSIONS = ("arousal", "valence", "liking")
PLANTED_DELAY_S = (1.5, 1.5, 2.5)  # the config's delays, so Tables II and III are aligned
UNIMODAL = ("SVR audio", "SVR video", "SVR text")


def _rows(path):
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    truth = make_synthetic_corpus(
        root / "corpus", n_train=6, n_devel=7, n_rows=300,
        dims={"audio": 20, "video": 20, "text": 20}, delay_s=PLANTED_DELAY_S, seed=1,
    )  # fmt: skip
    out = root / "report"
    args = ["evaluate", "--data", str(root / "corpus"), "--out", str(out), "--runs", "2"]
    args += ["--set", "training.max_epochs=10", "--set", "training.device=cpu"]
    status = main(args)
    return status, out, truth


def test_evaluate_writes_every_table_and_figure(evaluated):
    status, out, _ = evaluated
    assert status == 0
    for name in ("table2", "table3", "fig2_delay", "fig3_modalities"):
        assert (out / f"{name}.csv").stat().st_size > 0
    for name in ("table2.md", "table3.md"):
        assert "| model | scaling |" in (out / name).read_text(encoding="utf-8")
    for name in ("fig2_delay.png", "fig3_modalities.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table2 = _rows(out / "table2.csv")
    assert list(table2[0]) == [
        "dimension",
        "model",
        "scaling",
        "tuning",
        "test",
        "test_pcc",
        "test_rmse",
    ]
    assert len(table2) == 3 * 5 * 3  # dimensions x (3 unimodal, early, late) x scalings
    assert {r["scaling"] for r in table2} == {"none", "std_ratio", "minmax"}
    table3 = _rows(out / "table3.csv")
    assert len(table3) == 3 * 2 * 3  # dimensions x networks x scalings
    assert {r["model"] for r in table3} == {"DNN early fusion", "Proposed fusion"}
    assert {r["scaling"] for r in table3} == {"none", "decimal", "std_ratio"}
    assert all(r["runs"] == "2" and float(r["test_std"]) >= 0.0 for r in table3)
    assert "±" in (out / "table3.md").read_text(encoding="utf-8")
    assert len(_rows(out / "fig2_delay.csv")) == 3 * 11  # 0, 0.5, ..., 5 s
    assert len(_rows(out / "fig3_modalities.csv")) == 3 * 3


def test_delay_search_finds_the_planted_delay(evaluated):
    _, out, _ = evaluated
    rows = _rows(out / "fig2_delay.csv")
    for dimension, planted in zip(DIMENSIONS, PLANTED_DELAY_S, strict=True):
        best = [
            float(r["delay_s"]) for r in rows if r["dimension"] == dimension and r["best"] == "True"
        ]
        assert len(best) == 1 and abs(best[0] - planted) <= 0.5, (dimension, best)


def test_every_model_beats_a_constant_predictor(evaluated):
    _, out, _ = evaluated
    for row in _rows(out / "table2.csv") + _rows(out / "table3.csv"):
        assert float(row["test"]) > 0.0, row


def test_proposed_fusion_beats_each_unimodal_svr(evaluated):
    # Each modality's noise is independent, so fusing helps where at least two modalities
    # carry substantial signal: arousal (audio .6, video .3) and valence (video .6, audio and
    # text .3). Liking (text .5, video .2, audio .1) is left out: there the text SVR alone is
    # nearly as good, and with 10 epochs on 1800 rows the network wins on some corpus seeds
    # and loses by about 0.01 CCC on others (seed 3: 0.752 against the text SVR's 0.763).
    _, out, truth = evaluated
    table2, table3 = _rows(out / "table2.csv"), _rows(out / "table3.csv")
    for j, dimension in enumerate(DIMENSIONS):
        if sorted(shares[j] for shares in truth.signal.values())[-2] < 0.3:
            continue
        proposed = next(
            float(r["test"]) for r in table3
            if r["dimension"] == dimension and r["model"] == "Proposed fusion"
            and r["scaling"] == "std_ratio"
        )  # fmt: skip
        unimodal = max(
            float(r["test"])
            for r in table2
            if r["dimension"] == dimension and r["model"] in UNIMODAL
        )
        assert proposed > unimodal, (dimension, proposed, unimodal)


def test_late_fusion_importance_follows_the_planted_signal(evaluated):
    _, out, truth = evaluated
    rows = _rows(out / "fig3_modalities.csv")
    for j, dimension in enumerate(DIMENSIONS):
        shares = {
            r["modality"]: float(r["importance"]) for r in rows if r["dimension"] == dimension
        }
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
        strongest = max(truth.signal, key=lambda m: truth.signal[m][j])
        assert max(shares, key=shares.get) == strongest


def test_evaluate_with_an_unknown_dimension_is_a_one_line_error(tmp_path, capsys):
    make_synthetic_corpus(tmp_path / "corpus", n_train=2, n_devel=3, n_rows=60, seed=0)
    args = ["evaluate", "--data", str(tmp_path / "corpus"), "--out", str(tmp_path / "out")]
    args += ["--dimensions", "dominance", "--set", "training.tuning_recordings=1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("streamer: error: ") and "dominance" in err
