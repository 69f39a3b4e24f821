"""The streaming audio LLD extractor: samples in, the 23 eGeMAPS v01a descriptors every 10 ms out.

Stages, each fed with whatever frames are complete:

1. resample to 16 kHz (exact under any block sizes);
2. cut frame ``i`` at sample ``160 i``: 60 ms for pitch and harmonics, 20 ms for the
   spectral descriptors and formants;
3. per-frame descriptors; the pitch smoother decides F0 a fixed number of frames late,
   so the F0-dependent descriptors (harmonics, HNR, jitter, shimmer) wait for it;
4. openSMILE's 3-frame smoothing, which needs the next frame.

``push`` returns the frames finished so far, ``flush`` the rest at the end of the
stream. Pushing a signal in blocks of any size gives exactly the frames of one call.
"""

from __future__ import annotations

import numpy as np

from streamer.config import AudioConfig
from streamer.features.lld import formants, harmonics, jitter, pitch, spectral
from streamer.features.lld.framing import FRAME20, FRAME60, HOP, SAMPLE_RATE_HZ
from streamer.features.lld.pitch_viterbi import PitchSmoother
from streamer.features.lld.resample import StreamingResampler
from streamer.features.lld.smoothing import sma3
from streamer.types import FeatureFrames

# Frames are processed in batches of at least this many (100 ms), which keeps the per-call
# overhead low when audio arrives in small blocks; the values do not depend on it.
MIN_BATCH_FRAMES = 10

RAW_NAMES = (
    "Loudness", "alphaRatio", "hammarbergIndex", "slope0-500", "slope500-1500",
    "spectralFlux", "mfcc1", "mfcc2", "mfcc3", "mfcc4",
    "F0semitoneFrom27.5Hz", "jitterLocal", "shimmerLocaldB", "HNRdBACF",
    "logRelF0-H1-H2", "logRelF0-H1-A3", "F1frequency", "F1bandwidth", "F1amplitudeLogRelF0",
    "F2frequency", "F2amplitudeLogRelF0", "F3frequency", "F3amplitudeLogRelF0",
)  # fmt: skip
N_SMOOTHED_PLAIN = 10  # the first 10 are ``_sma3``; the rest ``_sma3nz`` (zeros stay zero)
LLD_NAMES = tuple(
    f"{name}_sma3" if i < N_SMOOTHED_PLAIN else f"{name}_sma3nz" for i, name in enumerate(RAW_NAMES)
)
_NO_ZERO = np.arange(len(RAW_NAMES)) >= N_SMOOTHED_PLAIN
_NO_PITCH = {"F0final": np.zeros(0), "F0semitoneFrom27.5Hz": np.zeros(0)}
_FORMANT_NAMES = ("F1frequency", "F1bandwidth", "F2frequency", "F3frequency")


