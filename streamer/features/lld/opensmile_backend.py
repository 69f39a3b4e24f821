"""openSMILE's own eGeMAPS v01a LLDs behind the extractor interface (``audio.backend: opensmile``).

Needs the optional ``opensmile`` package (``pip install streamer[opensmile]``), whose
licence allows research and personal use only. The audio is resampled to 16 kHz with
the same resampler as the numpy backend, so both see the same samples. openSMILE has no
block-wise interface in Python: this backend holds the audio and computes every frame
when the stream is flushed, so it suits files, not a live session.
"""

from __future__ import annotations

import warnings

import numpy as np

from streamer.config import AudioConfig
from streamer.errors import StreamerError
from streamer.features.lld.extractor import LLD_NAMES, SAMPLE_RATE_HZ
from streamer.features.lld.resample import StreamingResampler
from streamer.types import FeatureFrames


class OpenSmileLLDExtractor:
    """The reference LLDs from openSMILE, computed at ``flush``.

    Parameters
    ----------
    config : AudioConfig
        The ``audio`` section of the configuration.
    sample_rate_hz : int
        Rate of the samples that will be pushed.
    """

    names = LLD_NAMES

    def __init__(self, config: AudioConfig, sample_rate_hz: int):
        try:
            import opensmile
        except ImportError:
            raise StreamerError(
                "audio.backend is 'opensmile' but the opensmile package is not installed: "
                "pip install 'streamer[opensmile]' (research use only) or set audio.backend=numpy"
            ) from None
        with warnings.catch_warnings():  # it advises eGeMAPS v02; v01a is the paper's set
            warnings.filterwarnings("ignore", message="Feature set .* is deprecated")
            self._smile = opensmile.Smile(
                feature_set=opensmile.FeatureSet.eGeMAPSv01a,
                feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
            )
        self._resampler = StreamingResampler(
            sample_rate_hz, SAMPLE_RATE_HZ, config.resampler_half_width
        )
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self._resampler.reset()
        self._parts: list[np.ndarray] = []

    def push(self, samples: np.ndarray) -> FeatureFrames:
        """Hold the samples; openSMILE computes nothing until ``flush``."""
        self._parts.append(self._resampler.push(samples))
        return FeatureFrames.empty(LLD_NAMES)

    def flush(self) -> FeatureFrames:
        """Run openSMILE over the whole stream and return every frame."""
        self._parts.append(self._resampler.flush())
        signal = np.concatenate(self._parts).astype(np.float32)
        self._parts = []
        if signal.size < SAMPLE_RATE_HZ // 10:
            return FeatureFrames.empty(LLD_NAMES)
        table = self._smile.process_signal(signal, SAMPLE_RATE_HZ)
        t_s = table.index.get_level_values("start").total_seconds().to_numpy()
        return FeatureFrames(t_s, table[list(LLD_NAMES)].to_numpy(np.float64), LLD_NAMES)
