"""``streamer features video`` end to end on real pictures and videos (../shared)."""

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")

from streamer.cli import main  # noqa: E402


@pytest.fixture
def model_option(shared_dir):
    return ["--set", f"face.model_path={shared_dir / 'models' / 'face_landmarker.task'}"]


def _read(path):
    lines = path.read_text().splitlines()
    return lines[0].split(";"), [line.split(";") for line in lines[1:]]


def test_header_and_rows_for_a_video(tmp_path, shared_dir, model_option):
    out = tmp_path / "s5.csv"
    video = shared_dir / "media" / "talking_heads" / "speaker5.mp4"
    assert main(["features", "video", str(video), "--out", str(out), *model_option]) == 0
    header, rows = _read(out)
    expected = ["name", "frameTime", "face", "pitch", "yaw", "roll"]
    expected += [f"eye{i}_{a}" for i in range(10) for a in "xy"]
    expected += [f"lm{i}_{a}" for i in range(49) for a in "xy"]
    assert header == expected
    assert len(rows) == 122  # one row per frame
    values = np.array([[float(v) for v in row[1:]] for row in rows])
    assert np.all(np.diff(values[:, 0]) > 0)  # frame times increase
    assert values[:, 1].mean() >= 0.99  # face present


def test_picture_normalised_with_blendshapes(tmp_path, shared_dir, model_option):
    out = tmp_path / "takeo.csv"
    picture = shared_dir / "faces" / "takeo.ppm"
    args = ["features", "video", str(picture), "--out", str(out), "--coords", "normalised"]
    assert main([*args, "--blendshapes", *model_option]) == 0
    header, rows = _read(out)
    assert len(header) == 6 + 20 + 98 + 52 and header[-1] == "noseSneerRight"
    assert len(rows) == 1 and rows[0][2] == "1"
    landmarks = np.array([float(v) for v in rows[0][26:124]]).reshape(49, 2)
    assert np.abs(landmarks.mean(axis=0)).max() < 1e-6


def test_fps_option_halves_the_rows(tmp_path, shared_dir, model_option):
    out = tmp_path / "s2.csv"
    video = shared_dir / "media" / "talking_heads" / "speaker2.mp4"  # 25 frames/s, 125 frames
    assert (
        main(["features", "video", str(video), "--out", str(out), "--fps", "12.5", *model_option])
        == 0
    )
    assert len(_read(out)[1]) == 63


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "video file not found"),
        (lambda d: _write(d / "notes.mp4", b"not a video at all\n" * 30), "cannot be read"),
        (lambda d: _write(d / "empty.mp4", b""), "is empty"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, model_option, make, message):
    path = make(tmp_path)
    assert (
        main(["features", "video", str(path), "--out", str(tmp_path / "x.csv"), *model_option]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: ") and message in err and err.count("\n") == 1


def test_audio_only_file_is_a_one_line_error(tmp_path, capsys, shared_dir, model_option):
    audio = shared_dir / "media" / "speech" / "jfk.flac"
    assert (
        main(["features", "video", str(audio), "--out", str(tmp_path / "x.csv"), *model_option])
        == 2
    )
    assert "has no video track" in capsys.readouterr().err


def test_missing_model_is_a_one_line_error(tmp_path, capsys, shared_dir):
    picture = shared_dir / "faces" / "takeo.ppm"
    args = ["features", "video", str(picture), "--out", str(tmp_path / "x.csv")]
    assert main([*args, "--set", f"face.model_path={tmp_path / 'none.task'}"]) == 2
    assert "face.model_path names" in capsys.readouterr().err


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
