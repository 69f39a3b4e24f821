"""Face tracking: MediaPipe Face Landmarker (VIDEO mode) to pose, 10 eye points and 49 landmarks.

One face is followed: the largest when a face first appears, then the one that overlaps
the previous frame's face most, for as long as it stays in view. When the whole frame
shows no face (small faces in large frames defeat the landmarker's detector), the frame
is searched again in overlapping enlarged crops (:mod:`streamer.features.face.crops`):
the face detector proposes candidates at a low confidence, the landmarker verifies each
in a crop centred on it, and the largest verified face is followed in a crop around it on
the next frames.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.config import FaceConfig
from streamer.features.face import crops
from streamer.features.face.ibug import IBUG49_INDICES, ibug49_from_mesh, iris_from_mesh
from streamer.features.face.model import FaceModelError, resolve_face_model
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
_FIRST_CONTEXTS = (2.0, 2.5, 3.2)  # crops tried around a candidate box, in box sizes
_MAX_CANDIDATES = 20  # crop-search candidates verified, highest detection score first
_SETTLE_FRAMES = 6  # times a candidate's crop is shown to the VIDEO-mode landmarker
_SETTLED_SHIFT = 0.01  # a real face's mesh moves less than this (face sizes) in the last one
_SETTLE_STEP_MS = 40  # timestamp step between those frames (milliseconds)
_DETECTOR_IN_BUNDLE = "face_detector.tflite"  # the landmarker bundle's own face detector


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
        self._video = None  # VIDEO-mode landmarker for whole frames, one per sequence
        self._still = None  # IMAGE-mode landmarker for crops, made when first needed
        self._detector = None  # IMAGE-mode face detector for the crop search, likewise
        self._settler = None  # VIDEO-mode landmarker that verifies candidates, likewise
        self._settler_ms = 0  # its last timestamp (milliseconds)
        self._settler_has_face = False  # whether it follows a face from its last frame
        self._last_timestamp_ms = -1
        self.reset()

    def reset(self) -> None:
        """Forget the followed face (the next frame starts a new sequence)."""
        self._last_box = None  # (x0, y0, x1, y1) pixels of the followed face
        self._last_from_crop = None  # its mesh (478, 2) when only the crop search found it
        self._last_crop_search_s = None
        # MediaPipe's VIDEO mode follows the last frame's face by itself (it would "find"
        # a face of the last sequence in a new one): a new landmarker when it has seen frames
        if self._video is None or self._last_timestamp_ms >= 0:
            if self._video is not None:
                self._video.close()
            mode = self._vision.RunningMode.VIDEO
            self._video = self._landmarker(mode, self.config.min_detection_confidence)
            self._last_timestamp_ms = -1

    def close(self) -> None:
        """Release MediaPipe's resources."""
        self._video.close()
        for task in (self._still, self._detector, self._settler):
            if task is not None:
                task.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def process(self, frame: VideoFrame) -> FaceObservation:
        """Find the followed face in one frame (frames must come in time order)."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image)
        timestamp_ms = max(int(round(frame.t_s * 1000.0)), self._last_timestamp_ms + 1)
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

    def _landmarker(self, mode, detection_confidence: float, num_faces: int | None = None):
        vision = self._vision
        from mediapipe.tasks.python import BaseOptions

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=mode,
            num_faces=num_faces or self.config.max_faces,
            min_face_detection_confidence=detection_confidence,
            min_face_presence_confidence=self.config.min_tracking_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
            output_face_blendshapes=self.config.blendshapes,
            output_facial_transformation_matrixes=True,
        )
        with native_stderr_silenced():  # MediaPipe's C++ start-up log lines, not for users
            return vision.FaceLandmarker.create_from_options(options)

    def _face_detector(self):
        """MediaPipe's face detector alone (the bundle's own BlazeFace), IMAGE mode, low confidence."""
        from mediapipe.tasks.python import BaseOptions

        with zipfile.ZipFile(self.model_path) as bundle:
            if _DETECTOR_IN_BUNDLE not in bundle.namelist():
                raise FaceModelError(
                    f"{self.model_path} holds no {_DETECTOR_IN_BUNDLE}: give a Face Landmarker "
                    "model bundle (face_landmarker.task)"
                )
            model = bundle.read(_DETECTOR_IN_BUNDLE)
        options = self._vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            running_mode=self._vision.RunningMode.IMAGE,
            min_detection_confidence=_CROP_CONFIDENCE,
        )
        with native_stderr_silenced():
            return self._vision.FaceDetector.create_from_options(options)

    def _search_crops(self, frame: VideoFrame) -> list:
        """Look for faces too small for the whole-frame pass: [(mesh, transform, blendshapes)].

        A small face followed from the last frame is looked for in a crop around it.
        Otherwise (at most once per ``crop_search_interval_s``) the face detector proposes
        candidates in overlapping crops (:func:`crops.face_candidates`); each is landmarked
        in a crop centred on it (the first of ``_FIRST_CONTEXTS`` where the landmarker
        finds it) and kept if it :meth:`_settles`.
        """
        interval_s = self.config.crop_search_interval_s
        if interval_s < 0:
            return []
        if self._still is None:
            self._still = self._landmarker(self._vision.RunningMode.IMAGE, _CROP_CONFIDENCE)
            self._detector = self._face_detector()
            # one face: with fewer faces than it looks for, VIDEO mode detects on every
            # frame instead of following the face it has
            self._settler = self._landmarker(self._vision.RunningMode.VIDEO, _CROP_CONFIDENCE, 1)
        if self._last_from_crop is not None:
            return self._faces_around(frame.image, self._last_from_crop)
        due = self._last_crop_search_s is None or frame.t_s - self._last_crop_search_s >= interval_s
        if not due:
            return []
        self._last_crop_search_s = frame.t_s
        faces = []
        for candidate in crops.face_candidates(frame.image, self._detect_boxes)[:_MAX_CANDIDATES]:
            x0, y0, x1, y1 = candidate.box
            if any(_inside(((x0 + x1) / 2, (y0 + y1) / 2), _box(f[0])) for f in faces):
                continue  # a face already verified
            for context in _FIRST_CONTEXTS:
                frames = self._settle(frame.image, np.array([[x0, y0], [x1, y1]]), context)
                if not frames:
                    continue  # nothing in this crop: try a wider one
                if _has_settled(frames) and self._detected(frame.image, frames[-1][0]):
                    faces.append(frames[-1])
                break
        return faces

    def _settle(self, image: np.ndarray, points: np.ndarray, context: float) -> list:
        """The face near ``points`` (pixels) as a VIDEO-mode landmarker follows it in a still.

        The crop centred on ``points`` (``context`` times their size) is shown up to
        ``_SETTLE_FRAMES`` times to a landmarker that, after the first frame, landmarks
        each frame in the region the last frame's landmarks give, as when it follows a
        face in a video. Returns (mesh, transform, blendshapes) per frame, in frame
        pixels, up to the first frame without a face near ``points``.
        """
        import mediapipe as mp

        box = crops.face_box(points, context)
        crop, scale = crops.crop_image(image, box)
        picture = mp.Image(image_format=mp.ImageFormat.SRGB, data=crop)
        if self._settler_has_face:  # forget it: a blank frame
            self._settle_frame(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros_like(crop)))
        frames = []
        for _ in range(_SETTLE_FRAMES):
            result = self._settle_frame(picture)
            found = _faces_in_pixels(result, 0.0, 0.0, crop.shape[1], crop.shape[0])
            face = _face_near(found, box, scale, points)
            if face is None:
                break
            frames.append(face)
        return frames

    def _detected(self, image: np.ndarray, mesh: np.ndarray) -> bool:
        """Whether the face detector finds the face of ``mesh`` (pixels) in a crop centred on
        it, twice its size, at the whole-frame pass's ``min_detection_confidence``.

        The search proposes candidates at a low confidence; a face it keeps must be as
        clear to the detector as a face in the whole frame, once framed as the detector
        expects (curly hair can make the landmarker settle on a "face"; the detector
        scores it below 0.5 where einstein.jpg's face scores 0.6-0.85).
        """
        box = crops.face_box(mesh, _CROP_CONTEXT)
        crop, scale = crops.crop_image(image, box)
        centre, reach = mesh.mean(axis=0), 0.5 * max(np.ptp(mesh, axis=0))
        for score, corners in self._detect_boxes(crop):
            found = crops.to_frame_coordinates(np.reshape(corners, (2, 2)), box, scale)
            near = np.linalg.norm(found.mean(axis=0) - centre) < reach
            if near and score >= self.config.min_detection_confidence:
                return True
        return False

    def _settle_frame(self, picture):
        """One frame through the settling landmarker (timestamps ever increasing)."""
        self._settler_ms += _SETTLE_STEP_MS
        result = self._settler.detect_for_video(picture, self._settler_ms)
        self._settler_has_face = bool(result.face_landmarks)
        return result

    def _faces_around(
        self, image: np.ndarray, mesh: np.ndarray, context: float = _CROP_CONTEXT
    ) -> list:
        """[The face near ``mesh``] (points, pixels) landmarked in a crop centred on it, or []."""
        box = crops.face_box(mesh, context)
        crop, scale = crops.crop_image(image, box)
        face = _face_near(self._detect_in_crop(crop), box, scale, mesh)
        return [] if face is None else [face]

    def _detect_in_crop(self, crop: np.ndarray) -> list:
        """Faces in a crop as (mesh in crop pixels, transform, blendshapes)."""
        import mediapipe as mp

        result = self._still.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        return _faces_in_pixels(result, 0.0, 0.0, crop.shape[1], crop.shape[0])

    def _detect_boxes(self, crop: np.ndarray) -> list:
        """Face detections in a crop as (score, (x0, y0, x1, y1) in crop pixels)."""
        import mediapipe as mp

        result = self._detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        found = []
        for detection in result.detections:
            b = detection.bounding_box
            box = (b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height)
            found.append((detection.categories[0].score, box))
        return found

    def _choose(self, faces: list) -> tuple:
        """The followed face if it is still there, else the largest."""
        boxes = [_box(mesh) for mesh, _, _ in faces]
        if self._last_box is not None:
            overlaps = [crops.box_iou(box, self._last_box) for box in boxes]
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


def _has_settled(frames: list) -> bool:
    """Whether a face was found in all ``_SETTLE_FRAMES`` frames and its mesh moved less
    than ``_SETTLED_SHIFT`` face sizes (mean point distance) in the last one.

    On a real face the landmarker settles (einstein.jpg: NME 0.05-0.06 at any JPEG
    quality from 40, where one IMAGE-mode pass gives 0.07-0.21); on hands and textures
    it loses the "face" or keeps moving.
    """
    if len(frames) < _SETTLE_FRAMES:
        return False
    last, before = frames[-1][0], frames[-2][0]
    shift = np.linalg.norm(last - before, axis=1).mean()
    return shift < _SETTLED_SHIFT * crops.face_size_px(last)


def _face_near(faces_in_crop: list, box, scale: float, points: np.ndarray) -> tuple | None:
    """The first face (mesh in crop pixels, transform, blendshapes) whose mesh centre, in
    frame pixels, lies within half the size of ``points`` from their centre; mapped to
    frame pixels, or None."""
    centre, reach = points.mean(axis=0), 0.5 * max(np.ptp(points, axis=0))
    for mesh, transform, blendshapes in faces_in_crop:
        mapped = crops.to_frame_coordinates(mesh, box, scale)
        if np.linalg.norm(mapped.mean(axis=0) - centre) < reach:
            return mapped, transform, blendshapes
    return None


def _box(mesh: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = mesh.min(axis=0)
    x1, y1 = mesh.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _inside(point, box) -> bool:
    """Whether a point (x, y) lies in a box (x0, y0, x1, y1)."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]
