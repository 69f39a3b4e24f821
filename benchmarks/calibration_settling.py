"""How long per-person calibration takes to settle: a face read after N seconds of the
same person's neutral face.

Each KDEF photograph of the partition's actors (a 3-s wobble clip, as in
:mod:`streamer.training.heldout`) is read against its actor's statistics after
``N`` seconds of their other neutral photographs and then the item itself, for N from 0
(the item alone against the population prior) up; the valence CCC of the model's face
branch alone is printed per N, with the line where each actor is read against all of
their neutral photographs. Needs a model that calibrates the face (the default one).

Run: ``python -m benchmarks.calibration_settling [--shared ../shared] [--models DIR]
[--codebooks DIR] [--partition test|devel] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streamer.config import load_config
from streamer.runtime.model_bundle import load_affect_model, model_config_path
from streamer.training import heldout, unimodal
from streamer.training.sources import load_sources, split_people

NEUTRAL_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--models", type=Path, help="models folder (default: the shipped one)")
    parser.add_argument("--codebooks", type=Path, help="codebooks folder (default: shipped)")
    parser.add_argument("--partition", default="test", choices=("test", "devel"))
    parser.add_argument("--cache", type=Path, default=heldout.DEFAULT_CACHE)
    args = parser.parse_args()
    model = load_affect_model(args.models, args.codebooks)
    config = load_config(model_file=model_config_path(args.models))
    if not config.calibration.face:
        raise SystemExit(f"the model in {args.models or 'streamer'} does not calibrate the face")
    sources = load_sources(args.shared)
    items = [i for i in unimodal.face_items(sources, split_people(sources, 0))
             if i.partition == args.partition and i.corpus == "kdef"]  # fmt: skip
    face_model = unimodal.face_model_path(config, args.shared)
    frames = [unimodal.group_frames(f, config) for f in unimodal.item_frames(
        items, "video", config, args.cache, 2, face_model)]  # fmt: skip
    print(f"KDEF actors ({args.partition}), face -> valence CCC, prior worth "
          f"{config.calibration.prior_s:g} s of frames")  # fmt: skip
    print("| neutral face shown first (s) | items | CCC |")
    print("| ---: | ---: | ---: |")
    for neutral_s in NEUTRAL_S:
        (score,) = heldout.neutral_first_scores(
            model, "video", "valence", items, frames, config, args.partition, neutral_s
        )
        print(f"| {neutral_s:g} | {score.n} | {score.value:.3f} |")
    calibrated = heldout.calibrated(model, "video", items, frames, config)
    bags = heldout.item_bags(model, "video", items, calibrated, config)
    keep = [k for k in range(len(items)) if bags[k].any()]
    (score,) = heldout.score_items(
        model, "video", "valence", [items[k] for k in keep], bags[keep], "all neutral"
    )
    print(f"| all of the actor's neutral photographs | {score.n} | {score.value:.3f} |")


if __name__ == "__main__":
    main()
