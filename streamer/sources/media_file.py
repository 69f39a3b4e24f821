"""Audio from a recorded file (WAV, FLAC, MP3, MP4, ... anything FFmpeg reads), via PyAV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.types import AudioBlock

# A file whose decoded audio is shorter than this fraction of its declared length is
# reported as truncated (declared lengths are rounded, so allow a little slack).
_MIN_DECODED_FRACTION = 0.98
_SLACK_S = 0.05


class MediaFileError(StreamerError):
    """A media file that is missing, empty, corrupt, truncated or has no audio."""


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
    if not path.is_file():
        raise MediaFileError(f"audio file not found: {path} (check the path)")
    if path.stat().st_size == 0:
        raise MediaFileError(f"{path} is empty (0 bytes): give a WAV or another audio/video file")
    _check_wav_length(path)
    av = _import_av()
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise MediaFileError(
            f"{path} cannot be read: it is not an audio or video file, or it is corrupt or "
            f"truncated ({_reason(exc)})"
        ) from None
    with container:
        if not container.streams.audio:
            raise MediaFileError(f"{path} has no audio track: give a file with sound")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        n_decoded = 0
        try:
            for frame in container.decode(stream):
                samples = _to_mono(frame)
                if samples.size:
                    yield AudioBlock(n_decoded / rate, samples, rate)
                    n_decoded += samples.size
        except av.error.FFmpegError as exc:
            raise MediaFileError(
                f"{path} is corrupt or truncated: decoding failed after "
                f"{n_decoded / rate:.2f} s ({_reason(exc)})"
            ) from None
        if n_decoded == 0:
            raise MediaFileError(f"{path} holds no audio samples: the file is truncated or empty")
        declared_s = _declared_duration_s(container, stream)
        decoded_s = n_decoded / rate
        if declared_s and decoded_s < _MIN_DECODED_FRACTION * declared_s - _SLACK_S:
            raise MediaFileError(
                f"{path} is truncated: it declares {declared_s:.2f} s of audio but holds "
                f"{decoded_s:.2f} s (re-export or re-download the file)"
            )


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file's audio: mono float64 samples and the sample rate in Hz."""
    blocks = list(iter_audio_blocks(path))
    return np.concatenate([b.samples for b in blocks]), blocks[0].sample_rate_hz


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
