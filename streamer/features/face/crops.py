"""Second-pass face search over overlapping square crops, for faces too small for the full frame.

Face Landmarker's detector (a short-range BlazeFace on a 128x128 copy of the frame) misses
faces that cover a small part of a large frame: in ``einstein.jpg`` (817x1024, about 90 px
face) it finds nothing in the whole frame, while the same detector finds the face in crops
around it. When the full-frame pass finds nothing, the tracker

1. runs the face detector alone, at a low confidence (0.3), on :func:`overlapping_crops`
   of the frame (each upscaled by :func:`crop_image`) and merges the detections of all
   crops into candidates (:func:`face_candidates`): one per face-sized region, scored by
   the sum of its detection scores. At this confidence most candidates are hands, clothes
   or textures;
2. verifies each candidate with the landmarker in a crop centred on it, twice its size
   (:func:`face_box`), where a real face fills the detector's view as it was trained for:
   a face passes when the landmarker finds it there (face presence >= 0.5), finds it
   again in a crop centred on that first mesh, and the two meshes agree;
3. keeps the largest verified face, and on the next video frames follows it in such a
   crop instead of searching again.

No single crop decides: a face is kept for what a centred crop shows, so tiny pixel
differences (two JPEG decoders, re-encoding) that change which search crops see it do not
change the result (einstein.jpg decoded by PyAV or OpenCV, or re-encoded at JPEG quality
90 or 70: NME 0.056-0.061). The older selection by crop agreement (the face several
search crops landmarked) flipped with such noise: 0.054 from OpenCV's decoding, a hand at
NME 9.1 from PyAV's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "Candidate",
    "box_iou",
    "crop_image",
    "crop_scale",
    "face_box",
    "face_candidates",
    "face_size_px",
    "overlapping_crops",
    "to_frame_coordinates",
]

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) pixels, x1/y1 exclusive

DEFAULT_CROP_FRACTIONS = (1 / 2, 1 / 3)  # crop side as a fraction of the frame's shorter side
DEFAULT_OVERLAP = 0.5  # fraction of a crop shared with its neighbour
DEFAULT_MIN_SIZE = 256  # crops smaller than this (pixels) are upscaled to it


def _starts(length: int, size: int, step: int) -> list[int]:
    """Evenly spaced start offsets of windows of ``size`` covering ``length``, at most ``step``
    apart (5 % slack), the first at 0 and the last ending at the edge."""
    if size >= length:
        return [0]
    n_gaps = max(1, math.ceil((length - size) / step - 0.05))
    return sorted({round(i * (length - size) / n_gaps) for i in range(n_gaps + 1)})


def overlapping_crops(
    height: int,
    width: int,
    crop_fractions: Sequence[float] = DEFAULT_CROP_FRACTIONS,
    overlap: float = DEFAULT_OVERLAP,
) -> list[Box]:
    """Square crop boxes tiling a ``height`` x ``width`` frame at several sizes.

    Parameters
    ----------
    height, width : int
        Frame size (pixels).
    crop_fractions : sequence of float
        Crop side as a fraction of ``min(height, width)``, largest first is the natural order.
    overlap : float
        Fraction (0 <= overlap < 1) of a crop's side shared with the next crop.

    Returns
    -------
    list of (x0, y0, x1, y1)
        Integer pixel boxes inside the frame (x1, y1 exclusive), row by row for each size.
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    boxes: list[Box] = []
    for fraction in crop_fractions:
        size = max(1, round(min(height, width) * fraction))
        step = max(1, round(size * (1.0 - overlap)))
        for y0 in _starts(height, size, step):
            for x0 in _starts(width, size, step):
                box = (x0, y0, min(x0 + size, width), min(y0 + size, height))
                if box not in boxes:
                    boxes.append(box)
    return boxes


def crop_scale(box: Box, min_size: int = DEFAULT_MIN_SIZE) -> float:
    """Upscaling factor (>= 1) that brings the box's shorter side to at least ``min_size`` px."""
    shorter = min(box[2] - box[0], box[3] - box[1])
    return max(1.0, min_size / max(shorter, 1))


