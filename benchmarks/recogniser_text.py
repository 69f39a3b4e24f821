"""What the recogniser does to the text branch: EmoBank's Test sentences spoken, recognised,
and scored against their own valence ratings.

Each sentence of EmoBank's test split (the first ``N_SENTENCES`` of 3 to 30 words) is
spoken by eSpeak NG (``benchmarks.espeak``, 175 words per minute), recognised by each
backend (whisper, pocketsphinx) as ``streamer features text`` would, and its words go
through the model's text branch alone (one bag per sentence, as
:mod:`streamer.training.heldout` does). Printed: the Pearson r of valence against the
ratings for the written words and for each recogniser's words, and each recogniser's
word error rate on these sentences.

Run: ``python -m benchmarks.recogniser_text [--shared ../shared] [--sentences N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from benchmarks.backend_estimates import tokens_heard
from benchmarks.espeak import espeak
from benchmarks.speech_wer import word_errors
from streamer.config import load_config
from streamer.runtime.model_bundle import load_affect_model, model_config_path
from streamer.training import heldout, unimodal
from streamer.training.sources import load_sources, split_people

N_SENTENCES = 100
BACKENDS = ("whisper", "pocketsphinx")


def text_r(model, items, config) -> tuple[float, int]:
    """Pearson r of the text branch's valence against the items' ratings, and n."""
    bags = heldout.item_bags(model, "text", items, None, config)
    keep = [k for k in range(len(items)) if bags[k].any()]
    (score,) = heldout.score_items(model, "text", "valence", [items[k] for k in keep],
                                   bags[keep], "EmoBank")  # fmt: skip
    return score.value, score.n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--sentences", type=int, default=N_SENTENCES)
    args = parser.parse_args()
    model = load_affect_model()
    config = load_config(model_file=model_config_path())
    sources = load_sources(args.shared)
    items = [i for i in unimodal.text_items(sources, split_people(sources, 0))
             if i.corpus == "emobank" and i.partition == "test"
             and 3 <= len(i.source.split()) <= 30][: args.sentences]  # fmt: skip
    voice = espeak()
    speech = [voice.synthesize(i.source) for i in items]
    print(f"{len(items)} EmoBank test sentences spoken by eSpeak NG; text branch valence")
    print("| words | Pearson r | sentences with a known word | WER |")
    print("| --- | ---: | ---: | ---: |")
    r, n = text_r(model, items, config)
    print(f"| written | {r:.3f} | {n} | - |")
    for backend in BACKENDS:
        backend_config = dataclasses.replace(
            config, speech=dataclasses.replace(config.speech, backend=backend)
        )
        heard = [tokens_heard(s.samples, s.sample_rate_hz, backend_config) for s in speech]
        counts = [word_errors(i.source.split(), h) for i, h in zip(items, heard, strict=True)]
        errors = sum(c.substitutions + c.deletions + c.insertions for c in counts)
        total = sum(c.n_reference for c in counts)
        recognised = [
            dataclasses.replace(i, source=" ".join(h)) for i, h in zip(items, heard, strict=True)
        ]
        r, n = text_r(model, recognised, config)
        print(f"| {backend} | {r:.3f} | {n} | {100 * errors / total:.1f} % |")


if __name__ == "__main__":
    main()
