"""The media file of one demo recording: a still face with a slow head wobble, and speech.

The video is H.264 (yuv420p) at ``FPS`` frames per second; the audio is mono AAC at the
speech's own sample rate, in the same MP4. Both last exactly the recording's duration
(a whole number of video frames and of audio samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2  # noqa: F401  (cv2 before av: both bundle FFmpeg libraries)
import numpy as np

FPS = 25
FRAME_SIZE = (288, 384)  # width, height (px); even sizes for yuv420p
_FADE_S = 0.01  # fade in and out of each utterance (s), no clicks at the joins


def wobble(t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slow smooth head motion: (n, 4) rotation (degrees), x, y shift (px) and scale factor.

    Each component is a sum of three sinusoids of 0.08-0.4 Hz with random phases: a
    rotation within about +-2 degrees, shifts within about +-3 px, a scale within +-2 %.
    """
    amplitudes = (0.7, 1.0, 0.8, 0.006)
    columns = []
    for amplitude in amplitudes:
        f_hz = rng.uniform(0.08, 0.4, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        columns.append(amplitude * np.sin(2 * np.pi * f_hz * t_s[:, None] + phase).sum(axis=1))
    motion = np.stack(columns, axis=1)
    motion[:, 3] += 1.0
    return motion


def moved_frame(image: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """The image rotated, shifted and scaled about its centre into a FRAME_SIZE frame (RGB)."""
    angle, dx, dy, scale = motion
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), float(scale))
    matrix[0, 2] += (FRAME_SIZE[0] - w) / 2 + dx
    matrix[1, 2] += (FRAME_SIZE[1] - h) / 2 + dy
    return cv2.warpAffine(
        image, matrix, FRAME_SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def join_speech(utterances: Sequence[np.ndarray], sample_rate_hz: int) -> np.ndarray:
    """Concatenate mono utterances (float in [-1, 1]) with a 10-ms fade at every join."""
    n_fade = int(_FADE_S * sample_rate_hz)
    ramp = np.linspace(0.0, 1.0, n_fade, dtype=np.float32)
    parts = []
    for samples in utterances:
        samples = np.asarray(samples, dtype=np.float32).copy()
        samples[:n_fade] *= ramp
        samples[-n_fade:] *= ramp[::-1]
        parts.append(samples)
    return np.concatenate(parts)


def write_media(
    path: str | Path,
    images: Sequence[np.ndarray],
    image_ends_s: Sequence[float],
    speech: np.ndarray,
    sample_rate_hz: int,
    seed: int,
) -> float:
    """Write an MP4 of faces (image k shown until ``image_ends_s[k]``) over the speech.

    Parameters
    ----------
    path : str or Path
        The MP4 file to write.
    images : sequence of np.ndarray
        RGB uint8 images, one per segment.
    image_ends_s : sequence of float
        End time (s) of each image; the last one is the duration (a multiple of 1/FPS).
    speech : np.ndarray
        Mono float samples in [-1, 1], exactly ``duration * sample_rate_hz`` of them.
    sample_rate_hz : int
        Sample rate of the speech (Hz).
    seed : int
        Seed of the head motion.

    Returns
    -------
    float
        The duration (s).
    """
    import av

    duration_s = float(image_ends_s[-1])
    n_frames = int(round(duration_s * FPS))
    t_s = np.arange(n_frames) / FPS
    which = np.searchsorted(np.asarray(image_ends_s), t_s, side="right")
    motion = wobble(t_s, np.random.default_rng(seed))
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = FRAME_SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23"}
        audio = container.add_stream("aac", rate=sample_rate_hz, layout="mono")
        audio.bit_rate = 64_000
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(moved_frame(images[which[k]], motion[k]), "rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        block = 1024
        for start in range(0, len(speech), block):
            chunk = speech[None, start : start + block].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = sample_rate_hz
            frame.pts = start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return duration_s