class AudioLLDExtractor:
    """Compute the 23 eGeMAPS v01a LLDs from a stream of mono samples.

    Parameters
    ----------
    config : AudioConfig
        The ``audio`` section of the configuration.
    sample_rate_hz : int
        Rate of the samples that will be pushed; resampled to 16 kHz inside.
    """

    names = LLD_NAMES

    def __init__(self, config: AudioConfig, sample_rate_hz: int):
        self.config = config
        self.sample_rate_hz = int(sample_rate_hz)
        self._resampler = StreamingResampler(
            self.sample_rate_hz, SAMPLE_RATE_HZ, config.resampler_half_width
        )
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self._resampler.reset()
        self._signal = np.zeros(0)  # 16 kHz samples not yet consumed by every frame
        self._signal_start = 0  # index of _signal[0] in the whole 16 kHz stream
        self._n_framed = 0  # frames cut so far
        self._spectral_state = None
        self._jitter_state = None
        self._pitch = PitchSmoother(self.config.voicing_energy_threshold)
        self._waiting = _WaitingFrames()  # frames whose F0 is not decided yet
        self._smoother = _StreamingSma3()

    def push(self, samples: np.ndarray) -> FeatureFrames:
        """Add samples at ``sample_rate_hz``; return the LLD frames finished so far."""
        return self._process(self._resampler.push(samples), final=False)

    def flush(self) -> FeatureFrames:
        """End the stream; return the remaining frames."""
        return self._process(self._resampler.flush(), final=True)

    def _process(self, samples16: np.ndarray, final: bool) -> FeatureFrames:
        self._signal = np.concatenate([self._signal, quantise_16bit(samples16)])
        frames60, frames20 = self._cut_frames(min_frames=1 if final else MIN_BATCH_FRAMES)
        decided = (
            self._pitch.push(self._f0_independent(frames60, frames20))
            if len(frames60)
            else _NO_PITCH
        )
        if final:
            rest = self._pitch.flush()
            decided = {key: np.concatenate([decided[key], rest[key]]) for key in decided}
        raw = self._f0_dependent(decided["F0final"], decided["F0semitoneFrom27.5Hz"])
        first_index = self._smoother.n_out
        smoothed = self._smoother.push(raw, final)
        t_s = (first_index + np.arange(len(smoothed))) * (HOP / SAMPLE_RATE_HZ)
        return FeatureFrames(t_s, smoothed, LLD_NAMES)

    def _cut_frames(self, min_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Cut every frame whose 60 ms fits in the signal, once there are ``min_frames``."""
        n_total = self._signal_start + self._signal.size
        n_frames = max(0, (n_total - FRAME60) // HOP + 1)
        if n_frames - self._n_framed < min_frames:
            n_frames = self._n_framed
        starts = np.arange(self._n_framed, n_frames) * HOP - self._signal_start
        frames60 = self._signal[starts[:, None] + np.arange(FRAME60)]
        frames20 = frames60[:, :FRAME20]
        self._n_framed = n_frames
        drop = self._n_framed * HOP - self._signal_start
        self._signal = self._signal[drop:]
        self._signal_start += drop
        return frames60, frames20

    def _f0_independent(self, frames60: np.ndarray, frames20: np.ndarray) -> dict:
        """Descriptors that need no F0; hold them, return the pitch candidates."""
        spectrum20 = spectral.hamming_spectrum(frames20)
        spectral_values, self._spectral_state = spectral.spectral_descriptors(
            np.abs(spectrum20), self._spectral_state
        )
        formant_values = formants.formant_descriptors(spectrum20)
        magnitude60, rms_energy = pitch.gaussian_spectrum60(frames60)
        self._waiting.add(
            frames60=frames60,
            magnitude60=magnitude60,
            formantFreqLpc=formant_values["formantFreqLpc"],
            **spectral_values,
            **{name: formant_values[name] for name in _FORMANT_NAMES},
        )
        return pitch.shs_candidates(magnitude60, rms_energy)

    def _f0_dependent(self, f0_hz: np.ndarray, f0_semitones: np.ndarray) -> np.ndarray:
        """Raw LLD rows for the frames whose F0 has just been decided."""
        if len(f0_hz) == 0:
            return np.zeros((0, len(RAW_NAMES)))
        held = self._waiting.take(len(f0_hz))
        values = dict(held)
        values.update(
            harmonics.harmonic_descriptors(held["magnitude60"], f0_hz, held["formantFreqLpc"])
        )
        jitter_values, self._jitter_state = jitter.jitter_shimmer(
            held["frames60"], f0_hz, self._jitter_state
        )
        values.update(jitter_values)
        values["F0semitoneFrom27.5Hz"] = f0_semitones
        return np.stack([values[name] for name in RAW_NAMES], axis=1).reshape(-1, len(RAW_NAMES))


def quantise_16bit(samples: np.ndarray) -> np.ndarray:
    """Put samples on the grid openSMILE computes on: 16-bit integers read back as float32.

    openSMILE's Python front end truncates ``x * 32768`` to 16 bits and openSMILE divides
    by 32767 in single precision. Jitter and shimmer depend on those last bits. Samples
    beyond full scale are clipped (openSMILE would wrap them around).
    """
    ints = np.clip(np.trunc(samples * 32768.0), -32768.0, 32767.0)
    return (ints / 32767.0).astype(np.float32).astype(np.float64)


class _WaitingFrames:
    """Per-frame arrays held until the pitch smoother decides the frames' F0 (in frame order)."""

    def __init__(self):
        self._held: dict[str, np.ndarray] = {}

    def add(self, **arrays: np.ndarray) -> None:
        if not self._held:
            self._held = {key: np.asarray(value) for key, value in arrays.items()}
        else:
            self._held = {key: np.concatenate([self._held[key], arrays[key]]) for key in self._held}

    def take(self, n: int) -> dict[str, np.ndarray]:
        """Remove and return the first ``n`` frames of every array."""
        taken = {key: value[:n] for key, value in self._held.items()}
        self._held = {key: value[n:] for key, value in self._held.items()}
        return taken


class _StreamingSma3:
    """openSMILE's 3-frame smoothing over a stream: a frame leaves once its successor is known."""

    def __init__(self):
        self._held = np.zeros((0, len(RAW_NAMES)))  # the last two raw rows
        self.n_out = 0

    def push(self, raw: np.ndarray, final: bool) -> np.ndarray:
        rows = np.concatenate([self._held, raw])
        is_start = self.n_out == 0
        first = 0 if is_start else 1  # rows[0] is the already-emitted predecessor
        last = len(rows) if final else len(rows) - 1
        if last <= first:
            self._held = rows[-2:]
            return np.zeros((0, len(RAW_NAMES)))
        # smooth rows[first-1 : last+1] so that every emitted row sees both neighbours,
        # then keep only the rows being emitted
        lo = max(first - 1, 0)
        hi = min(last + 1, len(rows))
        smoothed = sma3(rows[lo:hi], _NO_ZERO)[first - lo : last - lo]
        self.n_out += len(smoothed)
        self._held = rows[last - 1 : last + 1] if not final else np.zeros((0, len(RAW_NAMES)))
        return smoothed
