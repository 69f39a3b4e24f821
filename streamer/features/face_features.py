"""Per-frame face features as rows: ``face;pitch;yaw;roll;eye0_x;...;lm48_y`` (+ blendshapes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from streamer.config import FaceConfig
from streamer.features.face.tracker import (
    BLENDSHAPE_NAMES,
    N_EYE_POINTS,
    N_LANDMARKS,
    FaceObservation,
    FaceTracker,
)
from streamer.sources.media_file import MediaFileSource
from streamer.types import FeatureFrames


def face_column_names(blendshapes: bool) -> tuple[str, ...]:
    """CSV columns of :func:`observation_row`, after ``name;frameTime``."""
    names = ["face", "pitch", "yaw", "roll"]
    names += [f"eye{i}_{axis}" for i in range(N_EYE_POINTS) for axis in "xy"]
    names += [f"lm{i}_{axis}" for i in range(N_LANDMARKS) for axis in "xy"]
    if blendshapes:
        names += list(BLENDSHAPE_NAMES)
    return tuple(names)


def observation_row(observation: FaceObservation) -> np.ndarray:
    """One frame's features in the order of :func:`face_column_names`."""
    parts = [
        [float(observation.face)],
        observation.pose_deg,
        observation.eyes.ravel(),
        observation.landmarks.ravel(),
    ]
    if observation.blendshapes is not None:
        parts.append(observation.blendshapes)
    return np.concatenate(parts)


def iter_file_face_frames(
    path: str | Path, config: FaceConfig, fps: float | None = None
) -> Iterator[FeatureFrames]:
    """Track the face through a video (or a still picture); one FeatureFrames per frame."""
    names = face_column_names(config.blendshapes)
    with MediaFileSource(path, fps) as source, FaceTracker(config) as tracker:
        for frame in source:
            observation = tracker.process(frame)
            yield FeatureFrames(np.array([frame.t_s]), observation_row(observation)[None, :], names)
