"""Nothing a user does destroys data: outputs never overwrite inputs, two writers never mix
their rows, a closed stderr never stops the work, a full disk keeps the rows written.

Each case runs the real command line and checks the exit status, that the error is one
line with no traceback, that no input changed (sha256 before and after) and that every
CSV row written is complete.
"""

from __future__ import annotations

import hashlib
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.cli import main
from streamer.errors import StreamerError
from streamer.feature_csv import FlushedCsv
from streamer.output_files import open_exclusively, write_atomically

from .conftest import voiced_signal, write_wav

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIP = REPO_ROOT / "examples" / "speaker3.mp4"
ESTIMATE_HEADER = "t_s;arousal;valence;liking;face;speech;latency_ms"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamer", *args], capture_output=True, text=True,
        timeout=300, **kwargs,
    )  # fmt: skip


def _assert_one_line_error(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr
    last = stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("streamer: error: "), stderr
    for fragment in fragments:
        assert fragment in last


def _assert_complete_rows(path: Path, n_columns: int) -> int:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = text.splitlines()
    assert all(len(row.split(";")) == n_columns for row in rows)
    return len(rows)


@pytest.fixture
def clip(tmp_path) -> Path:
    return Path(shutil.copy(CLIP, tmp_path / "clip.mp4"))


@pytest.fixture
def wav(tmp_path) -> Path:
    return write_wav(tmp_path / "voice.wav", 0.3 * voiced_signal(1.0, 16000), 16000)


def _feature_csv(tmp_path, wav) -> Path:
    out = tmp_path / "voice.csv"
    assert main(["features", "audio", str(wav), "--out", str(out)]) == 0
    return out


def test_every_command_refuses_an_output_that_is_its_input(tmp_path, wav, capsys):
    llds = _feature_csv(tmp_path, wav)
    book = tmp_path / "audio.npz"
    fit = ["codebooks", "fit", "--group", "audio", "--input", str(llds), "--size", "4"]
    assert main([*fit, "--out", str(book)]) == 0
    (tmp_path / "sub").mkdir()
    other_spelling = tmp_path / "sub" / ".." / wav.name
    cases = [
        ["features", "audio", str(wav), "--out", str(wav)],
        ["features", "audio", str(wav), "--out", str(other_spelling)],
        ["features", "video", str(wav), "--out", str(wav)],
        ["features", "text", str(wav), "--out", str(wav)],
        [*fit, "--out", str(llds)],
        ["features", "bow", str(llds), "--codebook", str(book), "--out", str(tmp_path)],
        ["features", "bow", str(llds), "--codebook", str(book), "--out", str(llds)],
        ["replay", str(wav), "--csv", str(wav)],
        ["replay", str(wav), "--plot", str(other_spelling)],
    ]
    before = {p: _sha(p) for p in (wav, llds, book)}
    for case in cases:
        capsys.readouterr()
        assert main(case) == 2, case
        _assert_one_line_error(capsys.readouterr().err, "is the input", "choose another")
        assert {p: _sha(p) for p in before} == before, case


def test_a_second_writer_of_the_same_csv_is_refused(tmp_path, wav, capsys):
    out = tmp_path / "rows.csv"
    first = FlushedCsv(out, ["a", "b"], ";")
    first._write_lines(["1;2"])
    with pytest.raises(StreamerError, match="another process is writing .*rows.csv"):
        FlushedCsv(out, ["a", "b"], ";")
    assert main(["features", "audio", str(wav), "--out", str(out)]) == 2
    _assert_one_line_error(capsys.readouterr().err, "another process is writing")
    first._write_lines(["3;4"])
    first.close()
    assert out.read_text() == "a;b\n1;2\n3;4\n"  # the first writer's rows only
    second = FlushedCsv(out, ["c"], ";")  # free again once the first closed it
    second.close()
    assert out.read_text() == "c\n"


def test_a_second_replay_into_the_same_csv_is_refused(tmp_path, clip):
    out = tmp_path / "estimates.csv"
    with open_exclusively(out) as held:  # as a replay running in another process holds it
        held.write(b"t_s\n")
        result = _run(["replay", str(clip), "--csv", str(out)])
        assert result.returncode == 2
        _assert_one_line_error(result.stderr, "another process is writing")
    assert out.read_bytes() == b"t_s\n"
    assert not list(tmp_path.glob("*.partial"))


def test_a_closed_stderr_does_not_stop_a_replay(tmp_path, clip):
    out = tmp_path / "estimates.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "replay", str(clip), "--csv", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    process.stderr.read(60)  # like `2>&1 | head -c 60`
    process.stderr.close()
    assert process.wait(timeout=300) == 0
    n_rows = _assert_complete_rows(out, 7)
    assert n_rows == 1 + 51  # the header and a row per 0.1 s of the 5.0 s clip


def test_a_full_disk_is_a_one_line_error_naming_the_file(wav, tmp_path):
    for args in (
        ["features", "audio", str(wav), "--out", "/dev/full"],
        ["replay", str(wav), "--csv", "/dev/full"],
    ):
        result = _run(args)
        assert result.returncode == 2
        _assert_one_line_error(result.stderr, "cannot write /dev/full", "No space left")
    with pytest.raises(StreamerError, match="cannot write /dev/full"):
        write_atomically("/dev/full", "x")


def test_a_disk_filling_mid_replay_keeps_the_complete_rows(tmp_path, clip):
    out = tmp_path / "estimates.csv"

    def small_file_limit():  # the file system is full after 1000 bytes of this process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    result = _run(["replay", str(clip), "--csv", str(out)], preexec_fn=small_file_limit)
    assert result.returncode == 2
    _assert_one_line_error(result.stderr, f"cannot write {out}", "rows written before are kept")
    n_rows = _assert_complete_rows(out, 7)
    assert out.read_text().startswith(ESTIMATE_HEADER) and 10 < n_rows < 52


def test_whole_files_are_replaced_atomically(tmp_path):
    target = tmp_path / "bags.csv"
    write_atomically(target, "old\n")
    target.chmod(0o640)
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["bags.csv"]  # no temporary left
