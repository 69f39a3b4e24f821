"""Every bad input is a one-line error that names the problem and the fix, never a traceback
or a silent acceptance, and no input file changes (a table of cases per family: config,
models folder, media, feature CSVs, corpora)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from streamer.cli import main
from streamer.errors import StreamerError
from streamer.training.datasets import load_corpus
from streamer.training.synthetic import make_synthetic_corpus

from .conftest import voiced_signal, write_wav

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIP = REPO_ROOT / "examples" / "speaker3.mp4"
MODELS = REPO_ROOT / "models"
MAX_MESSAGE_CHARACTERS = 400


def _sha_tree(folder: Path) -> dict:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(capsys, args: list[str], *fragments: str) -> str:
    capsys.readouterr()
    assert main(args) == 2, args
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("streamer: error: ") and len(last) < MAX_MESSAGE_CHARACTERS, last
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    return last


@pytest.fixture
def inputs(tmp_path) -> Path:
    """A folder of inputs: a WAV and the example clip."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_wav(folder / "voice.wav", 0.3 * voiced_signal(1.0, 16000), 16000)
    shutil.copy(CLIP, folder / "clip.mp4")
    return folder


# -- config ------------------------------------------------------------------------------------

CONFIG_CASES = {
    "latin-1 bytes": ("audio:\n  backend: n\xe4mlich\n".encode("latin-1"), "is not UTF-8"),
    "UTF-16": ("audio:\n  backend: numpy\n".encode("utf-16"), "is not UTF-8"),
    "alias bomb": (
        b"a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
        b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
        "aliases (*name) are not allowed",
    ),
    "huge value": (b"audio:\n  backend: " + b"x" * 100_000 + b"\n", "must be one of"),
    "not YAML": (b"audio: [unclosed\n", "is not valid YAML"),
    "key twice": (b"bow:\n  hop_s: 0.1\n  hop_s: 0.2\n", "'hop_s' is given twice"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_config_files(case, inputs, tmp_path, capsys):
    data, fragment = CONFIG_CASES[case]
    config = tmp_path / "config.yaml"
    config.write_bytes(data)
    before = _sha_tree(inputs)
    out = tmp_path / "out.csv"
    _refused(capsys, ["features", "audio", str(inputs / "voice.wav"), "--out", str(out),
                      "--config", str(config)], fragment)  # fmt: skip
    assert _sha_tree(inputs) == before and not out.exists()


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (["bow.window_s=0.05", "bow.hop_s=0.1"], "is shorter than bow.hop_s"),
        (["audio.backend=" + "y" * 5000], "must be one of"),
        (["face.model_path=" + str(REPO_ROOT / "README.md")], "not a MediaPipe"),
    ],
)
def test_bad_config_values(overrides, fragment, inputs, tmp_path, capsys):
    command = "video" if "face" in overrides[0] else "audio"
    sets = [arg for o in overrides for arg in ("--set", o)]
    _refused(capsys, ["features", command, str(inputs / "clip.mp4"), "--out",
                      str(tmp_path / "o.csv"), *sets], fragment)  # fmt: skip


