"""Speed of the numpy LLD extractor against openSMILE on the same 60 s of speech, in one run.

Usage: python benchmarks/bench_audio_lld.py [AUDIO]   (default: ../shared/media/speech/english_60s.wav)

Prints the real-time factor (processing time / audio duration) of each, best of 5 runs,
and their ratio. Both receive the same 16 kHz samples already in memory; file decoding
is not timed. Then the numpy extractor again with the audio pushed in small blocks, as a
live microphone delivers it (one run per block size).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from streamer.config import load_config
from streamer.errors import StreamerError
from streamer.features.lld.extractor import SAMPLE_RATE_HZ, AudioLLDExtractor
from streamer.features.lld.opensmile_backend import OpenSmileLLDExtractor
from streamer.features.lld.resample import StreamingResampler
from streamer.sources.media_file import read_audio

DEFAULT_AUDIO = Path(__file__).resolve().parents[1].parent / "shared/media/speech/english_60s.wav"


def best_time_s(run, repeats: int = 5) -> float:
    """The shortest wall-clock time of ``repeats`` calls of ``run``, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_AUDIO
    samples, rate = read_audio(path)
    resampler = StreamingResampler(rate, SAMPLE_RATE_HZ)
    signal = np.concatenate([resampler.push(samples), resampler.flush()])
    duration_s = signal.size / SAMPLE_RATE_HZ
    config = load_config().audio

    def ours() -> None:
        extractor = AudioLLDExtractor(config, SAMPLE_RATE_HZ)
        extractor.push(signal)
        extractor.flush()

    ours_s = best_time_s(ours)
    print(f"audio: {path.name}, {duration_s:.1f} s at 16 kHz")
    print(f"numpy extractor : {ours_s:.3f} s, real-time factor {ours_s / duration_s:.4f}")
    for block in (160, 1600, 16000):

        def in_blocks(block=block) -> None:
            extractor = AudioLLDExtractor(config, SAMPLE_RATE_HZ)
            for start in range(0, signal.size, block):
                extractor.push(signal[start : start + block])
            extractor.flush()

        block_s = best_time_s(in_blocks, repeats=1)
        print(
            f"  in blocks of {block / 16:.0f} ms: {block_s:.3f} s, "
            f"real-time factor {block_s / duration_s:.4f}"
        )
    try:
        reference = OpenSmileLLDExtractor(config, SAMPLE_RATE_HZ)
    except StreamerError as exc:
        print(f"openSMILE       : {exc}")
        return

    def opensmile_run() -> None:
        reference.push(signal)
        reference.flush()

    smile_s = best_time_s(opensmile_run)
    print(f"openSMILE       : {smile_s:.3f} s, real-time factor {smile_s / duration_s:.4f}")
    print(f"ratio numpy / openSMILE: {ours_s / smile_s:.2f}x")


if __name__ == "__main__":
    main()
