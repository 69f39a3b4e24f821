"""Words of a recorded file: decode, resample to 16 kHz, recognise block by block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from streamer.features.lld.resample import StreamingResampler
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ, SpeechRecognizer
from streamer.sources.media_file import MediaFileError, iter_audio_blocks
from streamer.types import Word


def iter_file_words(path: str | Path, recognizer: SpeechRecognizer) -> Iterator[list[Word]]:
    """Yield the recognised words of a file's audio as utterances finish.

    If the file turns out damaged part-way, the words of the audio before the damage are
    yielded, then the :class:`MediaFileError` is raised.
    """
    resampler = None
    n_samples = 0  # 16 kHz samples pushed so far
    damage = None
    try:
        for block in iter_audio_blocks(path):
            if resampler is None:
                resampler = StreamingResampler(block.sample_rate_hz, SAMPLE_RATE_HZ)
            samples = resampler.push(block.samples)
            recognizer.push(samples, n_samples / SAMPLE_RATE_HZ)
            n_samples += samples.size
            words = recognizer.pull()
            if words:
                yield words
    except MediaFileError as exc:
        damage = exc
    if resampler is not None:
        recognizer.push(resampler.flush(), n_samples / SAMPLE_RATE_HZ)
        words = recognizer.pull() + recognizer.flush()
        if words:
            yield words
    if damage is not None:
        raise damage
