"""iBUG 49 / iris mapping from the 478-point mesh, the crop search, and accuracy on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.features.face.crops import (
    crop_image,
    face_box,
    overlapping_crops,
    to_frame_coordinates,
)
from streamer.features.face.ibug import (
    IBUG49_INDICES,
    IBUG49_WEIGHTS,
    IBUG68_FROM_MESH,
    IRIS_INDICES,
    N_MESH,
    ibug49_from_mesh,
    ibug68_from_mesh,
    iris_from_mesh,
)

NME_TARGET = 0.08


# --- the table -------------------------------------------------------------------------------


def test_table_has_68_points_of_valid_vertices_whose_weights_sum_to_one():
    assert len(IBUG68_FROM_MESH) == 68
    for terms in IBUG68_FROM_MESH:
        assert 1 <= len(terms) <= 3
        vertices = [vertex for vertex, _ in terms]
        assert len(set(vertices)) == len(vertices)
        assert all(0 <= vertex < N_MESH for vertex in vertices)
        assert all(weight > 0 for _, weight in terms)
        assert sum(weight for _, weight in terms) == pytest.approx(1.0)


def test_no_iris_vertex_in_the_landmark_table():
    used = {vertex for terms in IBUG68_FROM_MESH for vertex, _ in terms}
    assert used.isdisjoint(IRIS_INDICES)


def test_ibug49_is_68_without_jaw_and_inner_mouth_corners():
    assert len(IBUG49_INDICES) == 49
    assert list(IBUG49_INDICES) == sorted(set(range(68)) - set(range(17)) - {60, 64})
    assert IBUG49_WEIGHTS.shape == (49, N_MESH)
    np.testing.assert_allclose(IBUG49_WEIGHTS.sum(axis=1), 1.0)


def test_iris_indices_are_the_ten_refined_vertices():
    assert tuple(range(468, 478)) == IRIS_INDICES


# --- the mapping functions -------------------------------------------------------------------


def test_mapping_is_vectorised_over_leading_axes():
    rng = np.random.default_rng(0)
    meshes = rng.uniform(0, 640, size=(2, 3, N_MESH, 3))
    points = ibug49_from_mesh(meshes)
    assert points.shape == (2, 3, 49, 2)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(points[i, j], ibug49_from_mesh(meshes[i, j, :, :2]))
    np.testing.assert_allclose(
        points, np.einsum("pv,...vc->...pc", IBUG49_WEIGHTS, meshes[..., :2])
    )
    assert ibug68_from_mesh(meshes[0, 0]).shape == (68, 2)
    np.testing.assert_allclose(ibug68_from_mesh(meshes)[..., IBUG49_INDICES, :], points)
    eyes = iris_from_mesh(meshes)
    assert eyes.shape == (2, 3, 10, 2)
    np.testing.assert_array_equal(eyes[1, 2], meshes[1, 2, 468:478, :2])


def test_single_vertex_points_copy_the_vertex_and_averages_lie_between():
    mesh = np.arange(N_MESH * 2, dtype=float).reshape(N_MESH, 2)
    points = ibug68_from_mesh(mesh)
    np.testing.assert_allclose(points[8], mesh[152])  # chin
    np.testing.assert_allclose(points[48], mesh[61])  # right mouth corner
    np.testing.assert_allclose(points[17], (mesh[70] + mesh[46]) / 2)  # right brow, outer end


def test_mapping_rejects_a_wrong_number_of_vertices():
    with pytest.raises(ValueError, match="478"):
        ibug49_from_mesh(np.zeros((468, 2)))
    with pytest.raises(ValueError):
        iris_from_mesh(np.zeros(478))


# --- crops -----------------------------------------------------------------------------------


def test_overlapping_crops_are_inside_the_frame_and_cover_it():
    height, width = 1024, 817
    boxes = overlapping_crops(height, width)
    covered = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert x1 - x0 == y1 - y0 in (round(817 / 2), round(817 / 3))
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert len(set(boxes)) == len(boxes)
    assert overlapping_crops(100, 100, crop_fractions=(1.0,)) == [(0, 0, 100, 100)]
    with pytest.raises(ValueError):
        overlapping_crops(100, 100, overlap=1.0)


def test_crop_image_upscales_pads_and_maps_back():
    image = np.random.default_rng(1).integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    crop, scale = crop_image(image, (100, 50, 200, 150), min_size=256)
    assert crop.shape == (256, 256, 3) and crop.flags.c_contiguous
    assert scale == pytest.approx(2.56)
    back = to_frame_coordinates(
        np.array([[0.0, 0.0, 2.56], [256.0, 128.0, 0.0]]), (100, 50, 200, 150), scale
    )
    np.testing.assert_allclose(back, [[100, 50, 1.0], [200, 100, 0.0]])
    padded, scale = crop_image(image, (-50, -50, 250, 250), min_size=0)
    assert scale == 1.0 and padded.shape == (300, 300, 3)
    assert not padded[:50].any() and not padded[:, :50].any()
    np.testing.assert_array_equal(padded[50:, 50:], image[:250, :250])
    with pytest.raises(ValueError):
        crop_image(image, (10, 10, 10, 20))


def test_face_box_is_a_square_around_the_points():
    points = np.array([[100.0, 200.0], [140.0, 260.0]])
    x0, y0, x1, y1 = face_box(points, context=2.0)
    assert x1 - x0 == y1 - y0 == 120
    assert (x0 + x1) / 2 == pytest.approx(120, abs=1) and (y0 + y1) / 2 == pytest.approx(230, abs=1)


@pytest.fixture(scope="module")
def model_path(shared_dir):
    pytest.importorskip("mediapipe")
    path = shared_dir / "models" / "face_landmarker.task"
    if not path.is_file():
        pytest.skip("face_landmarker.task is absent from the shared folder")
    return path


@pytest.fixture(scope="module")
def takeo_mesh(shared_dir, model_path):
    """MediaPipe's 478-point mesh of takeo.ppm, in pixels."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from benchmarks.face_accuracy import read_rgb

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path))
    )
    image = read_rgb(shared_dir / "faces" / "takeo.ppm")
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
    assert len(result.face_landmarks) == 1
    height, width = image.shape[:2]
    return np.array([(p.x * width, p.y * height) for p in result.face_landmarks[0]])


