"""What a model reads in the five talking heads: calm, neutral people speaking to a camera.

Each ``<shared>/media/talking_heads/speaker*.mp4`` (5-6.6 s) is shown three times over
as one video (``join_videos(repeat=3)``: the same person watched for 15-20 s), replayed
fast with the model, and the mean and range of arousal and valence over the hops after
the first ``SETTLE_S`` seconds (the 6-s windows full) are printed, with the aim of
issue 15: valence within +-0.3, arousal within -0.3..+0.5.

Run: ``python -m benchmarks.talking_heads [--shared ../shared] [--models DIR]
[--set KEY=VALUE ...]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from streamer.runtime.session import load_session_model, replay_session, session_config
from streamer.sources.media_writer import join_videos

SETTLE_S = 6.0
REPEAT = 3
AIMS = {"arousal": (-0.3, 0.5), "valence": (-0.3, 0.3)}


def settled_estimates(path: Path, config, model) -> np.ndarray:
    """(n, 2) arousal and valence of a fast replay, hops at or after ``SETTLE_S``."""
    pipeline = replay_session(path, config, model)
    try:
        rows = [(e.arousal, e.valence) for e in pipeline if e.t_s >= SETTLE_S - 1e-9]
    finally:
        pipeline.close()
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--models", help="models folder (default: the shipped model)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = [f"face.model_path={args.shared / 'models' / 'face_landmarker.task'}", *args.set]
    if args.models:
        overrides.append(f"runtime.models_dir={args.models}")
    config = session_config(None, overrides)
    model = load_session_model(config)
    print("| video | s after 6 s | arousal mean (range) | valence mean (range) | within the aims |")
    print("| --- | ---: | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for path in sorted((args.shared / "media" / "talking_heads").glob("*.mp4")):
            repeated = Path(folder) / path.name
            join_videos([path], repeated, repeat=REPEAT)
            estimates = settled_estimates(repeated, config, model)
            cells, inside = [], True
            for k, name in enumerate(("arousal", "valence")):
                values = estimates[:, k]
                low, high = AIMS[name]
                inside &= low <= values.mean() <= high
                cells.append(f"{values.mean():+.2f} ({values.min():+.2f}..{values.max():+.2f})")
            print(f"| {path.stem} | {len(estimates) / 10:.1f} | {cells[0]} | {cells[1]} "
                  f"| {'yes' if inside else '**no**'} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
