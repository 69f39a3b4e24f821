"""AVEC 2017 corpus loading, alignment, bad input, Devel split and the synthetic corpus."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from streamer.errors import StreamerError
from streamer.feature_csv import write_bags_csv
from streamer.training.datasets import (
    LABEL_NAMES,
    CorpusError,
    load_corpus,
    make_synthetic_corpus,
    split_devel,
)

DIMS = {"audio": 15, "video": 18, "text": 12}


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A small synthetic corpus: 3 Train, 4 Devel, 1 Test (no labels), 50 rows each."""
    make_synthetic_corpus(
        tmp_path / "c", n_train=3, n_devel=4, n_test=1, n_rows=50, dims=DIMS, n_informative=2
    )
    return tmp_path / "c"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def _error(folder: Path, **kwargs) -> str:
    with pytest.raises(CorpusError) as info:
        load_corpus(folder, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, StreamerError)
    return message


def test_round_trip_of_the_synthetic_corpus(corpus_dir: Path):
    corpus = load_corpus(corpus_dir)
    assert [r.name for r in corpus.recordings["train"]] == ["Train_01", "Train_02", "Train_03"]
    assert [r.name for r in corpus.recordings["devel"]] == [f"Devel_0{i}" for i in range(1, 5)]
    assert [r.name for r in corpus.recordings["test"]] == ["Test_01"]
    assert corpus.dims == DIMS and corpus.modalities == ("audio", "video", "text")
    assert corpus.label_names == LABEL_NAMES
    rec = corpus.recordings["train"][1]
    assert rec.partition == "train" and rec.n_rows == 50
    np.testing.assert_allclose(rec.timestamps, np.arange(50) * 0.1)
    assert rec.labels.dtype == np.float32 and rec.labels.shape == (50, 3)
    for m, d in DIMS.items():
        assert rec.features[m].dtype == np.float32 and rec.features[m].shape == (50, d)
        assert (rec.features[m] > 0).all()  # bag-like: softplus values
        assert rec.n_padded[m] == 0
    # the values are the ones written (7 significant digits)
    first = _lines(corpus_dir / "video_features_xbow_6s" / "Train_02.csv")[0].split(";")
    assert first[0] == "Train_02" and float(first[1]) == 0.0
    np.testing.assert_allclose(rec.features["video"][0], np.float32(first[2:]), rtol=1e-6)
    test = corpus.recordings["test"][0]
    assert test.labels is None and test.features["text"].shape == (50, 12)
    assert test.label_names == LABEL_NAMES


def test_modalities_subset(corpus_dir: Path):
    corpus = load_corpus(corpus_dir, modalities=("video",))
    assert corpus.dims == {"video": 18}
    assert set(corpus.recordings["devel"][0].features) == {"video"}
    assert "unknown modalities" in _error(corpus_dir, modalities=("smell",))


def test_header_and_no_header_load_the_same(tmp_path: Path):
    plain = tmp_path / "plain"
    headed = tmp_path / "headed"
    make_synthetic_corpus(plain, 2, 2, n_rows=30, dims=DIMS, n_informative=2, seed=3)
    make_synthetic_corpus(headed, 2, 2, n_rows=30, dims=DIMS, n_informative=2, seed=3, header=True)
    assert _lines(headed / "labels" / "Train_01.csv")[0] == "name;timestamp;arousal;valence;liking"
    a, b = load_corpus(plain), load_corpus(headed)
    for ra, rb in zip(a.recordings["devel"], b.recordings["devel"], strict=True):
        np.testing.assert_array_equal(ra.labels, rb.labels)
        np.testing.assert_array_equal(ra.timestamps, rb.timestamps)
        for m in DIMS:
            np.testing.assert_array_equal(ra.features[m], rb.features[m])


def test_mixed_headers_and_a_quoted_avec_header(corpus_dir: Path):
    path = corpus_dir / "audio_features_xbow_6s" / "Devel_02.csv"
    lines = _lines(path)
    _write_lines(path, ["'name';'frameTime';" + ";".join(f"w{i}" for i in range(15)), *lines])
    rec = load_corpus(corpus_dir).recordings["devel"][1]
    np.testing.assert_array_equal(rec.features["audio"][0], np.float32(lines[0].split(";")[2:]))