def crop_image(
    image: np.ndarray, box: Box, min_size: int = DEFAULT_MIN_SIZE
) -> tuple[np.ndarray, float]:
    """Cut ``box`` out of an (H, W, C) image and upscale it (bicubic) to ``min_size`` px.

    Parts of the box outside the frame are filled with black. Returns the C-contiguous crop
    and its scale (crop pixels per frame pixel).
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {box}")
    height, width = image.shape[:2]
    crop = image[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
    if crop.size == 0:
        crop = np.zeros((y1 - y0, x1 - x0, *image.shape[2:]), dtype=image.dtype)
    elif any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_CONSTANT, value=0)
    scale = crop_scale(box, min_size)
    if scale > 1.0:
        size = (round((x1 - x0) * scale), round((y1 - y0) * scale))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop), scale


def face_box(
    points_xy: np.ndarray, context: float = 2.0, shift: tuple[float, float] = (0, 0)
) -> Box:
    """A square box around face landmarks, e.g. to re-run the landmarker on the next frame.

    Parameters
    ----------
    points_xy : (n_points, 2 or 3) array
        Landmarks in frame pixels.
    context : float
        Box side as a multiple of the landmarks' larger bounding-box side.
    shift : (float, float)
        Offset of the box centre (x, y) as a fraction of its side.

    Returns
    -------
    (x0, y0, x1, y1) integer pixels; may reach outside the frame (:func:`crop_image` pads).
    """
    xy = np.asarray(points_xy, dtype=np.float64)[:, :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    side = max(2, round(context * float((high - low).max())))
    centre = (low + high) / 2 + np.asarray(shift, dtype=np.float64) * side
    x0, y0 = (int(round(c - side / 2)) for c in centre)
    return x0, y0, x0 + side, y0 + side


def to_frame_coordinates(points_xy_in_crop: np.ndarray, box: Box, crop_scale: float) -> np.ndarray:
    """Map points from (upscaled) crop pixels back to full-frame pixels.

    Parameters
    ----------
    points_xy_in_crop : (..., 2) or (..., 3) array
        Pixel coordinates in the crop as handed to the landmarker (normalised landmark x, y
        times the crop's width, height). A third (depth) column, in crop pixels, is only
        divided by the scale.
    box : (x0, y0, x1, y1)
        The crop's box in the frame (pixels).
    crop_scale : float
        Crop pixels per frame pixel (from :func:`crop_image`).

    Returns
    -------
    Array of the input's shape in frame pixels (float64).
    """
    points = np.asarray(points_xy_in_crop, dtype=np.float64) / crop_scale
    offset = np.zeros(points.shape[-1])
    offset[:2] = box[0], box[1]
    return points + offset


def face_size_px(points_xy: np.ndarray) -> float:
    """Face size (pixels): geometric mean of the landmarks' bounding-box sides."""
    span = np.ptp(np.asarray(points_xy)[:, :2], axis=0)
    return float(np.sqrt(max(span[0], 0.0) * max(span[1], 0.0)))


@dataclass(frozen=True)
class Candidate:
    """A region where the face detector saw a face in one or more search crops.

    ``box`` (x0, y0, x1, y1, frame pixels, floats) is the score-weighted mean of the
    detections' boxes; ``score`` the sum of their detection scores (0-1 each, the best one
    per crop); ``n_crops`` the number of crops that saw it.
    """

    box: tuple[float, float, float, float]
    score: float
    n_crops: int


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def face_candidates(
    image: np.ndarray,
    detect: Callable[[np.ndarray], Sequence[tuple[float, Sequence[float]]]],
    boxes: Sequence[Box] | None = None,
    min_size: int = DEFAULT_MIN_SIZE,
    same_face_iou: float = 0.3,
) -> list[Candidate]:
    """Run a face detector on overlapping crops and merge its detections into candidates.

    Detections are taken strongest first; one joins the first candidate whose strongest
    box overlaps it by at least ``same_face_iou`` (intersection over union), else starts
    a new candidate.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
        The full frame (RGB if ``detect`` expects RGB).
    detect : callable
        ``detect(crop) -> sequence of (score, (x0, y0, x1, y1))``: detection scores (0-1)
        and boxes in crop pixels, e.g. MediaPipe's face detector at a low confidence.
    boxes : sequence of (x0, y0, x1, y1), optional
        Crops to try; :func:`overlapping_crops` of the frame by default.
    min_size : int
        Crops are upscaled so that their shorter side is at least this (pixels).
    same_face_iou : float
        Overlap (0-1) above which two detections are the same face.

    Returns
    -------
    list of :class:`Candidate`
        Highest ``score`` first.
    """
    if boxes is None:
        boxes = overlapping_crops(*image.shape[:2])
    detections = []  # (score, frame box, crop index)
    for index, crop_box in enumerate(boxes):
        crop, scale = crop_image(image, crop_box, min_size)
        for score, box in detect(crop):
            frame_box = to_frame_coordinates(np.reshape(box, (2, 2)), crop_box, scale).ravel()
            detections.append((float(score), frame_box, index))
    groups: list[list[tuple[float, np.ndarray, int]]] = []
    for detection in sorted(detections, key=lambda d: -d[0]):
        for group in groups:
            if box_iou(group[0][1], detection[1]) >= same_face_iou:
                group.append(detection)
                break
        else:
            groups.append([detection])
    candidates = []
    for group in groups:
        best_per_crop = {}
        for score, box, index in group:  # strongest first: keep the first of each crop
            best_per_crop.setdefault(index, (score, box))
        scores = np.array([score for score, _ in best_per_crop.values()])
        mean_box = np.average([box for _, box in best_per_crop.values()], axis=0, weights=scores)
        box = tuple(float(v) for v in mean_box)
        candidates.append(Candidate(box, float(scores.sum()), len(best_per_crop)))
    return sorted(candidates, key=lambda c: -c.score)
