"""What each speech backend gives the default model on the five talking heads.

For every ``<shared>/media/talking_heads/*.mp4`` and each recogniser (whisper,
pocketsphinx, and no words at all: ``runtime.speech=false``): the words recognised (as
``streamer features text`` finds them), how many of them are in the model's text
vocabulary (only those count in a text bag), and the mean arousal and valence of a fast
replay, with the largest difference per hop from the whisper replay.

Run: ``python -m benchmarks.backend_estimates [--shared ../shared]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from streamer.features.lld.resample import StreamingResampler
from streamer.features.speech.backends import create_recognizer
from streamer.features.speech.words import tokenize
from streamer.runtime.session import load_session_model, replay_session, session_config
from streamer.sources.media_file import read_audio

RUNS = {
    "whisper": ["speech.backend=whisper"],
    "pocketsphinx": ["speech.backend=pocketsphinx"],
    "no words": ["runtime.speech=false"],
}


def recognised_tokens(path: Path, config) -> list[str]:
    """The tokens of the words the configured recogniser finds in the file's audio."""
    return tokens_heard(*read_audio(path), config)


def tokens_heard(samples: np.ndarray, rate: int, config) -> list[str]:
    """The tokens of the words the configured recogniser finds in mono ``samples`` at
    ``rate`` Hz."""
    resampler = StreamingResampler(rate, 16000)
    audio = np.concatenate([resampler.push(samples), resampler.flush()])
    recognizer = create_recognizer(config.speech)
    recognizer.push(audio, 0.0)
    words = recognizer.pull() + recognizer.flush()
    return [token for word in words for token in tokenize(word.text)]


def replay_estimates(path: Path, config, model) -> np.ndarray:
    """(n_hops, 2) arousal and valence of a fast replay."""
    pipeline = replay_session(path, config, model)
    try:
        return np.array([(e.arousal, e.valence) for e in pipeline])
    finally:
        pipeline.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    args = parser.parse_args()
    face = [f"face.model_path={args.shared / 'models' / 'face_landmarker.task'}"]
    configs = {name: session_config(None, face + extra) for name, extra in RUNS.items()}
    model = load_session_model(configs["whisper"])
    vocabulary = model.codebooks["text"]
    print("| video | backend | words | in the vocabulary | arousal mean | valence mean "
          "| largest difference from whisper, A / V |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for path in sorted((args.shared / "media" / "talking_heads").glob("*.mp4")):
        reference = None
        for name, config in configs.items():
            estimates = replay_estimates(path, config, model)
            tokens = [] if name == "no words" else recognised_tokens(path, config)
            known = [t for t in tokens if vocabulary.index(t) is not None]
            if reference is None:
                reference, difference = estimates, "-"
            else:
                n = min(len(reference), len(estimates))
                largest = np.abs(estimates[:n] - reference[:n]).max(axis=0)
                difference = f"{largest[0]:.3f} / {largest[1]:.3f}"
            print(
                f"| {path.stem} | {name} | {len(tokens)} | {len(known)} "
                f"({' '.join(known) or '-'}) | {estimates[:, 0].mean():+.3f} "
                f"| {estimates[:, 1].mean():+.3f} | {difference} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