def test_left_right_and_up_down_on_takeo(takeo_mesh):
    points = ibug68_from_mesh(takeo_mesh)
    x, y = points[:, 0], points[:, 1]
    assert x[36] < x[39] < x[42] < x[45]  # right eye on the image's left
    assert x[17] < x[21] < x[22] < x[26]
    assert x[48] < x[51] < x[54]
    assert x[31] < x[33] < x[35]
    assert max(y[17:27]) < min(y[36:48])  # brows above the eyes
    assert x[39] < x[30] < x[42]  # nose tip between the inner eye corners
    assert y[27] < y[28] < y[29] < y[30] < y[33]  # down the nose
    assert min(y[48:68]) > y[33]  # mouth below the nose
    assert y[51] < y[62] < y[66] < y[57]
    eyes = iris_from_mesh(takeo_mesh)
    assert eyes[0, 0] < eyes[5, 0]  # right iris centre on the image's left
    assert x[36] < eyes[0, 0] < x[39] and x[42] < eyes[5, 0] < x[45]
    for centre in (0, 5):  # image-right, top, image-left, bottom edges around the centre
        cx, cy = eyes[centre]
        assert eyes[centre + 1, 0] > cx and eyes[centre + 2, 1] < cy
        assert eyes[centre + 3, 0] < cx and eyes[centre + 4, 1] > cy


@pytest.mark.parametrize("name", ["takeo.ppm", "einstein.jpg"])
def test_nme_of_the_tracker_on_annotated_photographs(shared_dir, model_path, name):
    """einstein.jpg's small face is found only by the tracker's crop search."""
    from benchmarks.face_accuracy import landmark_errors, read_pts, read_rgb, tracked_landmarks
    from streamer.config import load_config
    from streamer.features.face.tracker import FaceTracker

    path = shared_dir / "faces" / name
    with FaceTracker(load_config().face, model_path) as tracker:
        landmarks = tracked_landmarks(tracker, read_rgb(path))
    assert landmarks is not None
    errors = landmark_errors(read_pts(path.with_suffix(".pts")), landmarks)
    assert errors["nme"] <= NME_TARGET, errors


def test_docstring_table_matches_the_code():
    import re

    import streamer.features.face.ibug as ibug

    # rows of the 3-column table "| iBUG | meaning | mesh vertices (weight) |"
    found = re.findall(r"^\|\s+(\d+) \| [^|]+\| ([^|]+)\|$", ibug.__doc__, flags=re.MULTILINE)
    rows = [(int(i), cell) for i, cell in found]
    assert [i for i, _ in rows] == list(range(68))
    for i, cell in rows:
        documented = {}
        for term in cell.split(","):
            match = re.fullmatch(r"\s*(\d+)(?: \((\.\d+)\))?\s*", term)
            assert match, (i, cell)
            documented[int(match[1])] = float(match[2] or 1.0)
        assert documented == dict(IBUG68_FROM_MESH[i]), i