def test_a_config_folder_or_unreadable_file(tmp_path, inputs, capsys, monkeypatch):
    args = ["features", "audio", str(inputs / "voice.wav"), "--out", str(tmp_path / "o.csv")]
    _refused(capsys, [*args, "--config", str(tmp_path)], "is not a file")
    config = tmp_path / "c.yaml"
    config.write_text("audio:\n  backend: numpy\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # root reads any file: fake the refusal
    _refused(capsys, [*args, "--config", str(config)], "cannot read config file", "Permission")


def test_cuda_without_a_gpu_says_how_to_choose_the_cpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from streamer.training.train import resolve_device

    with pytest.raises(StreamerError, match="torch sees no GPU here: set training.device to cpu"):
        resolve_device("cuda")


# -- models folder -----------------------------------------------------------------------------


def _models_copy(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for path in MODELS.iterdir():
        if path.suffix in (".json", ".pt", ".yaml"):
            shutil.copy(path, folder / path.name)
    return folder


def _edit_json(path: Path, edit) -> None:
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/streamer-was-pwned",))


MODEL_CASES = {
    "binary json": (
        lambda f: (f / "arousal.json").write_bytes(bytes(range(256))),
        "it is not JSON text",
    ),
    "no scaling": (
        lambda f: _edit_json(f / "arousal.json", lambda r: r["meta"].pop("scaling")),
        "meta.scaling is not a mapping",
    ),
    "codebook without checksum": (
        lambda f: _edit_json(
            f / "arousal.json", lambda r: r["meta"]["codebooks"]["audio"][0].pop("checksum")
        ),
        "has no checksum",
    ),
    "codebook without group": (
        lambda f: _edit_json(
            f / "valence.json", lambda r: r["meta"]["codebooks"]["text"][0].pop("group")
        ),
        "has no group",
    ),
    "absurd layer": (
        lambda f: _edit_json(
            f / "arousal.json",
            lambda r: r["architecture"]["args"]["modality_units"].update(audio=10**8),
        ),
        "modality_units.audio must be a whole number from 1 to 100000",
    ),
    "too many weights": (
        lambda f: _edit_json(
            f / "arousal.json",
            lambda r: r["architecture"]["args"].update(
                input_dims={"audio": 900_000, "video": 900_000, "text": 900_000},
                modality_units={"audio": 50_000, "video": 50_000, "text": 50_000},
            ),
        ),
        "weights (at most 100,000,000)",
    ),
    "pickled code in the weights": (
        lambda f: (
            _edit_json(f / "arousal.json", lambda r: r.pop("weights_sha256")),
            (f / "arousal.pt").write_bytes(pickle.dumps(_Evil())),
        ),
        "never code from a file",
    ),
}


@pytest.mark.parametrize("case", MODEL_CASES)
def test_bad_models_folders(case, tmp_path, inputs, capsys):
    damage, fragment = MODEL_CASES[case]
    folder = _models_copy(tmp_path)
    damage(folder)
    before = _sha_tree(folder)
    message = _refused(
        capsys, ["replay", str(inputs / "clip.mp4"), "--models", str(folder)], fragment
    )
    assert "weights_only" not in message and "allow_pickle" not in message
    assert not Path("/tmp/streamer-was-pwned").exists()
    assert _sha_tree(folder) == before


def test_a_pickled_codebook_is_refused_without_advice_to_unpickle(tmp_path, capsys):
    book = tmp_path / "audio.npz"
    np.savez(book, words=np.array([_Evil()], dtype=object))
    wav = write_wav(tmp_path / "v.wav", 0.3 * voiced_signal(0.5, 16000), 16000)
    csv = tmp_path / "v.csv"
    assert main(["features", "audio", str(wav), "--out", str(csv)]) == 0
    message = _refused(capsys, ["features", "bow", str(csv), "--codebook", str(book), "--out",
                                str(tmp_path / "bags")], "Python objects")  # fmt: skip
    assert "allow_pickle" not in message


def test_a_models_folder_without_arousal_says_so_at_the_start(tmp_path, inputs, capsys):
    folder = _models_copy(tmp_path)
    for name in ("arousal.json", "arousal.pt"):
        (folder / name).unlink()
    assert main(["replay", str(inputs / "voice.wav"), "--models", str(folder)]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert "valence; no arousal or liking network: their columns stay empty" in first


# -- media -------------------------------------------------------------------------------------


def test_media_that_is_no_file_or_too_large(tmp_path, capsys):
    import cv2

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.jpg"
    cv2.imwrite(str(huge), np.zeros((8000, 8000, 3), np.uint8))
    out = ["--out", str(tmp_path / "o.csv")]
    _refused(capsys, ["features", "video", str(tmp_path), *out], "is a folder, not a video file")
    _refused(capsys, ["features", "audio", str(fifo), *out], "not a regular file")
    _refused(capsys, ["replay", os.devnull], "not a regular file")
    _refused(capsys, ["features", "video", str(huge), *out], "64 megapixels", "scale it down")


# -- feature CSVs, codebooks, corpora ----------------------------------------------------------


def _audio_csv(tmp_path) -> Path:
    wav = write_wav(tmp_path / "v.wav", 0.3 * voiced_signal(1.0, 16000), 16000)
    csv = tmp_path / "v.csv"
    assert main(["features", "audio", str(wav), "--out", str(csv)]) == 0
    return csv


def _codebook(tmp_path, csv) -> Path:
    book = tmp_path / "audio.npz"
    fit = ["codebooks", "fit", "--group", "audio", "--input", str(csv), "--size", "4"]
    assert main([*fit, "--out", str(book)]) == 0
    return book


def test_feature_csvs_with_bad_numbers(tmp_path, capsys):
    csv = _audio_csv(tmp_path)
    book = _codebook(tmp_path, csv)
    lines = csv.read_text().splitlines()

    def variant(name, rows):
        path = tmp_path / name
        path.write_text("\n".join([lines[0], *rows]) + "\n")
        return path

    row = lines[1].split(";")
    late = ";".join([row[0], "1e9", *row[2:]])
    nan = ";".join([*row[:5], "nan", *row[6:]])
    bags = ["--codebook", str(book), "--out", str(tmp_path / "bags")]
    cases = [
        (variant("late.csv", [lines[1], late]), "line 3: time 1e+09 s is not within"),
        (variant("nan.csv", [lines[1], nan]), "line 3:"),
        (variant("header.csv", []), "has a header but no rows"),
        (variant("text.csv", [lines[1].replace(row[3], "abc")]), "line 2 has a value that is"),
    ]
    for path, fragment in cases:
        _refused(capsys, ["features", "bow", str(path), *bags], str(path.name), fragment)


def test_a_folder_option_naming_a_file(tmp_path, capsys):
    csv = _audio_csv(tmp_path)
    book = _codebook(tmp_path, csv)
    taken = tmp_path / "taken.txt"
    taken.write_text("mine")
    for args in (
        ["features", "bow", str(csv), "--codebook", str(book), "--out", str(taken)],
        ["train", "--data", str(tmp_path), "--out", str(taken)],
        ["evaluate", "--data", str(tmp_path), "--out", str(taken)],
    ):
        _refused(capsys, args, "is a file, not a folder")
    assert taken.read_text() == "mine"


def test_an_empty_vocabulary_is_not_written(tmp_path, capsys):
    words = tmp_path / "w.csv"
    words.write_text("start;end;word;confidence\n0.1;0.3;hello;0.9\n")
    out = tmp_path / "vocabulary.txt"
    _refused(capsys, ["codebooks", "fit", "--group", "text", "--input", str(words), "--out",
                      str(out)], "no word occurs 2 times or more")  # fmt: skip
    assert not out.exists()


def test_constant_labels_name_the_labels_folder(tmp_path, capsys):
    folder = tmp_path / "corpus"
    make_synthetic_corpus(folder, n_train=2, n_devel=2, n_rows=40, seed=0)
    for path in (folder / "labels").glob("Train_*.csv"):
        rows = [line.split(";") for line in path.read_text().splitlines()]
        path.write_text("\n".join(";".join([*r[:2], "0.5", *r[3:]]) for r in rows) + "\n")
    with pytest.raises(StreamerError, match="labels of every Train recording in .*labels are 0.5"):
        load_corpus(folder)
    _refused(capsys, ["evaluate", "--data", str(folder), "--out", str(tmp_path / "report")],
             "the CCC is undefined on constant labels")  # fmt: skip
