"""Face tracking: MediaPipe Face Landmarker (VIDEO mode) to pose, 10 eye points and 49 landmarks.

One face is followed: the largest when a face first appears, then the one that overlaps
the previous frame's face most, for as long as it stays in view. When the whole frame
shows no face (small faces in large frames defeat the landmarker's detector), the frame
is searched again in overlapping enlarged crops with a lower detection confidence; a face
found that way is followed in a crop around it on the next frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.config import FaceConfig
from streamer.features.face import crops
from streamer.features.face.ibug import IBUG49_INDICES, ibug49_from_mesh, iris_from_mesh
from streamer.features.face.model import resolve_face_model
from streamer.features.face.pose import pose_degrees
from streamer.native_output import native_stderr_silenced
from streamer.types import VideoFrame

N_EYE_POINTS = 10
N_LANDMARKS = 49
BLENDSHAPE_NAMES = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)  # fmt: skip  (MediaPipe's 52 blendshape categories, in its output order)
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)
_BLENDSHAPE_COLUMN = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
_OUTER_EYE_CORNERS = (IBUG49_INDICES.index(36), IBUG49_INDICES.index(45))
_SAME_FACE_IOU = 0.3  # a face overlapping the followed one this much is the same face
_CROP_CONFIDENCE = 0.3  # detection confidence in the crop search
_CROP_CONTEXT = 2.0  # side of the crop around a small face, in face sizes


@dataclass(frozen=True)
class FaceObservation:
    """What the tracker saw in one frame.

    Attributes
    ----------
    t_s : float
        The frame's time in seconds.
    face : bool
        Whether a face was found; when False the arrays below are all zeros.
    pose_deg : ndarray, shape (3,)
        Pitch, yaw, roll in degrees (see :mod:`streamer.features.face.pose`).
    eyes : ndarray, shape (10, 2)
        The iris points (x, y), in pixels or normalised units (``face.coords``).
    landmarks : ndarray, shape (49, 2)
        The iBUG 49 landmarks (x, y), in the same units.
    blendshapes : ndarray, shape (52,), or None
        MediaPipe's blendshape scores in [0, 1] when ``face.blendshapes`` is on.
    landmarks_px : ndarray, shape (49, 2), or None
        The iBUG 49 landmarks in pixels whatever ``face.coords`` says (for drawing);
        None when no face was found.
    """

    t_s: float
    face: bool
    pose_deg: np.ndarray
    eyes: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray | None
    landmarks_px: np.ndarray | None = None


class FaceTracker:
    """Follow one face through a sequence of frames.

    Parameters
    ----------
    config : FaceConfig
        The ``face`` section of the configuration.
    model_path : str or Path, optional
        The ``face_landmarker.task`` file; found with :func:`resolve_face_model` if None.
    """

    def __init__(self, config: FaceConfig, model_path: str | Path | None = None):
        self.config = config
        self.model_path = Path(model_path or resolve_face_model(config.model_path))
        from mediapipe.tasks.python import vision

        self._vision = vision
        self._video = self._landmarker(vision.RunningMode.VIDEO, config.min_detection_confidence)
        self._still = None  # IMAGE-mode landmarker for crops, made when first needed
        self._last_timestamp_ms = -1
        self.reset()

    def reset(self) -> None:
        """Forget the followed face (the next frame starts a new sequence)."""
        self._last_box = None  # (x0, y0, x1, y1) pixels of the followed face
        self._last_from_crop = None  # its mesh (478, 2) when only the crop search found it
        # MediaPipe's VIDEO mode wants ever-increasing timestamps, across sequences too:
        # a new sequence's time 0 continues after the last timestamp given
        self._timestamp_offset_ms = self._last_timestamp_ms + 1
        self._last_crop_search_s = None

    def close(self) -> None:
        """Release MediaPipe's resources."""
        self._video.close()
        if self._still is not None:
            self._still.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def process(self, frame: VideoFrame) -> FaceObservation:
        """Find the followed face in one frame (frames must come in time order)."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image)
        timestamp_ms = self._timestamp_offset_ms + int(round(frame.t_s * 1000.0))
        timestamp_ms = max(timestamp_ms, self._last_timestamp_ms + 1)
        self._last_timestamp_ms = timestamp_ms
        result = self._video.detect_for_video(image, timestamp_ms)
        height, width = frame.image.shape[:2]
        faces = _faces_in_pixels(result, 0.0, 0.0, width, height)
        from_crop = False
        if not faces:
            faces = self._search_crops(frame)
            from_crop = bool(faces)
        if not faces:
            return self._no_face(frame.t_s)
        mesh, transform, blendshapes = self._choose(faces)
        self._last_box = _box(mesh)
        self._last_from_crop = mesh if from_crop else None
        return self._observation(frame.t_s, mesh, transform, blendshapes)

    def _landmarker(self, mode, detection_confidence: float):
        vision = self._vision
        from mediapipe.tasks.python import BaseOptions

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=mode,
            num_faces=self.config.max_faces,
            min_face_detection_confidence=detection_confidence,
            min_face_presence_confidence=self.config.min_tracking_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
            output_face_blendshapes=self.config.blendshapes,
            output_facial_transformation_matrixes=True,
        )
        with native_stderr_silenced():  # MediaPipe's C++ start-up log lines, not for users
            return vision.FaceLandmarker.create_from_options(options)

    def _search_crops(self, frame: VideoFrame) -> list:
        """Look for a face too small for the whole-frame pass; [] or [(mesh, transform, blendshapes)].

        A small face followed from the last frame is looked for in a crop around it.
        Otherwise (at most once per ``crop_search_interval_s``) overlapping crops are
        searched; a face that several crops agree on is kept (single crops at a low
        confidence also "see" faces in hands), then landmarked again in a crop centred
        on it, which fits a small face better than the search crop.
        """
        interval_s = self.config.crop_search_interval_s
        if interval_s < 0:
            return []
        if self._still is None:
            self._still = self._landmarker(self._vision.RunningMode.IMAGE, _CROP_CONFIDENCE)
        if self._last_from_crop is not None:
            return self._faces_around(frame.image, self._last_from_crop)
        due = self._last_crop_search_s is None or frame.t_s - self._last_crop_search_s >= interval_s
        if not due:
            return []
        self._last_crop_search_s = frame.t_s
        hit = crops.find_face_in_crops(frame.image, self._detect_in_crop)
        if hit is None:
            return []
        return self._faces_around(frame.image, hit.points_xy) or [(hit.points_xy, *hit.extra)]

    def _faces_around(self, image: np.ndarray, mesh: np.ndarray) -> list:
        """The face near ``mesh`` landmarked in a crop centred on it, twice its size."""
        box = crops.face_box(mesh, _CROP_CONTEXT)
        crop, scale = crops.crop_image(image, box)
        centre, reach = mesh.mean(axis=0), 0.5 * max(np.ptp(mesh, axis=0))
        for face_mesh, transform, blendshapes in self._detect_in_crop(crop):
            mapped = crops.to_frame_coordinates(face_mesh, box, scale)
            if np.linalg.norm(mapped.mean(axis=0) - centre) < reach:
                return [(mapped, transform, blendshapes)]
        return []

    def _detect_in_crop(self, crop: np.ndarray) -> list:
        """Faces in a crop as (mesh in crop pixels, transform, blendshapes)."""
        import mediapipe as mp

        result = self._still.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        return _faces_in_pixels(result, 0.0, 0.0, crop.shape[1], crop.shape[0])

    def _choose(self, faces: list) -> tuple:
        """The followed face if it is still there, else the largest."""
        boxes = [_box(mesh) for mesh, _, _ in faces]
        if self._last_box is not None:
            overlaps = [_iou(box, self._last_box) for box in boxes]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= _SAME_FACE_IOU:
                return faces[best]
        areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes]
        return faces[int(np.argmax(areas))]

    def _observation(self, t_s: float, mesh, transform, blendshapes) -> FaceObservation:
        eyes = iris_from_mesh(mesh)
        landmarks = landmarks_px = ibug49_from_mesh(mesh)
        if self.config.coords == "normalised":
            centre = landmarks.mean(axis=0)
            left, right = landmarks[_OUTER_EYE_CORNERS[0]], landmarks[_OUTER_EYE_CORNERS[1]]
            scale = max(float(np.hypot(*(right - left))), 1e-6)
            eyes = (eyes - centre) / scale
            landmarks = (landmarks - centre) / scale
        scores = None
        if self.config.blendshapes:
            scores = np.zeros(N_BLENDSHAPES)
            for category in blendshapes or ():
                scores[_BLENDSHAPE_COLUMN[category.category_name]] = category.score
        return FaceObservation(
            t_s, True, pose_degrees(transform), eyes, landmarks, scores, landmarks_px
        )

    def _no_face(self, t_s: float) -> FaceObservation:
        self._last_box = None
        self._last_from_crop = None
        scores = np.zeros(N_BLENDSHAPES) if self.config.blendshapes else None
        return FaceObservation(
            t_s, False, np.zeros(3), np.zeros((N_EYE_POINTS, 2)), np.zeros((N_LANDMARKS, 2)), scores
        )


def _faces_in_pixels(result, x0: float, y0: float, width: float, height: float) -> list:
    """(mesh (478, 2) in frame pixels, 4x4 transform, blendshapes) per detected face.

    The landmarks MediaPipe returns are normalised to the image it saw, which spans
    ``width`` x ``height`` frame pixels from ``(x0, y0)``.
    """
    faces = []
    for i, landmarks in enumerate(result.face_landmarks):
        mesh = np.array([(p.x, p.y) for p in landmarks]) * (width, height) + (x0, y0)
        transform = np.asarray(result.facial_transformation_matrixes[i])
        blendshapes = result.face_blendshapes[i] if result.face_blendshapes else None
        faces.append((mesh, transform, blendshapes))
    return faces


def _box(mesh: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = mesh.min(axis=0)
    x1, y1 = mesh.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _iou(a, b) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
