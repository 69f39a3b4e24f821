"""Audio low-level descriptors: choose the backend, and run it over a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from streamer.config import AudioConfig
from streamer.features.lld.extractor import LLD_NAMES, AudioLLDExtractor
from streamer.sources.media_file import MediaFileError, iter_audio_blocks
from streamer.types import FeatureFrames

__all__ = ["LLD_NAMES", "create_extractor", "iter_file_llds"]

_PUSH_S = 1.0  # seconds of decoded audio handed to the extractor at a time


def create_extractor(config: AudioConfig, sample_rate_hz: int):
    """The LLD extractor named by ``config.backend``, for samples at ``sample_rate_hz``."""
    if config.backend == "opensmile":
        from streamer.features.lld.opensmile_backend import OpenSmileLLDExtractor

        return OpenSmileLLDExtractor(config, sample_rate_hz)
    return AudioLLDExtractor(config, sample_rate_hz)


def iter_file_llds(path: str | Path, config: AudioConfig) -> Iterator[FeatureFrames]:
    """Decode a file's audio block by block and yield its LLD frames as they finish.

    If the file turns out corrupt part-way, the frames of the audio decoded before the
    damage are still yielded, then the :class:`MediaFileError` is raised.
    """
    extractor = None
    pending: list[np.ndarray] = []  # decoded blocks are small; push about a second at a time
    damage = None
    try:
        for block in iter_audio_blocks(path):
            if extractor is None:
                extractor = create_extractor(config, block.sample_rate_hz)
            pending.append(block.samples)
            if sum(p.size for p in pending) >= block.sample_rate_hz * _PUSH_S:
                frames = extractor.push(np.concatenate(pending))
                pending = []
                if len(frames):
                    yield frames
    except MediaFileError as exc:
        damage = exc
    if extractor is not None:
        tail = np.concatenate(pending) if pending else np.zeros(0)
        frames = FeatureFrames.concat([extractor.push(tail), extractor.flush()], LLD_NAMES)
        if len(frames):
            yield frames
    if damage is not None:
        raise damage
