"""Accuracy of the iBUG 49 points mapped from MediaPipe Face Landmarker's mesh.

Usage: python benchmarks/face_accuracy.py [--shared DIR] [--n-kdef N] [--crop-confidence C]

On the two annotated photographs in ``faces/`` (iBUG 68 ``.pts``, pixels counted from 1)
it runs Face Landmarker in IMAGE mode, maps the mesh to the 49 points and prints the
normalised mean error (NME: mean Euclidean distance over the 49 points divided by the
distance between the outer eye corners, iBUG 36 and 45) and per-region errors. When the
whole frame finds no face (``einstein.jpg``), the second pass of
``streamer.features.face.crops`` searches overlapping crops with a lower detection
confidence. Then a sanity figure on KDEF: the fraction of photographs with a face found
and the mean outer-eye-corner distance (pixels).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamer.features.face.crops import CropHit, find_face_in_crops, refine_face
from streamer.features.face.ibug import IBUG49_INDICES, ibug49_from_mesh

ANNOTATED = ("einstein.jpg", "takeo.ppm")
NME_TARGET = 0.08
CROP_CONFIDENCE = 0.3  # detection confidence for the crop pass (the default 0.5 misses einstein)
# regions as iBUG 68 indices; the mouth without the inner corners 60 and 64
REGIONS = {
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(i for i in range(48, 68) if i not in (60, 64)),
}
_POSITION = {ibug: k for k, ibug in enumerate(IBUG49_INDICES)}  # iBUG index -> row of the 49


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
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def make_landmarker(model_path: Path, min_detection_confidence: float = 0.5, num_faces: int = 1):
    """A Face Landmarker in IMAGE mode (closing it is left to the caller)."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=num_faces,
        min_face_detection_confidence=min_detection_confidence,
    )
    return vision.FaceLandmarker.create_from_options(options)


def detector(landmarker) -> Callable[[np.ndarray], list[np.ndarray]]:
    """``detect(rgb) -> [(478, 3) array per face]`` in the image's pixels (z scaled by width)."""
    import mediapipe as mp

    def detect(rgb: np.ndarray) -> list[np.ndarray]:
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = landmarker.detect(image)
        height, width = rgb.shape[:2]
        scale = np.array([width, height, width], dtype=np.float64)
        return [
            np.array([(p.x, p.y, p.z) for p in face], dtype=np.float64) * scale
            for face in result.face_landmarks
        ]

    return detect


def locate_face(
    rgb: np.ndarray, detect_full: Callable, detect_crop: Callable
) -> tuple[np.ndarray | None, CropHit | None]:
    """The (478, 3) mesh of the largest face in pixels: whole frame first, then crops.

    Returns the mesh (None when no face) and the crop hit when the crop pass found it.
    """
    faces = detect_full(rgb)
    if faces:
        return max(faces, key=lambda f: np.ptp(f[:, 0]) * np.ptp(f[:, 1])), None
    hit = find_face_in_crops(rgb, detect_crop)
    return (None, None) if hit is None else (hit.points_xy, hit)


def errors(ibug68_truth: np.ndarray, mesh_xy: np.ndarray) -> dict[str, float]:
    """NME over the 49 points and per region, normalised by the outer-eye-corner distance."""
    truth = ibug68_truth[list(IBUG49_INDICES)]
    predicted = ibug49_from_mesh(mesh_xy[:, :2])
    distance = np.linalg.norm(predicted - truth, axis=1)
    iod = float(np.linalg.norm(ibug68_truth[36] - ibug68_truth[45]))
    out = {"nme": float(distance.mean() / iod)}
    for region, ibugs in REGIONS.items():
        out[region] = float(distance[[_POSITION[i] for i in ibugs]].mean() / iod)
    return out


@dataclass
class Measured:
    """One annotated photograph: errors of the mesh as found, and after :func:`refine_face`."""

    name: str
    errors: dict[str, float]
    hit: CropHit | None = None  # the crop pass's face (None: found in the whole frame)
    refined: dict[str, float] | None = None  # crop-found faces only
    n_views: int = 0  # crops averaged by refine_face

    @property
    def final(self) -> dict[str, float]:
        """The errors of what the benchmark delivers (refined when the crop pass ran)."""
        return self.refined or self.errors


def annotated_errors(shared: Path, crop_confidence: float = CROP_CONFIDENCE) -> list[Measured]:
    """Errors on each annotated photograph (whole frame, else crop pass + refinement)."""
    model = shared / "models" / "face_landmarker.task"
    full = make_landmarker(model)
    crop = make_landmarker(model, crop_confidence, num_faces=2)
    try:
        results = []
        for name in ANNOTATED:
            path = shared / "faces" / name
            rgb, truth = read_rgb(path), read_pts(path.with_suffix(".pts"))
            mesh, hit = locate_face(rgb, detector(full), detector(crop))
            if mesh is None:
                raise RuntimeError(f"no face found in {path}")
            measured = Measured(name, errors(truth, mesh), hit)
            if hit is not None:
                refined, measured.n_views = refine_face(rgb, detector(crop), mesh)
                measured.refined = errors(truth, refined)
            results.append(measured)
        return results
    finally:
        full.close()
        crop.close()


def kdef_sanity(shared: Path, n_photos: int = 20) -> tuple[int, int, float]:
    """(photos tried, faces found, mean outer-eye-corner distance in pixels) on KDEF."""
    paths = sorted((shared / "data" / "kdef").glob("*.jpg"))
    if not paths:
        return 0, 0, float("nan")
    chosen = [
        paths[i] for i in np.linspace(0, len(paths) - 1, min(n_photos, len(paths))).astype(int)
    ]
    landmarker = make_landmarker(shared / "models" / "face_landmarker.task")
    detect = detector(landmarker)
    try:
        distances = []
        for path in chosen:
            faces = detect(read_rgb(path))
            if faces:
                points = ibug49_from_mesh(faces[0][:, :2])
                distances.append(np.linalg.norm(points[_POSITION[36]] - points[_POSITION[45]]))
        return len(chosen), len(distances), float(np.mean(distances)) if distances else float("nan")
    finally:
        landmarker.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--n-kdef", type=int, default=20)
    parser.add_argument("--crop-confidence", type=float, default=CROP_CONFIDENCE)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results = annotated_errors(args.shared, args.crop_confidence)
    header = f"{'image':14s} {'pass':8s} {'NME49':>7s} " + " ".join(f"{r:>7s}" for r in REGIONS)
    print(header)
    for m in results:
        rows = [("found", m.errors)] + ([("refined", m.refined)] if m.refined else [])
        for label, err in rows:
            regions = " ".join(f"{err[r]:7.4f}" for r in REGIONS)
            print(f"{m.name:14s} {label:8s} {err['nme']:7.4f} {regions}")
    for m in results:
        if m.hit is None:
            print(f"{m.name}: found in the whole frame")
        else:
            print(
                f"{m.name}: whole frame found nothing; crop pass (detection confidence "
                f"{args.crop_confidence}) found it in {m.hit.support} crops, best framed by "
                f"{m.hit.box} (x{m.hit.scale:.2f}); refined over {m.n_views} crops"
            )
    ok = all(m.final["nme"] <= NME_TARGET for m in results)
    print(f"target NME <= {NME_TARGET}: {'met' if ok else 'NOT met'}")

    tried, found, iod_px = kdef_sanity(args.shared, args.n_kdef)
    print(
        f"KDEF: face found in {found}/{tried} photographs, mean outer-eye distance {iod_px:.1f} px"
    )
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
