"""Audio and pictures from a recorded file (WAV, MP3, MP4, JPEG, ... anything FFmpeg reads), via PyAV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.types import AudioBlock, VideoFrame

# A file whose decoded audio is shorter than this fraction of its declared length is
# reported as truncated (declared lengths are rounded, so allow a little slack).
_MIN_DECODED_FRACTION = 0.98
_SLACK_S = 0.05


class MediaFileError(StreamerError):
    """A media file that is missing, empty, corrupt, truncated or has no audio."""


MAX_PICTURE_PIXELS = 50_000_000  # 150 MB of RGB per picture; larger is a mistake or an attack


def _import_av():
    """Import PyAV, after OpenCV (the other order makes ``cv2.imshow`` hang)."""
    import av
    import cv2  # noqa: F401

    return av


def iter_audio_blocks(path: str | Path) -> Iterator[AudioBlock]:
    """Decode a file's first audio track into mono float64 blocks at its own sample rate.

    Parameters
    ----------
    path : str or Path
        An audio or video file.

    Yields
    ------
    AudioBlock
        Consecutive blocks (as FFmpeg decodes them, typically 1024-4096 samples), with
        ``t_s`` counted from the first sample.

    Raises
    ------
    MediaFileError
        For a missing, empty, unreadable or audio-less file, and (after yielding what
        could be decoded) for a file that is truncated or corrupt part-way.
    """
    path = Path(path)
    _check_wav_length(_existing_file(path, "audio"))
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaFileError(f"{path} has no audio track: give a file with sound")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        n_decoded = 0
        for frame in _decode(container, stream, path):
            samples = _to_mono(frame)
            if samples.size:
                yield AudioBlock(n_decoded / rate, samples, rate)
                n_decoded += samples.size
        if n_decoded == 0:
            raise MediaFileError(f"{path} holds no audio samples: the file is truncated or empty")
        _check_complete(path, "audio", _declared_duration_s(container, stream), n_decoded / rate)


def iter_video_frames(path: str | Path, fps: float | None = None) -> Iterator[VideoFrame]:
    """Decode a file's first video track (or a still picture) into RGB frames.

    Parameters
    ----------
    path : str or Path
        A video file, or a picture (JPEG, PNG, PPM, ...), which gives one frame at 0 s.
    fps : float, optional
        Keep at most this many frames per second (by presentation time: a frame is kept
        when at least ``1 / fps`` s have passed since the last kept one); all frames if None.

    Yields
    ------
    VideoFrame
        ``t_s`` is the frame's presentation time in seconds from the first frame;
        ``index`` counts the frames kept.

    Raises
    ------
    MediaFileError
        For a missing, empty, unreadable or picture-less file, and (after yielding what
        could be decoded) for a file that is truncated or corrupt part-way.
    """
    path = Path(path)
    _existing_file(path, "video")
    with _open(path) as container:
        if not container.streams.video:
            raise MediaFileError(f"{path} has no video track: give a video or a picture")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > MAX_PICTURE_PIXELS:
            raise MediaFileError(
                f"{path} has {width}x{height} pictures ({width * height / 1e6:.0f} megapixels), "
                f"more than streamer decodes ({MAX_PICTURE_PIXELS / 1e6:.0f}): scale it down"
            )
        stream.thread_type = "AUTO"
        first_s = next_s = None
        last_s = 0.0
        index = 0
        for frame in _decode(container, stream, path):
            time_s = (
                float(frame.time)
                if frame.time is not None
                else index / float(stream.average_rate or 25)
            )
            first_s = time_s if first_s is None else first_s
            last_s = time_s - first_s
            if fps is not None and next_s is not None and last_s < next_s - 1e-6:
                continue
            next_s = last_s + 1.0 / fps if fps else None
            image = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
            yield VideoFrame(last_s, image, index)
            index += 1
        if first_s is None:
            raise MediaFileError(f"{path} holds no pictures: the file is truncated or empty")
        frame_s = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
        _check_complete(path, "video", _declared_duration_s(container, stream), last_s + frame_s)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file's audio: mono float64 samples and the sample rate in Hz."""
    blocks = list(iter_audio_blocks(path))
    return np.concatenate([b.samples for b in blocks]), blocks[0].sample_rate_hz


def probe_media(path: str | Path) -> tuple[bool, bool, float | None]:
    """Whether a file has pictures and sound, and its declared duration in seconds (or None).

    Raises
    ------
    MediaFileError
        If the file is missing, empty, or not an audio or video file.
    """
    path = _existing_file(Path(path), "media")
    container = _open(path)
    try:
        has_video = bool(container.streams.video)
        has_audio = bool(container.streams.audio)
        duration_s = container.duration / 1e6 if container.duration else None
    finally:
        container.close()
    if not has_video and not has_audio:
        raise MediaFileError(f"{path} holds neither pictures nor sound: give a video or audio file")
    return has_video, has_audio, duration_s


