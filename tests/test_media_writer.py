import cv2  # noqa: F401  (cv2 before av)
import numpy as np
import pytest

from streamer.sources.media_file import iter_video_frames, read_audio
from streamer.sources.media_writer import join_videos, letterbox, write_video


def _tone(duration_s, rate, f_hz, amplitude):
    t = np.arange(int(round(duration_s * rate))) / rate
    return amplitude * np.sin(2 * np.pi * f_hz * t)


def _write(path, size, fps, n_frames, colour, audio, rate, layout):
    """A tiny MP4 written with PyAV directly: a plain colour and a tone (any channel layout)."""
    import av  # after cv2 (imported at the top): both bundle FFmpeg libraries

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=rate, layout=layout)
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:] = colour
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(image, "rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        n_channels = 2 if layout == "stereo" else 1
        for start in range(0, len(audio), 1024):
            chunk = np.repeat(audio[None, start : start + 1024], n_channels, axis=0)
            frame = av.AudioFrame.from_ndarray(chunk.astype(np.float32), "fltp", layout)
            frame.sample_rate, frame.pts = rate, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))


def _rms(samples, rate, start_s, end_s):
    return float(np.sqrt(np.mean(samples[int(start_s * rate) : int(end_s * rate)] ** 2)))


@pytest.fixture
def two_videos(tmp_path):
    # part 1: 1.0 s at 25 frames/s, red, 0.6 s of tone (padded with silence to 1.0 s)
    first = tmp_path / "first.mp4"
    _write(first, (64, 48), 25, 25, (200, 30, 30), _tone(0.6, 16000, 440, 0.5), 16000, "mono")
    # part 2: 0.8 s at 20 frames/s, taller, blue, 1.5 s of stereo tone at 22.05 kHz (cut)
    second = tmp_path / "second.mp4"
    _write(second, (48, 64), 20, 16, (30, 30, 200), _tone(1.5, 22050, 300, 0.3), 22050, "stereo")
    return first, second


def test_join_videos_repeats_parts_in_sync(tmp_path, two_videos):
    out = tmp_path / "joined.mp4"
    duration_s = join_videos(two_videos, out, repeat=2, size=(64, 48), fps=25, rate=16000)
    assert duration_s == pytest.approx(2 * (1.0 + 0.8))

    frames = list(iter_video_frames(out))
    assert len(frames) == 2 * (25 + 20)
    assert frames[-1].t_s == pytest.approx(3.6 - 0.04, abs=1e-6)
    assert {f.image.shape for f in frames} == {(48, 64, 3)}
    means = np.array([f.image[20:28, 28:36].reshape(-1, 3).mean(axis=0) for f in frames])
    assert means[10, 0] > 150 and means[10, 2] < 80  # part 1: red
    assert means[35, 2] > 150 and means[35, 0] < 80  # part 2: blue
    assert np.abs(means[:45] - means[45:]).max() < 10  # the second pass repeats the first
    assert frames[35].image[:, :4].max() < 20  # letterboxed: black bars left and right

    samples, rate = read_audio(out)
    assert rate == 16000
    assert len(samples) / rate == pytest.approx(3.6, abs=0.07)
    for offset in (0.0, 1.8):  # each pass: tone, silence (padding), the second tone (cut)
        assert _rms(samples, rate, offset + 0.1, offset + 0.5) == pytest.approx(
            0.5 / 2**0.5, rel=0.1
        )
        assert _rms(samples, rate, offset + 0.7, offset + 0.95) < 0.01
        assert _rms(samples, rate, offset + 1.1, offset + 1.75) == pytest.approx(
            0.3 / 2**0.5, rel=0.1
        )


def test_write_video_pads_audio_to_the_video(tmp_path):
    images = [np.full((32, 48, 3), k * 20, np.uint8) for k in range(10)]
    path = tmp_path / "small.mp4"
    assert write_video(path, images, fps=10, audio=_tone(0.5, 8000, 200, 0.4), rate=8000) == 10
    assert len(list(iter_video_frames(path))) == 10
    samples, rate = read_audio(path)
    assert rate == 8000 and len(samples) / rate == pytest.approx(1.0, abs=0.13)
    assert _rms(samples, rate, 0.1, 0.4) > 0.2 and _rms(samples, rate, 0.6, 0.9) < 0.01


def test_letterbox_keeps_the_aspect_ratio():
    image = np.full((10, 40, 3), 255, np.uint8)
    boxed = letterbox(image, (20, 20))
    assert boxed.shape == (20, 20, 3)
    assert boxed[:7].max() == 0 and boxed[13:].max() == 0 and boxed[8:12].min() == 255
