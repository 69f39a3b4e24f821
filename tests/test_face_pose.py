import numpy as np
import pytest

from streamer.features.face.pose import pose_degrees


def _rotation(pitch, yaw, roll):
    p, y, r = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.mark.parametrize("angles", [(0, 0, 0), (10, -20, 5), (-30, 45, -60), (80, 0, 170)])
def test_angles_round_trip(angles):
    transform = np.eye(4)
    transform[:3, :3] = _rotation(*angles)
    transform[:3, 3] = [1.0, 2.0, -40.0]  # translation is ignored
    assert np.allclose(pose_degrees(transform), angles, atol=1e-9)


def test_batches():
    transforms = np.stack([_rotation(5, 10, 15), _rotation(-5, -10, -15)])
    assert np.allclose(pose_degrees(transforms), [[5, 10, 15], [-5, -10, -15]])