def test_two_label_columns_named_in_a_header_any_order(tmp_path: Path):
    folder = tmp_path / "c"
    make_synthetic_corpus(folder, 2, 2, n_rows=20, dims=DIMS, n_informative=2)
    full = {}
    for path in sorted((folder / "labels").iterdir()):
        rows = [line.split(";") for line in _lines(path)]
        full[path.stem] = np.array([[float(r[2]), float(r[3])] for r in rows], np.float32)
        _write_lines(
            path,
            ["name;timestamp;Valence;Arousal"] + [";".join(r[:2] + [r[3], r[2]]) for r in rows],
        )
    corpus = load_corpus(folder)
    assert corpus.label_names == ("arousal", "valence")
    rec = corpus.recordings["train"][0]
    assert rec.labels.shape == (20, 2) and rec.label_names == ("arousal", "valence")
    np.testing.assert_array_equal(rec.labels, full["Train_01"])


def test_two_label_columns_without_a_header_is_an_error(corpus_dir: Path):
    path = corpus_dir / "labels" / "Devel_01.csv"
    _write_lines(path, [line.rsplit(";", 1)[0] for line in _lines(path)])
    message = _error(corpus_dir)
    assert str(path) in message and "line 1" in message and "header" in message


def test_label_columns_must_agree_across_files(corpus_dir: Path):
    path = corpus_dir / "labels" / "Train_02.csv"
    rows = [line.rsplit(";", 1)[0] for line in _lines(path)]
    _write_lines(path, ["name;timestamp;arousal;valence", *rows])
    message = _error(corpus_dir)
    assert f"{path} line 1" in message and "differ" in message


def test_unknown_label_name(corpus_dir: Path):
    path = corpus_dir / "labels" / "Devel_01.csv"
    _write_lines(path, ["name;timestamp;arousal;valence;dominance", *_lines(path)])
    assert f"{path} line 1: label columns" in _error(corpus_dir)


def test_alignment_by_timestamp_and_padding(corpus_dir: Path):
    """Timestamps written with other precision align; a short file is padded with its last row."""
    path = corpus_dir / "text_features_xbow_6s" / "Train_01.csv"
    rows = [line.split(";") for line in _lines(path)]
    rows = [[r[0], f"{float(r[1]) + 0.004:.6f}", *r[2:]] for r in rows[:-7]]  # 0.7 s short
    _write_lines(path, [";".join(r) for r in rows])
    rec = load_corpus(corpus_dir).recordings["train"][0]
    assert rec.n_padded == {"audio": 0, "video": 0, "text": 7}
    np.testing.assert_allclose(rec.timestamps, np.arange(50) * 0.1)
    text = rec.features["text"]
    assert text.shape == (50, 12)
    np.testing.assert_array_equal(text[43:], np.repeat(text[42:43], 7, axis=0))
    np.testing.assert_array_equal(text[42], np.float32(rows[-1][2:]))
    # the same shortfall beyond max_pad_s is an error naming the feature file's last line
    message = _error(corpus_dir, max_pad_s=0.5)
    assert f"{path} line 43:" in message and "max_pad_s" in message


def test_features_longer_than_labels(corpus_dir: Path):
    labels = corpus_dir / "labels" / "Devel_03.csv"
    _write_lines(labels, _lines(labels)[:45])
    path = corpus_dir / "audio_features_xbow_6s" / "Devel_03.csv"
    message = _error(corpus_dir)
    assert f"{path} line 46:" in message and str(labels) in message and "line 45" in message


def test_features_starting_later(corpus_dir: Path):
    path = corpus_dir / "video_features_xbow_6s" / "Train_03.csv"
    _write_lines(path, _lines(path)[2:])
    message = _error(corpus_dir)
    assert f"{path} line 1: starts at 0.200 s" in message


def test_gap_in_timestamps(corpus_dir: Path):
    path = corpus_dir / "labels" / "Train_02.csv"
    lines = _lines(path)
    _write_lines(path, lines[:10] + lines[11:])
    message = _error(corpus_dir)
    assert f"{path} line 11: timestamp 1.100 s follows 0.900 s" in message


@pytest.mark.parametrize("header", [False, True])
def test_non_numeric_value_names_file_line_and_field(corpus_dir: Path, header: bool):
    path = corpus_dir / "video_features_xbow_6s" / "Devel_02.csv"
    lines = _lines(path)
    fields = lines[6].split(";")
    fields[4] = "abc"
    lines[6] = ";".join(fields)
    if header:
        lines.insert(0, "name;timestamp;" + ";".join(f"f{i}" for i in range(18)))
    _write_lines(path, lines)
    line = 8 if header else 7
    assert f"{path} line {line}, field 5: 'abc' is not a number" in _error(corpus_dir)


