"""Word error rate, speed and sample output of each available speech backend.

Prints, for every backend that can start here: the WER on ``media/speech/jfk.flac`` (with
substitution, deletion and insertion counts and the hypothesis), the real-time factor on
``media/speech/english_60s.wav`` (processing time / audio duration, pushing 0.1 s blocks)
and the words recognised in each ``media/talking_heads/*.mp4``.

Then the WER on the RAVDESS utterances (two known sentences in 8 emotions), pooled and per
emotion.

Run: ``python -m benchmarks.speech_wer [--shared ../shared] [--defaults] [--ravdess-every N]
[--only NAME]`` (``--only whisper``: the backends whose label contains NAME).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.features.lld.resample import StreamingResampler
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ
from streamer.sources.media_file import read_audio
from streamer.types import Word

RAVDESS_SENTENCES = {"01": "kids are talking by the door", "02": "dogs are sitting by the door"}
RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}  # fmt: skip
JFK_REFERENCE = (
    "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country"
)
BLOCK_S = 0.1


@dataclass(frozen=True)
class WordErrors:
    """Word-level edit counts between a reference and a hypothesis."""

    substitutions: int
    deletions: int
    insertions: int
    n_reference: int

    @property
    def wer(self) -> float:
        """(S + D + I) / N, as a fraction (may exceed 1)."""
        errors = self.substitutions + self.deletions + self.insertions
        return errors / max(self.n_reference, 1)


def normalise(text: str) -> list[str]:
    """Lower-case word tokens (runs of letters, digits, underscores and apostrophes)."""
    return re.findall(r"[\w']+", text.lower())


def word_errors(reference: list[str], hypothesis: list[str]) -> WordErrors:
    """Levenshtein alignment of two word lists; ties prefer substitutions.

    Parameters
    ----------
    reference, hypothesis : list of str
        Word tokens.
    """
    # row[j] = (errors, S, D, I) aligning reference[:i] with hypothesis[:j]
    row = [(j, 0, 0, j) for j in range(len(hypothesis) + 1)]
    for i, ref_word in enumerate(reference, start=1):
        new = [(i, 0, i, 0)]
        for j, hyp_word in enumerate(hypothesis, start=1):
            e, s, d, n = row[j - 1]
            match = (e, s, d, n) if ref_word == hyp_word else (e + 1, s + 1, d, n)
            e, s, d, n = row[j]
            delete = (e + 1, s, d + 1, n)
            e, s, d, n = new[j - 1]
            insert = (e + 1, s, d, n + 1)
            new.append(min(match, delete, insert, key=lambda c: (c[0], -c[1])))
        row = new
    _, s, d, n = row[-1]
    return WordErrors(s, d, n, len(reference))


def load_16k(path: Path) -> np.ndarray:
    """A file's audio as 16 kHz mono float samples."""
    samples, rate = read_audio(path)
    if rate == SAMPLE_RATE_HZ:
        return samples
    resampler = StreamingResampler(rate, SAMPLE_RATE_HZ)
    return np.concatenate([resampler.push(samples), resampler.flush()])


def recognise(recognizer, samples: np.ndarray, block_s: float = BLOCK_S) -> list[Word]:
    """Push ``samples`` in blocks of ``block_s`` seconds from t = 0 and return all words."""
    recognizer.reset()
    block = max(1, int(round(block_s * SAMPLE_RATE_HZ)))
    words: list[Word] = []
    for start in range(0, samples.size, block):
        recognizer.push(samples[start : start + block], start / SAMPLE_RATE_HZ)
        words += recognizer.pull()
    return words + recognizer.flush()


def text_of(words: list[Word]) -> str:
    """The words joined by spaces."""
    return " ".join(w.text for w in words)


