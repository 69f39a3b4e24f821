import io
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap

import pytest

from streamer.errors import StreamerError
from streamer.runtime.sinks import (
    EstimateCsvWriter,
    ReplayProgress,
    _spans,
    plot_estimates,
    read_estimates_csv,
    summarise,
)
from streamer.types import Estimate

NAN = float("nan")


def _estimate(t_s, arousal=0.0, valence=0.0, liking=NAN, face=True, speech=False, latency_ms=5.0):
    return Estimate(t_s, arousal, valence, liking, face, speech, latency_ms)


def _same(a: Estimate, b: Estimate) -> bool:
    """Field by field equality with NaN equal to NaN and floats to 1e-6."""
    for x, y in zip(a.__dict__.values(), b.__dict__.values(), strict=True):
        if isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x != pytest.approx(y, abs=1e-6):
            return False
    return True


@pytest.mark.parametrize("sep", [";", ","])
def test_header_and_rows_exact_text(tmp_path, sep):
    path = tmp_path / "estimates.csv"
    with EstimateCsvWriter(path, separator=sep, float_digits=7) as writer:
        writer.write(Estimate(12.3, 0.123456789, -0.5, NAN, True, False, 15.26))
        writer.write(Estimate(0.05, 1e-9, 0.25, 0.75, False, True, 3.0))
        writer.write(Estimate(1234.5678901, -1.0, 0.0, NAN, True, True, NAN))
        writer.write(Estimate(7.0, 0.1, 0.2, 0.3, False, False, 120.04))
    expected = [
        "t_s,arousal,valence,liking,face,speech,latency_ms",
        "12.3,0.1234568,-0.5,,1,0,15.3",
        "0.05,1e-09,0.25,0.75,0,1,3.0",
        "1234.56789,-1,0,,1,1,",
        "7.0,0.1,0.2,0.3,0,0,120.0",
    ]
    assert path.read_text() == "".join(line.replace(",", sep) + "\n" for line in expected)
    assert writer.n_rows == 4


def test_float_digits_are_significant_digits(tmp_path):
    path = tmp_path / "estimates.csv"
    with EstimateCsvWriter(path, float_digits=3) as writer:
        writer.write(_estimate(0.1, arousal=0.123456, valence=-12.3456))
    assert path.read_text().splitlines()[1] == "0.1;0.123;-12.3;;1;0;5.0"


@pytest.mark.parametrize("sep", [";", ","])
def test_nan_is_an_empty_field_and_reads_back_as_nan(tmp_path, sep):
    path = tmp_path / "estimates.csv"
    written = [
        _estimate(0.1, 0.5, -0.25, NAN, True, False, 4.5),
        _estimate(0.2, NAN, 0.125, NAN, False, True, 6.0),
    ]
    with EstimateCsvWriter(path, separator=sep) as writer:
        for estimate in written:
            writer.write(estimate)
    rows = [line.split(sep) for line in path.read_text().splitlines()[1:]]
    assert [r[3] for r in rows] == ["", ""]  # liking column: empty, not "nan"
    assert rows[1][1] == ""
    assert "nan" not in path.read_text().lower()
    read = read_estimates_csv(path)
    assert len(read) == 2
    assert math.isnan(read[0].liking) and math.isnan(read[1].arousal)
    assert all(_same(a, b) for a, b in zip(written, read, strict=True))


def test_every_row_is_on_disk_before_close(tmp_path):
    path = tmp_path / "estimates.csv"
    writer = EstimateCsvWriter(path)
    try:
        assert path.read_text() == "t_s;arousal;valence;liking;face;speech;latency_ms\n"
        for i in range(1, 6):
            writer.write(_estimate(0.1 * i, arousal=0.01 * i))
            on_disk = read_estimates_csv(path)  # the writer is still open
            assert len(on_disk) == i
            assert on_disk[-1].arousal == pytest.approx(0.01 * i)
    finally:
        writer.close()
    writer.close()  # idempotent


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from streamer.runtime.sinks import EstimateCsvWriter
    from streamer.types import Estimate

    writer = EstimateCsvWriter(sys.argv[1])
    for i in range(1, 100_000):
        writer.write(Estimate(i / 10, i / 1e5, -i / 1e5, float("nan"), i % 2 == 0, True, 2.5))
        print(i, flush=True)
        time.sleep(0.001)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_rows_survive_sigkill(tmp_path):
    path = tmp_path / "estimates.csv"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = 0
    try:
        while reported < 20:
            line = child.stdout.readline()
            assert line, f"the writer died early: {child.stderr.read()}"
            reported = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    text = path.read_text()
    complete = text.split("\n")[1:-1]  # the last piece is "" or a row cut by the kill
    assert len(complete) >= reported
    assert all(len(line.split(";")) == 7 for line in complete)
    estimates = read_estimates_csv(path)
    assert len(estimates) >= reported
    for i, estimate in enumerate(estimates, start=1):
        assert _same(estimate, Estimate(i / 10, i / 1e5, -i / 1e5, NAN, i % 2 == 0, True, 2.5))


def test_a_missing_folder_is_created_as_for_every_csv_streamer_writes(tmp_path):
    path = tmp_path / "new_folder" / "estimates.csv"
    with EstimateCsvWriter(path) as writer:
        writer.write(_estimate(0.1, 0.2, -0.4, NAN, True, True, 10.0))
    assert len(read_estimates_csv(path)) == 1


def test_unwritable_path_is_a_one_line_error(tmp_path):
    folder_in_the_way = tmp_path / "estimates.csv"
    folder_in_the_way.mkdir()
    with pytest.raises(StreamerError) as caught:
        EstimateCsvWriter(folder_in_the_way)
    assert "\n" not in str(caught.value) and str(folder_in_the_way) in str(caught.value)


