"""Landmark accuracy of the face tracker on the annotated photographs, and a KDEF sanity figure.

Usage: python benchmarks/face_accuracy.py [--shared DIR] [--n-kdef N]

On the two photographs in ``faces/`` with iBUG 68 annotations (``.pts``, pixels counted
from 1) it runs :class:`streamer.features.face.tracker.FaceTracker` exactly as
``streamer features video`` does (so ``einstein.jpg``, whose small face the whole-frame
pass misses, goes through the crop search) and prints the normalised mean error (NME:
mean distance over the 49 points divided by the distance between the outer eye corners,
iBUG 36 and 45) and the error per region. Exit status 1 if an image misses NME <= 0.08.
Then, on KDEF photographs, the share with a face found and the mean outer-eye distance.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from streamer.config import load_config
from streamer.features.face.ibug import IBUG49_INDICES
from streamer.features.face.tracker import FaceTracker
from streamer.types import VideoFrame

ANNOTATED = ("einstein.jpg", "takeo.ppm")
NME_TARGET = 0.08
REGIONS = {  # as iBUG 68 indices; the mouth without the inner corners 60 and 64
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(i for i in range(48, 68) if i not in (60, 64)),
}
_ROW = {ibug: row for row, ibug in enumerate(IBUG49_INDICES)}  # iBUG index -> row of the 49


def default_shared() -> Path:
    """``STREAMER_SHARED`` or ``../shared`` next to the repository."""
    return Path(os.environ.get("STREAMER_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def read_pts(path: Path) -> np.ndarray:
    """An iBUG ``.pts`` file as a (68, 2) array of 0-based pixel coordinates."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "{") + 1
    stop = next(i for i, line in enumerate(lines) if line.strip() == "}")
    points = np.array([[float(v) for v in line.split()] for line in lines[start:stop]])
    return points - 1.0  # iBUG counts pixels from 1


def read_rgb(path: Path) -> np.ndarray:
    """An image file as a C-contiguous RGB uint8 array."""
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def landmark_errors(ibug68_truth: np.ndarray, landmarks49: np.ndarray) -> dict[str, float]:
    """NME over the 49 points and per region, normalised by the outer-eye-corner distance."""
    distance = np.linalg.norm(landmarks49 - ibug68_truth[list(IBUG49_INDICES)], axis=1)
    iod = float(np.linalg.norm(ibug68_truth[36] - ibug68_truth[45]))
    errors = {"nme": float(distance.mean() / iod)}
    for region, ibugs in REGIONS.items():
        errors[region] = float(distance[[_ROW[i] for i in ibugs]].mean() / iod)
    return errors


def tracked_landmarks(tracker: FaceTracker, image: np.ndarray) -> np.ndarray | None:
    """The 49 landmarks (pixels) the tracker finds in a still picture, or None."""
    tracker.reset()
    observation = tracker.process(VideoFrame(0.0, image, 0))
    return observation.landmarks if observation.face else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--n-kdef", type=int, default=20)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = load_config().face
    ok = True
    with FaceTracker(config, args.shared / "models" / "face_landmarker.task") as tracker:
        print("| image | NME49 | " + " | ".join(REGIONS) + " |")
        print("| --- | --- |" + " --- |" * len(REGIONS))
        for name in ANNOTATED:
            path = args.shared / "faces" / name
            landmarks = tracked_landmarks(tracker, read_rgb(path))
            if landmarks is None:
                print(f"| {name} | no face found |")
                ok = False
                continue
            errors = landmark_errors(read_pts(path.with_suffix(".pts")), landmarks)
            ok &= errors["nme"] <= NME_TARGET
            regions = " | ".join(f"{errors[r]:.3f}" for r in REGIONS)
            print(f"| {name} | {errors['nme']:.3f} | {regions} |")
        print(f"\ntarget NME <= {NME_TARGET}: {'met' if ok else 'NOT met'}")
        kdef = sorted((args.shared / "data" / "kdef").glob("*.jpg"))
        chosen = [
            kdef[i] for i in np.linspace(0, len(kdef) - 1, min(args.n_kdef, len(kdef))).astype(int)
        ]
        found = [tracked_landmarks(tracker, read_rgb(path)) for path in chosen]
        distances = [np.linalg.norm(f[_ROW[45]] - f[_ROW[36]]) for f in found if f is not None]
        print(
            f"KDEF: a face in {len(distances)}/{len(chosen)} photographs, mean outer-eye "
            f"distance {np.mean(distances):.1f} px"
        )
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