def _existing_file(path: Path, kind: str) -> Path:
    a_kind = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} file"
    if not path.exists():
        raise MediaFileError(f"{kind} file not found: {path} (check the path)")
    if path.is_dir():
        raise MediaFileError(f"{path} is a folder, not {a_kind}: give a file in it")
    if not path.is_file():
        raise MediaFileError(
            f"{path} is not a regular file (a named pipe or a device): give {a_kind}"
        )
    if path.stat().st_size == 0:
        raise MediaFileError(f"{path} is empty (0 bytes): give a file with {kind}")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise MediaFileError(
            f"{path} cannot be read ({exc.strerror}): check its permissions"
        ) from None
    return path


def _open(path: Path):
    """Open a media file with PyAV, turning FFmpeg's refusal into a one-line error."""
    av = _import_av()
    try:
        return av.open(str(path))
    except av.error.FFmpegError as exc:
        raise MediaFileError(
            f"{path} cannot be read: it is not an audio or video file, or it is corrupt or "
            f"truncated ({_reason(exc)})"
        ) from None


def _decode(container, stream, path: Path) -> Iterator:
    """Decode one stream; a decoding failure part-way becomes a MediaFileError."""
    av = _import_av()
    reached_s = 0.0
    try:
        for frame in container.decode(stream):
            reached_s = float(frame.time) if frame.time is not None else reached_s
            yield frame
    except av.error.FFmpegError as exc:
        raise MediaFileError(
            f"{path} is corrupt or truncated: decoding failed after {reached_s:.2f} s "
            f"({_reason(exc)})"
        ) from None


def _check_complete(path: Path, kind: str, declared_s: float | None, decoded_s: float) -> None:
    """Refuse a file whose decoded stream is clearly shorter than its header declares."""
    if declared_s and decoded_s < _MIN_DECODED_FRACTION * declared_s - _SLACK_S:
        raise MediaFileError(
            f"{path} is truncated: it declares {declared_s:.2f} s of {kind} but holds "
            f"{decoded_s:.2f} s (re-export or re-download the file)"
        )


def _to_mono(frame) -> np.ndarray:
    """Average the channels of a decoded PyAV audio frame into float64 in [-1, 1]."""
    data = frame.to_ndarray()
    n_channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, n_channels).T
    if data.dtype.kind == "i":
        data = data / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "u":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        data = (data - half) / half
    return np.asarray(data, dtype=np.float64).mean(axis=0)


def _check_wav_length(path: Path) -> None:
    """Refuse a RIFF/WAVE file whose data chunk is shorter than its header declares.

    FFmpeg silently decodes such a file up to where it was cut.
    """
    with path.open("rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        while True:
            chunk = file.read(8)
            if len(chunk) < 8:
                return
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                available = path.stat().st_size - file.tell()
                if 0 < size < 0xFFFFFFFF and available < size:
                    raise MediaFileError(
                        f"{path} is truncated: its header declares {size} bytes of audio but "
                        f"only {available} are there (re-export or re-record the file)"
                    )
                return
            file.seek(size + (size & 1), 1)


def _declared_duration_s(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).splitlines()[0]


class MediaFileSource:
    """A recorded file as a frame source: the counterpart of the live ``CameraSource``.

    Iterating gives the file's pictures as :class:`VideoFrame` (presentation times from
    the file); :meth:`audio_blocks` gives its sound. Both are decoded as they are read.

    Parameters
    ----------
    path : str or Path
        A video file or a picture (checked to exist here, so errors come early).
    fps : float, optional
        Keep at most this many frames per second.
    """

    n_dropped = 0  # a file is read at the consumer's pace: no frame is ever dropped

    def __init__(self, path: str | Path, fps: float | None = None):
        self.path = _existing_file(Path(path), "video")
        self.fps = fps
        self._frames: Iterator[VideoFrame] | None = None

    def __iter__(self) -> Iterator[VideoFrame]:
        self._frames = iter_video_frames(self.path, self.fps)
        return self._frames

    def audio_blocks(self) -> Iterator[AudioBlock]:
        """The file's first audio track, as :func:`iter_audio_blocks` gives it."""
        return iter_audio_blocks(self.path)

    def stop(self) -> None:
        """Stop decoding pictures and close the file (a running iteration ends)."""
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def __enter__(self) -> MediaFileSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