def backends(defaults: bool) -> list:
    """Every backend that can start here (whisper; pocketsphinx with default or tuned
    settings; vosk with ``$VOSK_MODEL_PATH``)."""
    found = []
    try:
        from streamer.config import load_config
        from streamer.features.speech.backends import create_recognizer

        whisper = dataclasses.replace(load_config().speech, backend="whisper")
        found.append(("whisper", create_recognizer(whisper)))
    except StreamerError as exc:
        print(f"whisper: unavailable ({exc})")
    try:
        from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

        plain = PocketsphinxRecognizer(decoder_settings={}, pad_s=0.0)
        found.append(("pocketsphinx defaults (decoder defaults, no padding)", plain))
        if not defaults:
            found.append(("pocketsphinx tuned", PocketsphinxRecognizer()))
    except StreamerError as exc:
        print(f"pocketsphinx: unavailable ({exc})")
    model = os.environ.get("VOSK_MODEL_PATH", "")
    if model:
        try:
            from streamer.features.speech.vosk_backend import VoskRecognizer

            found.append((f"vosk {model}", VoskRecognizer(model)))
        except StreamerError as exc:
            print(f"vosk: unavailable ({exc})")
    else:
        print("vosk: skipped (set VOSK_MODEL_PATH to a vosk model folder)")
    return found


def ravdess_wer(recognizer, folder: Path, every: int = 1) -> dict[str, WordErrors]:
    """Word errors on RAVDESS utterances (every ``every``-th file), pooled and per emotion.

    Each utterance is recognised on its own (a fresh stream) against its known sentence.
    """
    totals: dict[str, list[int]] = {}
    for path in sorted(folder.glob("*.flac"))[::every]:
        fields = path.stem.split("-")  # 03-01-EE-II-SS-RR-AA
        emotion, sentence = RAVDESS_EMOTIONS[fields[2]], RAVDESS_SENTENCES[fields[4]]
        errors = word_errors(
            normalise(sentence), normalise(text_of(recognise(recognizer, load_16k(path))))
        )
        for key in ("all", emotion):
            counts = totals.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate(
                (errors.substitutions, errors.deletions, errors.insertions, errors.n_reference)
            ):
                counts[i] += value
    return {key: WordErrors(*counts) for key, counts in totals.items()}


def main() -> None:
    """Print WER, RTF and talking-head words for each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_shared = Path(__file__).resolve().parents[2] / "shared"
    parser.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("STREAMER_SHARED", default_shared))
    )
    parser.add_argument("--defaults", action="store_true", help="only the default settings")
    parser.add_argument(
        "--ravdess-every", type=int, default=1, metavar="N",
        help="RAVDESS: every N-th of the 1200 utterances (default 1: all); 0 skips it",
    )  # fmt: skip
    parser.add_argument("--only", default="", help="only backends whose label contains this")
    args = parser.parse_args()
    jfk = load_16k(args.shared / "media/speech/jfk.flac")
    long_audio = load_16k(args.shared / "media/speech/english_60s.wav")
    heads = {p.stem: load_16k(p) for p in sorted(args.shared.glob("media/talking_heads/*.mp4"))}
    reference = normalise(JFK_REFERENCE)
    for label, recognizer in backends(args.defaults):
        if args.only not in label:
            continue
        print(f"== {label}: {recognizer.name}")
        hypothesis = text_of(recognise(recognizer, jfk))
        errors = word_errors(reference, normalise(hypothesis))
        print(
            f"jfk WER {100 * errors.wer:.1f} % (S {errors.substitutions}, "
            f"D {errors.deletions}, I {errors.insertions}, N {errors.n_reference})"
        )
        print(f"  hyp: {hypothesis}")
        started = time.perf_counter()
        words = recognise(recognizer, long_audio)
        elapsed = time.perf_counter() - started
        print(
            f"english_60s RTF {elapsed / (long_audio.size / SAMPLE_RATE_HZ):.3f} "
            f"({len(words)} words)"
        )
        print(f"  words: {text_of(words)}")
        for name, samples in heads.items():
            print(f"  {name}: {text_of(recognise(recognizer, samples))}")
        if args.ravdess_every > 0:
            started = time.perf_counter()
            table = ravdess_wer(recognizer, args.shared / "data" / "ravdess", args.ravdess_every)
            elapsed = time.perf_counter() - started
            print(f"  RAVDESS ({table['all'].n_reference} words, {elapsed:.0f} s):")
            for key, errors in table.items():
                print(
                    f"    {key:10s} WER {100 * errors.wer:5.1f} % (S {errors.substitutions}, "
                    f"D {errors.deletions}, I {errors.insertions}, N {errors.n_reference})"
                )


if __name__ == "__main__":
    main()