def test_non_numeric_timestamp(corpus_dir: Path):
    path = corpus_dir / "labels" / "Devel_01.csv"
    lines = _lines(path)
    lines[3] = "Devel_01;x;0.1;0.2;0.3"
    _write_lines(path, lines)
    assert f"{path} line 4, field 2: 'x' is not a number" in _error(corpus_dir)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "1e40"])
def test_nan_in_features(corpus_dir: Path, bad: str):
    path = corpus_dir / "audio_features_xbow_6s" / "Train_03.csv"
    lines = _lines(path)
    fields = lines[19].split(";")
    fields[-1] = bad
    lines[19] = ";".join(fields)
    _write_lines(path, lines)
    message = _error(corpus_dir)
    assert f"{path} line 20, field 17:" in message and "finite" in message


def test_nan_in_labels(corpus_dir: Path):
    path = corpus_dir / "labels" / "Train_01.csv"
    lines = _lines(path)
    lines[0] = "Train_01;0.000;0.1;nan;0.2"
    _write_lines(path, lines)
    assert f"{path} line 1, field 4:" in _error(corpus_dir)


def test_ragged_rows(corpus_dir: Path):
    path = corpus_dir / "text_features_xbow_6s" / "Devel_04.csv"
    lines = _lines(path)
    lines[11] += ";1.0"  # numpy would silently drop the extra column
    _write_lines(path, lines)
    message = _error(corpus_dir)
    assert f"{path} line 12: 15 fields where line 1 has 14" in message
    lines[11] = lines[11].rsplit(";", 2)[0]
    _write_lines(path, lines)
    assert f"{path} line 12: 13 fields" in _error(corpus_dir)
    lines[11] = ""
    _write_lines(path, lines)
    assert f"{path} line 12: an empty line" in _error(corpus_dir)


def test_dimension_differs_between_recordings(corpus_dir: Path):
    path = corpus_dir / "audio_features_xbow_6s" / "Train_02.csv"
    _write_lines(path, [line.rsplit(";", 1)[0] for line in _lines(path)])
    message = _error(corpus_dir)
    assert f"{path} line 1: 14 feature columns where" in message and "Devel_01.csv" in message


def test_missing_label_file(corpus_dir: Path):
    (corpus_dir / "labels" / "Train_03.csv").unlink()
    message = _error(corpus_dir)
    assert str(corpus_dir / "labels" / "Train_03.csv") in message and "missing" in message
    assert str(corpus_dir / "audio_features_xbow_6s" / "Train_03.csv") in message


def test_missing_feature_file(corpus_dir: Path):
    (corpus_dir / "video_features_xbow_6s" / "Test_01.csv").unlink()
    message = _error(corpus_dir)
    assert str(corpus_dir / "video_features_xbow_6s" / "Test_01.csv") in message
    assert load_corpus(corpus_dir, modalities=("audio", "text")).recordings["test"]


def test_extra_feature_file_without_labels(corpus_dir: Path):
    write_bags_csv(
        corpus_dir / "audio_features_xbow_6s" / "Devel_09.csv", "Devel_09", np.arange(50) * 0.1,
        np.ones((50, 15)),
    )  # fmt: skip
    message = _error(corpus_dir)
    assert "Devel_09.csv: file missing" in message


def test_missing_folders(corpus_dir: Path, tmp_path: Path):
    assert "corpus folder not found" in _error(tmp_path / "nowhere")
    (corpus_dir / "labels").rename(corpus_dir / "labels_old")
    assert f"{corpus_dir / 'labels'}: folder not found" in _error(corpus_dir)
    (corpus_dir / "labels_old").rename(corpus_dir / "labels")
    (corpus_dir / "text_features_xbow_6s").rename(corpus_dir / "text_old")
    assert f"{corpus_dir / 'text_features_xbow_6s'}: folder not found" in _error(corpus_dir)
    assert load_corpus(corpus_dir, modalities=("audio",)).dims == {"audio": 15}


