"""Second-pass face search over overlapping square crops, for faces too small for the full frame.

Face Landmarker's detector (a short-range BlazeFace on a downscaled frame) misses faces that
cover a small part of a large frame: in ``einstein.jpg`` (817x1024, about 45 px between the
outer eye corners) it finds nothing in the whole frame and finds the face in crops around
it. When the full-frame pass finds nothing:

1. :func:`find_face_in_crops` runs a ``detect`` callable (Face Landmarker in IMAGE mode with
   a detection confidence of about 0.3) on :func:`overlapping_crops`, each upscaled by
   :func:`crop_image`, maps the landmarks back with :func:`to_frame_coordinates`, and keeps
   the face that several crops agree on (single-crop detections at this confidence are
   often hands or clothes), preferring larger faces;
2. the tracker landmarks that face again in a crop centred on it, twice its size
   (:func:`face_box`), which fits a small face better than the search crop (einstein.jpg:
   NME 0.083 -> 0.054), and on the next video frames follows it in such a crop instead
   of searching again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CropHit",
    "crop_image",
    "crop_scale",
    "face_box",
    "find_face_in_crops",
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


def _size_px(points_xy: np.ndarray) -> float:
    """Face size (pixels): geometric mean of the landmarks' bounding-box sides."""
    span = np.ptp(np.asarray(points_xy)[:, :2], axis=0)
    return float(np.sqrt(max(span[0], 0.0) * max(span[1], 0.0)))


@dataclass(frozen=True)
class CropHit:
    """A face found by the crop pass.

    ``points_xy`` (n_points, 2 or 3) are in frame pixels: the mean over the crops that agree
    on this face (only those that hold it whole, when any do). ``box`` and ``scale`` are the
    crop that frames it most centrally, ``extra`` what ``detect`` returned beside that crop's
    points (e.g. the transformation matrix and blendshapes; None if only points);
    ``support`` counts the crops that found it.
    """

    points_xy: np.ndarray
    box: Box
    scale: float
    support: int
    extra: object = None

    @property
    def size_px(self) -> float:
        """Face size (pixels): geometric mean of the landmarks' bounding-box sides."""
        return _size_px(self.points_xy)


@dataclass
class _Candidate:
    points_xy: np.ndarray  # frame pixels
    box: Box
    scale: float
    inside: bool  # whole face inside the crop
    offset: float  # distance of the face centre from the crop centre / crop side
    extra: object = None  # what detect returned beside the points

    @property
    def centre(self) -> np.ndarray:
        return self.points_xy[:, :2].mean(axis=0)


def _split(face) -> tuple[np.ndarray, object]:
    """A detection as (points, extra): an array alone, or a tuple (points, *extra)."""
    if not isinstance(face, tuple):
        return face, None
    if len(face) == 1:
        return face[0], None
    return face[0], face[1] if len(face) == 2 else face[1:]


def _candidates(image, detect, boxes, min_size, margin) -> list[_Candidate]:
    found = []
    for box in boxes:
        crop, scale = crop_image(image, box, min_size)
        crop_h, crop_w = crop.shape[:2]
        for face in detect(crop):
            points, extra = _split(face)
            xy = np.asarray(points, dtype=np.float64)
            low = np.array([margin * crop_w, margin * crop_h])
            high = np.array([crop_w, crop_h]) - low
            inside = bool((xy[:, :2] >= low).all() and (xy[:, :2] <= high).all())
            offset = float(np.abs(xy[:, :2].mean(axis=0) / [crop_w, crop_h] - 0.5).max())
            mapped = to_frame_coordinates(xy, box, scale)
            found.append(_Candidate(mapped, box, scale, inside, offset, extra))
    return found


def find_face_in_crops(
    image: np.ndarray,
    detect: Callable[[np.ndarray], Sequence[np.ndarray]],
    boxes: Sequence[Box] | None = None,
    min_size: int = DEFAULT_MIN_SIZE,
    min_support: int = 2,
    margin: float = 0.02,
) -> CropHit | None:
    """Run ``detect`` on overlapping crops; keep a face several crops agree on, preferring large.

    At a low detection confidence single crops also "find" faces in hands or clothes; a
    real face is found again by the overlapping crops around it. Detections whose centres
    lie within half a face size of each other are one face; its ``support`` is the number
    of crops that found it. Faces with ``support >= min_support`` are ranked by
    ``support * size_px``.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
        The full frame (RGB if ``detect`` expects RGB).
    detect : callable
        ``detect(crop) -> sequence of (n_points, 2 or 3) arrays`` in crop pixels, one per face
        found (an empty sequence when none); e.g. Face Landmarker in IMAGE mode with a
        detection confidence of 0.3 and ``num_faces`` >= 2. An item may also be a tuple
        ``(points, *extra)``: the best-framed crop's ``extra`` is kept in ``CropHit.extra``
        (one value as is, several as a tuple).
    boxes : sequence of (x0, y0, x1, y1), optional
        Crops to try; :func:`overlapping_crops` of the frame by default.
    min_size : int
        Crops are upscaled so that their shorter side is at least this (pixels).
    min_support : int
        Crops that must find a face for it to count (1 accepts single-crop detections).
    margin : float
        A face is whole in its crop when all landmarks are at least this fraction of the
        crop's side from its edges.

    Returns
    -------
    The best :class:`CropHit`, or None.
    """
    if boxes is None:
        boxes = overlapping_crops(*image.shape[:2])
    clusters: list[list[_Candidate]] = []
    for candidate in _candidates(image, detect, boxes, min_size, margin):
        for cluster in clusters:
            first = cluster[0]
            reach = 0.5 * max(_size_px(first.points_xy), _size_px(candidate.points_xy))
            if np.linalg.norm(candidate.centre - first.centre) < reach:
                cluster.append(candidate)
                break
        else:
            clusters.append([candidate])
    best: CropHit | None = None
    for cluster in clusters:
        support = len({c.box for c in cluster})
        if support < min_support:
            continue
        whole = [c for c in cluster if c.inside] or cluster
        framing = min(whole, key=lambda c: c.offset)
        points = np.mean([c.points_xy for c in whole], axis=0)
        hit = CropHit(points, tuple(framing.box), framing.scale, support, framing.extra)
        if best is None or support * hit.size_px > best.support * best.size_px:
            best = hit
    return best
