"""``streamer codebooks fit`` and ``streamer features bow`` end to end on small generated files."""

from pathlib import Path

import numpy as np
import pytest

from streamer.cli import main
from streamer.feature_csv import FeatureCsvWriter, WordCsvWriter
from streamer.features.lld.extractor import LLD_NAMES
from streamer.types import FeatureFrames, Word


@pytest.fixture
def audio_csvs(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for k, n_frames in enumerate((250, 180)):
        path = tmp_path / "audio" / f"rec{k}.csv"
        values = rng.standard_normal((n_frames, 23)) + k
        with FeatureCsvWriter(path, LLD_NAMES, f"rec{k}") as writer:
            writer.write(FeatureFrames(np.arange(n_frames) * 0.01, values, LLD_NAMES))
        paths.append(str(path))
    return paths


def _fit_audio_codebook(csvs, out, n_words):
    """``streamer codebooks fit --group audio`` with ``n_words`` words; asserts success."""
    args = ["codebooks", "fit", "--group", "audio", "--input", *csvs, "--out", str(out)]
    assert main([*args, "--set", f"codebooks.audio_size={n_words}"]) == 0


def _rows(path):
    return [line.split(";") for line in path.read_text().splitlines()]


def test_audio_codebook_and_bags(tmp_path, audio_csvs):
    codebook = tmp_path / "cb" / "audio.npz"
    _fit_audio_codebook(audio_csvs, codebook, 8)
    out = tmp_path / "bags"
    assert (
        main(["features", "bow", *audio_csvs, "--codebook", str(codebook), "--out", str(out)]) == 0
    )
    rows = _rows(out / "rec0.csv")
    assert rows[0][0] == "rec0" and len(rows[0]) == 2 + 8  # no header: name;timestamp;f1..f8
    times = np.array([float(r[1]) for r in rows])
    assert np.allclose(times, np.arange(len(rows)) * 0.1) and times[-1] == pytest.approx(2.4)
    values = np.array([[float(v) for v in r[2:]] for r in rows])
    assert np.all(values >= 0) and np.all(values[1:].sum(axis=1) > 0)
    assert len(_rows(out / "rec1.csv")) == 18  # 0.0 .. 1.7 s


def test_openxbow_format_codebook_works_the_same(tmp_path, audio_csvs):
    for name in ("a.npz", "a.txt"):
        _fit_audio_codebook(audio_csvs, tmp_path / name, 8)
        assert (
            main(
                [
                    "features",
                    "bow",
                    audio_csvs[0],
                    "--codebook",
                    str(tmp_path / name),
                    "--out",
                    str(tmp_path / name[-3:]),
                ]
            )
            == 0
        )
    npz, txt = _rows(tmp_path / "npz" / "rec0.csv"), _rows(tmp_path / "txt" / "rec0.csv")
    assert npz == txt


def test_text_vocabulary_and_bags(tmp_path):
    paths = []
    for k, text in enumerate(["hello world hello", "world peace and hello"]):
        path = tmp_path / "text" / f"talk{k}.csv"
        with WordCsvWriter(path) as writer:
            writer.write([Word(w, 0.5 * i, 0.5 * i + 0.4, 0.9) for i, w in enumerate(text.split())])
        paths.append(str(path))
    vocabulary = tmp_path / "vocabulary.txt"
    assert (
        main(["codebooks", "fit", "--group", "text", "--input", *paths, "--out", str(vocabulary)])
        == 0
    )
    assert vocabulary.read_text().splitlines()[1:] == ["hello\t3", "world\t2"]  # min count 2
    assert (
        main(
            [
                "features",
                "bow",
                *paths,
                "--codebook",
                str(vocabulary),
                "--out",
                str(tmp_path / "bags"),
            ]
        )
        == 0
    )
    rows = _rows(tmp_path / "bags" / "talk0.csv")
    assert len(rows[0]) == 4 and float(rows[-1][1]) == pytest.approx(1.4)


def test_mismatched_codebook_is_a_one_line_error(tmp_path, audio_csvs, capsys):
    vocabulary = tmp_path / "v.txt"
    words = tmp_path / "w.csv"
    with WordCsvWriter(words) as writer:
        writer.write([Word("a", 0, 0.1, 1.0), Word("a", 0.2, 0.3, 1.0)])
    assert (
        main(
            ["codebooks", "fit", "--group", "text", "--input", str(words), "--out", str(vocabulary)]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "features",
                "bow",
                audio_csvs[0],
                "--codebook",
                str(vocabulary),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith("streamer: error: rec0: a text vocabulary was given for audio features")
        and err.count("\n") == 1
    )
    assert (
        main(
            [
                "codebooks",
                "fit",
                "--group",
                "pose",
                "--input",
                *audio_csvs,
                "--out",
                str(tmp_path / "p.npz"),
            ]
        )
        == 2
    )
    assert "has no 'pose' columns" in capsys.readouterr().err


def test_missing_codebook_is_a_one_line_error(tmp_path, audio_csvs, capsys):
    assert (
        main(
            [
                "features",
                "bow",
                *audio_csvs,
                "--codebook",
                str(tmp_path / "none.txt"),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "none.txt does not exist: fit it with `streamer codebooks fit`" in err
        and err.count("\n") == 1
    )


def test_nan_frames_are_a_one_line_error(tmp_path, audio_csvs, capsys):
    codebook = tmp_path / "a.npz"
    _fit_audio_codebook(audio_csvs, codebook, 4)
    bad = tmp_path / "bad.csv"
    lines = Path(audio_csvs[0]).read_text().splitlines()
    lines[5] = ";".join(lines[5].split(";")[:3] + ["nan"] * 22)
    bad.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert (
        main(
            ["features", "bow", str(bad), "--codebook", str(codebook), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: ") and err.count("\n") == 1


def test_bag_folder_records_its_codebooks(tmp_path, audio_csvs):
    import json

    from streamer.bow.codebook import Codebook

    codebook = tmp_path / "audio.npz"
    _fit_audio_codebook(audio_csvs, codebook, 4)
    assert (
        main(
            [
                "features",
                "bow",
                *audio_csvs,
                "--codebook",
                str(codebook),
                "--out",
                str(tmp_path / "bags"),
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "bags" / "codebooks.json").read_text())
    assert manifest == {
        "codebooks": [
            {
                "file": "audio.npz",
                "group": "audio",
                "n_words": 4,
                "checksum": Codebook.load(codebook).checksum,
            }
        ]
    }