def test_empty_files(corpus_dir: Path, tmp_path: Path):
    path = corpus_dir / "labels" / "Devel_01.csv"
    path.write_text("\n")
    assert f"{path} line 1: empty file" in _error(corpus_dir)
    path.write_text("name;timestamp;arousal;valence;liking\n")
    assert f"{path} line 2: no data rows" in _error(corpus_dir)
    empty = tmp_path / "empty"
    for sub in (
        "audio_features_xbow_6s",
        "video_features_xbow_6s",
        "text_features_xbow_6s",
        "labels",
    ):
        (empty / sub).mkdir(parents=True)
    assert "no Train_NN.csv" in _error(empty)


def test_windows_line_endings_and_other_files_are_ignored(corpus_dir: Path):
    path = corpus_dir / "audio_features_xbow_6s" / "Train_01.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    (corpus_dir / "labels" / "README.txt").write_text("not a recording")
    rec = load_corpus(corpus_dir).recordings["train"][0]
    assert rec.features["audio"].shape == (50, 15)


def test_split_devel_is_deterministic(tmp_path: Path):
    make_synthetic_corpus(tmp_path, n_train=1, n_devel=14, n_rows=10, dims=DIMS, n_informative=2)
    corpus = load_corpus(tmp_path)
    tuning, test = split_devel(corpus)
    assert len(tuning) == 5 and len(test) == 9
    names = [r.name for r in tuning + test]
    assert sorted(names) == [f"Devel_{i:02d}" for i in range(1, 15)]
    assert [r.name for r in tuning] == sorted(r.name for r in tuning)
    again = split_devel(load_corpus(tmp_path))
    assert [r.name for r in again[0]] == [r.name for r in tuning]
    others = {tuple(r.name for r in split_devel(corpus, seed=s)[0]) for s in range(1, 6)}
    assert len(others - {tuple(r.name for r in tuning)}) >= 1
    assert len(split_devel(corpus, n_tuning=3, seed=7)[0]) == 3
    for n_tuning in (0, 14):
        with pytest.raises(CorpusError, match=re.escape(f"cannot take {n_tuning} tuning")):
            split_devel(corpus, n_tuning=n_tuning)


def test_synthetic_truth_delay_and_signal(tmp_path: Path):
    """Informative columns correlate with the label best when shifted by the true delay."""
    truth = make_synthetic_corpus(
        tmp_path, n_train=4, n_devel=0, n_rows=800, delay_s=(1.0, 1.0, 2.0), seed=1,
        signal={"audio": (0.8, 0.0, 0.3), "video": 0.5, "text": (0.1, 0.2, 0.3)},
    )  # fmt: skip
    assert truth.delay_s == pytest.approx((1.0, 1.0, 2.0))
    assert truth.signal["video"] == (0.5, 0.5, 0.5)
    assert truth.names["train"] == ["Train_01", "Train_02", "Train_03", "Train_04"]
    corpus = load_corpus(tmp_path)
    recs = corpus.recordings["train"]
    assert all(r.labels.min() >= -1 and r.labels.max() <= 1 for r in recs)

    def corr(m: str, j: int, shift: int) -> float:
        cols = truth.informative[m][j]
        x = np.concatenate([r.features[m][: r.n_rows - shift, cols].mean(1) for r in recs])
        y = np.concatenate([r.labels[shift:, j] for r in recs])
        return float(np.corrcoef(x, y)[0, 1])

    shifts = range(0, 31)
    assert max(shifts, key=lambda s: corr("audio", 0, s)) == 10
    assert max(shifts, key=lambda s: corr("text", 2, s)) == 20
    assert corr("audio", 0, 10) > 0.85  # 4 columns of 80 % signal, averaged
    assert abs(corr("audio", 1, 10)) < 0.15  # no signal about valence
    assert corr("text", 0, 10) < corr("text", 1, 10) < corr("text", 2, 20)
    uninformative = np.setdiff1d(np.arange(40), np.concatenate(truth.informative["audio"]))
    x = np.concatenate([r.features["audio"][:-10, uninformative] for r in recs])
    y = np.concatenate([r.labels[10:, 0] for r in recs])
    assert np.abs(np.corrcoef(x.T, y)[-1, :-1]).max() < 0.15


def test_a_corrupted_first_row_is_not_taken_for_a_header(corpus_dir: Path):
    path = corpus_dir / "audio_features_xbow_6s" / "Train_01.csv"
    lines = _lines(path)
    lines[0] = lines[0].replace(";0.000;", ";x;", 1)
    _write_lines(path, lines)
    assert f"{path} line 1, field 2: 'x' is not a number" in _error(corpus_dir)
