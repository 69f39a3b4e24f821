"""The face tracker on real faces (../shared) with the real MediaPipe model."""

import dataclasses

import cv2
import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")

from streamer.config import load_config  # noqa: E402
from streamer.features.face.ibug import IBUG49_INDICES  # noqa: E402
from streamer.features.face.tracker import BLENDSHAPE_NAMES, FaceTracker  # noqa: E402
from streamer.sources.media_file import iter_video_frames  # noqa: E402
from streamer.types import VideoFrame  # noqa: E402


@pytest.fixture(scope="module")
def model_path(shared_dir):
    return shared_dir / "models" / "face_landmarker.task"


def _tracker(model_path, **changes):
    return FaceTracker(dataclasses.replace(load_config().face, **changes), model_path)


def _picture(path) -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def _frame(image, t_s=0.0, index=0) -> VideoFrame:
    return VideoFrame(t_s, np.ascontiguousarray(image), index)


def test_blank_frames_have_no_face(model_path):
    with _tracker(model_path, crop_search_interval_s=0.0) as tracker:
        for i in range(3):
            observation = tracker.process(_frame(np.full((480, 640, 3), 128, np.uint8), i / 25, i))
            assert not observation.face
            assert observation.landmarks.shape == (49, 2) and not observation.landmarks.any()
            assert observation.eyes.shape == (10, 2) and not observation.pose_deg.any()


@pytest.mark.parametrize("speaker", [1, 2, 3, 4, 5])
def test_talking_heads_have_a_face_in_every_frame_and_plausible_pose(
    shared_dir, model_path, speaker
):
    video = shared_dir / "media" / "talking_heads" / f"speaker{speaker}.mp4"
    with _tracker(model_path) as tracker:
        observations = [
            (frame.image.shape, tracker.process(frame)) for frame in iter_video_frames(video)
        ]
    share = np.mean([o.face for _, o in observations])
    assert share >= 0.99
    poses = np.array([o.pose_deg for _, o in observations if o.face])
    assert np.all(np.abs(poses) < 45), np.abs(poses).max(axis=0)
    for shape, o in observations:
        if o.face:
            height, width = shape[:2]
            assert np.all((o.landmarks >= 0) & (o.landmarks < (width, height)))
            # the iris centres (eye0 and eye5) lie between the eye corners, in image order
            right_outer, left_outer = (
                o.landmarks[IBUG49_INDICES.index(36)],
                o.landmarks[IBUG49_INDICES.index(45)],
            )
            assert right_outer[0] < o.eyes[:, 0].min() and o.eyes[:, 0].max() < left_outer[0]


def test_roll_and_yaw_signs(shared_dir, model_path):
    image = _picture(shared_dir / "data" / "kdef" / "am01nes.jpg")
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 15, 1.0)  # counter-clockwise on screen
    rotated = cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)
    with _tracker(model_path) as tracker:
        straight = tracker.process(_frame(image))
        tracker.reset()
        tilted = tracker.process(_frame(rotated, 1.0))
        tracker.reset()
        mirrored = tracker.process(_frame(image[:, ::-1], 2.0))
    assert straight.face and tilted.face and mirrored.face
    assert tilted.pose_deg[2] - straight.pose_deg[2] == pytest.approx(15, abs=4)
    # a mirror image turns yaw and roll around and leaves pitch
    assert mirrored.pose_deg[1] == pytest.approx(-straight.pose_deg[1], abs=3)
    assert mirrored.pose_deg[0] == pytest.approx(straight.pose_deg[0], abs=3)


def _two_faces(shared_dir, small_on_left: bool) -> np.ndarray:
    big = _picture(shared_dir / "data" / "kdef" / "af01nes.jpg")
    small = cv2.resize(_picture(shared_dir / "data" / "kdef" / "am02nes.jpg"), None, fx=0.6, fy=0.6)
    canvas = np.full((big.shape[0], big.shape[1] * 2 + 40, 3), 128, np.uint8)
    left_x, right_x = 0, big.shape[1] + 40
    small_x, big_x = (left_x, right_x) if small_on_left else (right_x, left_x)
    canvas[: big.shape[0], big_x : big_x + big.shape[1]] = big
    top = (big.shape[0] - small.shape[0]) // 2
    canvas[top : top + small.shape[0], small_x : small_x + small.shape[1]] = small
    return canvas


def test_the_largest_of_several_faces_is_chosen(shared_dir, model_path):
    image = _two_faces(shared_dir, small_on_left=True)
    with _tracker(model_path) as tracker:
        observation = tracker.process(_frame(image))
    assert observation.face
    assert observation.landmarks[:, 0].min() > image.shape[1] / 2  # the big face is on the right


def test_the_followed_face_is_kept_when_a_larger_one_appears(shared_dir, model_path):
    both = _two_faces(shared_dir, small_on_left=True)
    alone = both.copy()
    alone[:, both.shape[1] // 2 :] = 128  # only the small face, on the left
    with _tracker(model_path) as tracker:
        first = tracker.process(_frame(alone, 0.0, 0))
        later = tracker.process(_frame(both, 0.04, 1))
    assert first.face and later.face
    assert later.landmarks[:, 0].max() < both.shape[1] / 2  # still the small face on the left


def test_small_face_in_large_frame_is_found_by_the_crop_search(shared_dir, model_path):
    image = _picture(shared_dir / "faces" / "einstein.jpg")
    with _tracker(model_path, crop_search_interval_s=-1) as tracker:
        assert not tracker.process(_frame(image)).face  # the whole frame alone misses it
    with _tracker(model_path) as tracker:
        assert tracker.process(_frame(image)).face


def test_normalised_coordinates(shared_dir, model_path):
    image = _picture(shared_dir / "faces" / "takeo.ppm")
    with _tracker(model_path, coords="normalised") as tracker:
        observation = tracker.process(_frame(image))
    assert np.allclose(observation.landmarks.mean(axis=0), 0.0, atol=1e-9)
    corners = observation.landmarks[[IBUG49_INDICES.index(36), IBUG49_INDICES.index(45)]]
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(1.0)


def test_blendshapes(shared_dir, model_path):
    image = _picture(shared_dir / "data" / "kdef" / "af01has.jpg")  # happy
    with _tracker(model_path, blendshapes=True) as tracker:
        observation = tracker.process(_frame(image))
        blank = tracker.process(_frame(np.zeros_like(image), 1.0))
    assert observation.blendshapes.shape == (len(BLENDSHAPE_NAMES),) == (52,)
    smile = np.mean(
        [
            observation.blendshapes[BLENDSHAPE_NAMES.index(n)]
            for n in ("mouthSmileLeft", "mouthSmileRight")
        ]
    )
    assert smile > 0.3
    assert not blank.face and not blank.blendshapes.any()


def test_half_frame_rate_gives_the_same_features_on_shared_frames(shared_dir, model_path):
    video = shared_dir / "media" / "talking_heads" / "speaker2.mp4"  # 25 frames/s
    with _tracker(model_path) as tracker:
        full = {round(f.t_s, 3): tracker.process(f) for f in iter_video_frames(video)}
    with _tracker(model_path) as tracker:
        half = {round(f.t_s, 3): tracker.process(f) for f in iter_video_frames(video, fps=12.5)}
    shared = sorted(set(full) & set(half))
    assert len(shared) == len(half) >= 60
    for t in shared:
        assert np.abs(full[t].landmarks - half[t].landmarks).max() < 1.0  # pixels
        assert np.abs(full[t].pose_deg - half[t].pose_deg).max() < 1.0  # degrees
