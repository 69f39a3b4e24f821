import numpy as np
import pytest

from streamer.sources.media_file import (
    MediaFileError,
    iter_audio_blocks,
    iter_video_frames,
    read_audio,
)
from tests.conftest import write_wav


def test_reads_wav_samples_and_rate(tmp_path):
    signal = 0.5 * np.sin(2 * np.pi * 300 * np.arange(22050) / 22050)
    samples, rate = read_audio(write_wav(tmp_path / "tone.wav", signal, 22050))
    assert rate == 22050
    assert samples.size == 22050
    assert np.max(np.abs(samples - signal)) < 1e-4


def test_block_times_count_samples(tmp_path):
    path = write_wav(tmp_path / "tone.wav", np.zeros(50000), 16000)
    blocks = list(iter_audio_blocks(path))
    n = 0
    for block in blocks:
        assert block.t_s == pytest.approx(n / 16000)
        n += block.samples.size
    assert n == 50000


def test_missing_file(tmp_path):
    with pytest.raises(MediaFileError, match="audio file not found: .*missing.wav"):
        read_audio(tmp_path / "missing.wav")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaFileError, match="is empty"):
        read_audio(tmp_path / "empty.wav")


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("this is a shopping list, not a recording\n" * 40)
    with pytest.raises(MediaFileError, match="not an audio or video file"):
        read_audio(tmp_path / "notes.wav")


def test_truncated_wav_data(tmp_path):
    path = write_wav(tmp_path / "tone.wav", np.zeros(16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaFileError, match="is truncated: its header declares 32000 bytes"):
        read_audio(path)


def test_truncated_wav_header(tmp_path):
    path = write_wav(tmp_path / "tone.wav", np.zeros(16000), 16000)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(MediaFileError):
        read_audio(path)


def test_video_without_audio_track(tmp_path, shared_dir):
    with pytest.raises(MediaFileError, match="has no audio track"):
        read_audio(shared_dir / "faces" / "einstein.jpg")


def test_truncated_mp4(tmp_path, shared_dir):
    data = (shared_dir / "media" / "talking_heads" / "speaker1.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaFileError):
        read_audio(tmp_path / "cut.mp4")


def test_reads_the_audio_track_of_a_video(shared_dir):
    samples, rate = read_audio(shared_dir / "media" / "talking_heads" / "speaker1.mp4")
    assert rate == 44100
    assert 5.0 < samples.size / rate < 7.0
    assert np.all(np.isfinite(samples)) and np.max(np.abs(samples)) <= 1.0


def _faststart_copy(source, target):
    """Remux a video with its index first, so that a cut-off copy still opens."""
    import av
    import cv2  # noqa: F401  (before av)

    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def test_video_cut_off_part_way_yields_what_is_there_then_fails(tmp_path, shared_dir):
    whole = tmp_path / "whole.mp4"
    _faststart_copy(shared_dir / "media" / "talking_heads" / "speaker1.mp4", whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    n_samples = 0
    with pytest.raises(MediaFileError, match="is truncated: it declares 6.1. s of audio but holds"):
        for block in iter_audio_blocks(cut):
            n_samples += block.samples.size
    assert n_samples > 44100  # the audio before the cut was delivered


def test_video_frames_of_a_cut_off_video_then_an_error(tmp_path, shared_dir):
    whole = tmp_path / "whole.mp4"
    _faststart_copy(shared_dir / "media" / "talking_heads" / "speaker1.mp4", whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    frames = []
    with pytest.raises(MediaFileError, match="truncated"):
        for frame in iter_video_frames(cut):
            frames.append(frame)
    assert len(frames) > 20
    assert frames[0].image.flags["C_CONTIGUOUS"] and frames[0].image.dtype == np.uint8


def test_video_frames_times_and_still_pictures(shared_dir):
    frames = list(iter_video_frames(shared_dir / "media" / "talking_heads" / "speaker2.mp4"))
    assert len(frames) == 125
    assert [f.index for f in frames] == list(range(125))
    assert np.allclose(np.diff([f.t_s for f in frames]), 0.04)
    assert frames[0].image.shape == (844, 844, 3)
    still = list(iter_video_frames(shared_dir / "faces" / "einstein.jpg"))
    assert len(still) == 1 and still[0].t_s == 0.0 and still[0].image.shape == (1024, 817, 3)
    every_other = list(
        iter_video_frames(shared_dir / "media" / "talking_heads" / "speaker2.mp4", fps=12.5)
    )
    assert [round(f.t_s, 2) for f in every_other[:3]] == [0.0, 0.08, 0.16]


def test_media_file_source_gives_frames_and_audio_and_stops(shared_dir):
    from streamer.sources.media_file import MediaFileSource

    with MediaFileSource(shared_dir / "media" / "talking_heads" / "speaker2.mp4") as source:
        first = [frame for _, frame in zip(range(5), source, strict=False)]
        source.stop()
        audio = sum(block.samples.size for block in source.audio_blocks())
    assert [f.index for f in first] == list(range(5))
    assert audio / 44100 > 4.9
    with pytest.raises(MediaFileError, match="video file not found"):
        MediaFileSource(shared_dir / "nothing.mp4")
