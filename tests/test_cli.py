import subprocess
import sys

import numpy as np
import pytest

from streamer.cli import main
from tests.conftest import voiced_signal, write_wav


def test_help_runs_as_module():
    result = subprocess.run(
        [sys.executable, "-m", "streamer", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "features" in result.stdout


def test_features_audio_writes_openxbow_csv(tmp_path):
    wav = write_wav(tmp_path / "voice.wav", voiced_signal(1.5, 22050), 22050)
    out = tmp_path / "out" / "voice.csv"
    assert main(["features", "audio", str(wav), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    header = lines[0].split(";")
    assert header[:2] == ["name", "frameTime"]
    assert header[2] == "Loudness_sma3" and header[-1] == "F3amplitudeLogRelF0_sma3nz"
    assert len(header) == 25
    rows = [line.split(";") for line in lines[1:]]
    assert rows[0][0] == "voice"
    times = np.array([float(r[1]) for r in rows])
    assert np.allclose(np.diff(times), 0.01)
    assert len(rows) == pytest.approx(145, abs=2)  # one row per 10 ms
    values = np.array([[float(v) for v in r[2:]] for r in rows])
    assert np.all(np.isfinite(values))


def test_set_and_comma_separator(tmp_path):
    wav = write_wav(tmp_path / "voice.wav", voiced_signal(0.5, 16000), 16000)
    out = tmp_path / "voice.csv"
    assert main(["features", "audio", str(wav), "--out", str(out), "--set", "csv.separator=,"]) == 0
    assert out.read_text().startswith("name,frameTime,Loudness_sma3,")


def test_config_file_option(tmp_path):
    wav = write_wav(tmp_path / "voice.wav", voiced_signal(0.5, 16000), 16000)
    user = tmp_path / "mine.yaml"
    user.write_text("csv:\n  float_digits: 3\n")
    out = tmp_path / "voice.csv"
    assert main(["features", "audio", str(wav), "--out", str(out), "--config", str(user)]) == 0
    first_value = out.read_text().splitlines()[1].split(";")[2]
    assert len(first_value.replace("-", "").replace(".", "").lstrip("0")) <= 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "audio.backend=gpu"], "config key audio.backend must be one of"),
        (["--set", "audoi.backend=numpy"], "unknown config section 'audoi'"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path, capsys, args, message):
    wav = write_wav(tmp_path / "voice.wav", np.zeros(1600), 16000)
    assert main(["features", "audio", str(wav), "--out", str(tmp_path / "x.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: ") and message in err
    assert err.count("\n") == 1


def test_missing_input_is_one_line_error(tmp_path, capsys):
    assert (
        main(["features", "audio", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "x.csv")])
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err == f"streamer: error: audio file not found: {tmp_path / 'nope.wav'} (check the path)\n"
    )


def test_unwritable_output_is_one_line_error(tmp_path, capsys):
    wav = write_wav(tmp_path / "voice.wav", np.zeros(1600), 16000)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["features", "audio", str(wav), "--out", str(blocker / "x.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_damaged_file_keeps_the_rows_computed_before_the_damage(tmp_path, capsys, shared_dir):
    from tests.test_media_file import _faststart_copy

    whole = tmp_path / "whole.mp4"
    _faststart_copy(shared_dir / "media" / "talking_heads" / "speaker1.mp4", whole)
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "cut.csv"
    assert main(["features", "audio", str(tmp_path / "cut.mp4"), "--out", str(out)]) == 2
    assert "is truncated" in capsys.readouterr().err
    n_rows = len(out.read_text().splitlines()) - 1
    assert n_rows > 200  # several seconds of frames survived


def test_devices_lists_inputs_and_cameras(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "audio inputs" in out and "cameras" in out


def test_features_text_writes_timed_words(tmp_path, capsys, shared_dir):
    out = tmp_path / "jfk_words.csv"
    jfk = shared_dir / "media" / "speech" / "jfk.flac"
    assert (
        main(
            [
                "features",
                "text",
                str(jfk),
                "--out",
                str(out),
                "--set",
                "speech.backend=pocketsphinx",
            ]
        )
        == 0
    )
    assert "speech recognition: pocketsphinx" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert lines[0] == "start;end;word;confidence"
    rows = [line.split(";") for line in lines[1:]]
    assert 15 <= len(rows) <= 30
    starts = [float(r[0]) for r in rows]
    assert starts == sorted(starts) and starts[0] >= 0 and float(rows[-1][1]) <= 11.1
    assert "country" in [r[2] for r in rows]


def test_features_text_of_silence_is_an_empty_list(tmp_path):
    wav = write_wav(tmp_path / "silence.wav", np.zeros(3 * 16000), 16000)
    out = tmp_path / "words.csv"
    assert (
        main(
            [
                "features",
                "text",
                str(wav),
                "--out",
                str(out),
                "--set",
                "speech.backend=pocketsphinx",
            ]
        )
        == 0
    )
    assert out.read_text() == "start;end;word;confidence\n"


def test_features_text_with_a_missing_vosk_model_is_a_one_line_error(tmp_path, capsys):
    wav = write_wav(tmp_path / "silence.wav", np.zeros(16000), 16000)
    args = ["features", "text", str(wav), "--out", str(tmp_path / "w.csv")]
    assert main([*args, "--set", f"speech.vosk_model_path={tmp_path / 'none'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamer: error: vosk model folder") and err.count("\n") == 1
