"""Writing MP4 files (H.264 yuv420p video, mono AAC audio) with PyAV: soak and test media."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from streamer.features.lld.resample import StreamingResampler
from streamer.sources.media_file import iter_video_frames, probe_media, read_audio

_AUDIO_FRAME = 1024  # samples per AAC frame


def _import_av():
    import cv2  # noqa: F401  (cv2 before av: both bundle FFmpeg libraries)

    return importlib.import_module("av")


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB image scaled to fit ``size`` (width, height; px), centred between black bars."""
    import cv2

    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    return out


def _add_streams(container, size: tuple[int, int], fps: int, rate: int):
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height = size
    video.pix_fmt = "yuv420p"
    video.options = {"preset": "veryfast", "crf": "23"}
    audio = container.add_stream("aac", rate=rate, layout="mono")
    audio.bit_rate = 64_000
    return video, audio


class _AudioWriter:
    """Encodes mono float samples into an AAC stream, 1024 samples a frame."""

    def __init__(self, container, stream, rate: int):
        self.container, self.stream, self.rate = container, stream, rate
        self.pending = np.zeros(0, dtype=np.float32)
        self.n_sent = self.n_given = 0  # samples encoded; given (encoded or pending)

    def write(self, samples: np.ndarray, final: bool = False) -> None:
        av = _import_av()
        self.pending = np.concatenate([self.pending, np.asarray(samples, dtype=np.float32)])
        self.n_given += len(samples)
        while len(self.pending) >= _AUDIO_FRAME or (final and len(self.pending)):
            chunk, self.pending = self.pending[:_AUDIO_FRAME], self.pending[_AUDIO_FRAME:]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = self.rate, self.n_sent
            self.container.mux(self.stream.encode(frame))
            self.n_sent += len(chunk)
        if final:
            self.container.mux(self.stream.encode(None))

    def write_repeated(self, signal: np.ndarray, end: int) -> None:
        """Give ``signal``, repeated endlessly, from where the stream stands up to sample ``end``."""
        if end > self.n_given and len(signal):
            self.write(signal.take(np.arange(self.n_given, end), mode="wrap"))


def write_video(
    path: str | Path,
    frames_rgb: Iterable[np.ndarray],
    fps: int = 25,
    audio: np.ndarray | None = None,
    rate: int = 16000,
) -> int:
    """Write RGB frames at ``fps`` frames/s and mono audio as an MP4; return the frame count.

    ``frames_rgb`` are (height, width, 3) uint8 images of one size (width and height
    even, px); ``audio`` mono floats in [-1, 1] at ``rate`` Hz (default silence), cut or
    padded with silence to the video's length.
    """
    av = _import_av()
    audio = np.zeros(0) if audio is None else np.asarray(audio)
    with av.open(str(path), "w") as container:
        for k, image in enumerate(frames_rgb):
            if k == 0:
                video, sound = _add_streams(container, (image.shape[1], image.shape[0]), fps, rate)
                writer = _AudioWriter(container, sound, rate)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), "rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
            writer.write(audio[writer.n_given : (k + 1) * rate // fps])  # interleaved
        container.mux(video.encode(None))
        n_samples = (k + 1) * rate // fps
        writer.write(audio[writer.n_given : n_samples])
        writer.write(np.zeros(max(n_samples - writer.n_given, 0)), final=True)
    return k + 1


def _retimed(path: Path, fps: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A video's frames at ``fps`` (at each tick the latest frame shown), letterboxed."""
    shown, n_out, t_s, step_s = None, 0, 0.0, 1.0 / fps
    for frame in iter_video_frames(path):
        while shown is not None and n_out / fps < frame.t_s - 1e-6:
            yield shown
            n_out += 1
        shown, t_s, step_s = letterbox(frame.image, size), frame.t_s, frame.t_s - t_s or step_s
    while shown is not None and (n_out == 0 or n_out < round((t_s + step_s) * fps)):
        yield shown  # the last frame lasts as long as the one before it
        n_out += 1


def _part_audio(path: Path, rate: int, n_samples: int) -> np.ndarray:
    """A file's audio (mono) at ``rate`` Hz, cut or padded with silence to ``n_samples``."""
    out = np.zeros(n_samples, dtype=np.float32)
    if probe_media(path)[1]:
        samples, own_rate = read_audio(path)
        if own_rate != rate:
            resampler = StreamingResampler(own_rate, rate)
            chunks = [resampler.push(samples[i : i + 65536]) for i in range(0, len(samples), 65536)]
            samples = np.concatenate([*chunks, resampler.flush()])  # (pieces: little memory)
        out[: min(n_samples, len(samples))] = samples[:n_samples]
    return out


def _record(packet) -> tuple:
    """What it takes to mux an encoded packet again: data, times, key flag, time base."""
    return bytes(packet), packet.pts, packet.dts, packet.is_keyframe, packet.time_base


def join_videos(
    paths: Sequence[str | Path],
    out_path: str | Path,
    repeat: int = 1,
    size: tuple[int, int] | None = None,
    fps: int = 25,
    rate: int | None = None,
) -> float:
    """Write videos one after another, the sequence ``repeat`` times over, as one MP4 of
    ``repeat * sum(part durations)`` seconds (returned).

    Frames are retimed to ``fps`` and letterboxed to ``size``; each part's audio (mono, at
    ``rate``) is cut or padded to the part's video length, so sound and picture stay in
    sync. One pass is encoded and its video packets are copied for the repetitions (it
    starts with a key frame): a long soak file takes little longer to write than one pass.

    Parameters
    ----------
    paths, out_path : sequence of str or Path, str or Path
        Video files (one without sound gives silence); the MP4 to write.
    repeat : int
        Times the whole sequence is written.
    size : (int, int), optional
        Frame width and height (px; rounded down to even); default the first video's.
    fps : int
        Frames per second of the output.
    rate : int, optional
        Audio sample rate (Hz); default the first video's (16 kHz when it has no sound).
    """
    av = _import_av()
    paths = [Path(p) for p in paths]
    if size is None:
        first = next(iter_video_frames(paths[0])).image
        size = (first.shape[1], first.shape[0])
    size = (size[0] // 2 * 2, size[1] // 2 * 2)
    if rate is None:
        rate = read_audio(paths[0])[1] if probe_media(paths[0])[1] else 16000
    with av.open(str(out_path), "w") as container:
        video, sound = _add_streams(container, size, fps, rate)
        packets, parts_audio, n_frames = [], [], 0
        for path in paths:  # encode one pass, keeping its packets
            start = n_frames
            for image in _retimed(path, fps, size):
                frame = av.VideoFrame.from_ndarray(image, "rgb24")
                frame.pts = n_frames
                packets += [_record(p) for p in video.encode(frame)]
                n_frames += 1
            parts_audio.append(_part_audio(path, rate, round((n_frames - start) * rate / fps)))
        packets += [_record(p) for p in video.encode(None)]
        pass_audio = np.concatenate(parts_audio)
        writer = _AudioWriter(container, sound, rate)
        for r in range(repeat):
            for data, pts, dts, key, time_base in packets:
                packet = av.Packet(data)
                packet.stream, packet.time_base, packet.is_keyframe = video, time_base, key
                packet.pts, packet.dts = pts + r * n_frames, dts + r * n_frames
                container.mux(packet)  # (rescales the packet's times to the stream's)
                frame_end_s = (dts + r * n_frames + 1) * time_base  # audio up to here
                writer.write_repeated(pass_audio, int(frame_end_s * rate))
        writer.write_repeated(pass_audio, repeat * len(pass_audio))
        writer.write(np.zeros(0), final=True)
    return repeat * n_frames / fps