def test_reader_skips_a_cut_last_row_but_not_a_bad_middle_row(tmp_path):
    header = "t_s,arousal,valence,liking,face,speech,latency_ms\n"
    cut = tmp_path / "cut.csv"
    cut.write_text(header + "0.1,0.5,0.5,,1,0,3.0\n0.2,0.4")
    assert [e.t_s for e in read_estimates_csv(cut)] == [0.1]
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "0.1,0.5\n0.2,0.4,0.4,,1,0,3.0\n")
    with pytest.raises(StreamerError, match="line 2"):
        read_estimates_csv(bad)
    other = tmp_path / "other.csv"
    other.write_text("name;frameTime;x\n")
    with pytest.raises(StreamerError, match="not an estimates CSV"):
        read_estimates_csv(other)


def _synthetic(n_hops=300, liking=True):
    estimates = []
    for i in range(1, n_hops + 1):
        t = i / 10
        estimates.append(
            Estimate(
                t_s=t,
                arousal=0.8 * math.sin(2 * math.pi * t / 12),
                valence=0.5 * math.cos(2 * math.pi * t / 20) - 0.1,
                liking=0.3 * math.sin(2 * math.pi * t / 7) if liking else NAN,
                face=not (8 <= t < 11),
                speech=(t % 6) < 3.5,
                latency_ms=20 + (i % 7),
            )
        )
    return estimates


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])  # IHDR width, height


@pytest.mark.parametrize("liking", [True, False])
def test_plot_writes_a_png(tmp_path, liking):
    path = plot_estimates(_synthetic(liking=liking), tmp_path / "plot.png", title="synthetic")
    assert path == tmp_path / "plot.png"
    assert _png_size(path) == (1000, 500)  # 10 x 5 in at 100 dpi
    assert path.stat().st_size > 20_000


def test_plot_leaves_out_an_all_nan_dimension_and_says_so(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    saved = []
    original_savefig = Figure.savefig

    def savefig(fig, *args, **kwargs):
        saved.append(fig)
        return original_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    plot_estimates(_synthetic(50, liking=False), tmp_path / "plot.png")
    curves, presence = saved[0].axes
    labels = [text.get_text() for text in curves.get_legend().get_texts()]
    assert labels == ["arousal", "valence", "liking: not available in this model"]
    assert [len(line.get_xdata()) for line in curves.get_lines()][1:] == [50, 50, 0]
    assert curves.get_ylim() == (-1.0, 1.0)
    assert presence.get_xlabel() == "time (s)"


def test_presence_spans_merge_consecutive_hops():
    times = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    spans = _spans(times, [True, True, False, True, True, True], 0.1)
    assert len(spans) == 2
    assert spans[0] == pytest.approx((0.0, 0.2)) and spans[1] == pytest.approx((0.3, 0.3))
    assert _spans(times, [False] * 6, 0.1) == []


def test_plot_of_no_estimates_and_missing_folder(tmp_path):
    assert _png_size(plot_estimates([], tmp_path / "empty.png")) == (1000, 500)
    path = tmp_path / "missing" / "plot.png"
    with pytest.raises(StreamerError) as caught:
        plot_estimates(_synthetic(10), path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_summarise_numbers():
    estimates = [
        _estimate(0.1, 0.2, -0.4, NAN, True, True, 10.0),
        _estimate(0.2, 0.4, 0.0, NAN, True, False, 20.0),
        _estimate(0.3, -0.3, 0.4, NAN, False, False, 30.0),
        _estimate(0.4, 0.1, NAN, NAN, True, False, 40.0),
    ]
    text = summarise(estimates, 0.4, {"video": 3, "audio": 0})
    lines = text.splitlines()
    assert "media duration: 0.4 s" in lines
    assert "hops: 4" in lines
    assert "dropped: video 3, audio 0" in lines
    assert "face coverage: 75.0 % of hops" in lines
    assert "speech coverage: 25.0 % of hops" in lines
    assert "arousal: mean +0.100, range -0.300..+0.400" in lines
    assert "valence: mean +0.000, range -0.400..+0.400" in lines  # the NaN is left out
    assert "liking: not available" in lines
    assert "latency: median 25.0 ms, p95 38.5 ms" in lines


def test_summarise_with_nothing():
    text = summarise([], None, {})
    assert "media duration: unknown" in text and "hops: 0" in text and "dropped: none" in text
    assert "latency: n/a" in text


class _FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_replay_progress_shows_percentage_and_speed():
    stream, clock = io.StringIO(), _FakeClock()
    progress = ReplayProgress(30.0, stream, clock=clock)
    clock.now += 4.0
    progress.update(12.6)
    assert (
        stream.getvalue() == "\r[############..................]  42% 12.6/30.0 s  3.1x real time"
    )
    clock.now += 0.05
    progress.update(12.8)  # under 0.1 s of wall clock later: not redrawn
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.1
    progress.update(13.0)
    assert stream.getvalue().count("\r") == 2 and "43% 13.0/30.0 s" in stream.getvalue()
    progress.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("[" + "#" * 30 + "] 100% 30.0/30.0 s") and last.endswith("\n")
    progress.close()
    assert stream.getvalue().count("\n") == 1


@pytest.mark.parametrize("duration_s", [None, 0.0, -1.0])
def test_replay_progress_without_duration_shows_media_seconds(duration_s):
    stream, clock = io.StringIO(), _FakeClock()
    progress = ReplayProgress(duration_s, stream, clock=clock)
    clock.now += 2.0
    progress.update(12.3)
    assert stream.getvalue() == "\r12.3 s  6.2x real time"
    progress.close()
    assert "%" not in stream.getvalue() and stream.getvalue().endswith("\n")
