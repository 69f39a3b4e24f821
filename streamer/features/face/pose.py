"""Head orientation from MediaPipe's facial transformation matrix.

MediaPipe maps its canonical face model into camera space: x to the right of the image,
y up, z towards the viewer. With the rotation written as ``R = Rz(roll) Ry(yaw) Rx(pitch)``
the angles are, in degrees:

- ``pitch``: rotation about x, positive when the head tips forward (looking down);
- ``yaw``: rotation about y, positive when the face turns towards the image's right
  (the subject's left);
- ``roll``: rotation about z, positive when the head tilts counter-clockwise as seen
  in the image.

A face looking straight into the camera has all three near 0.
"""

from __future__ import annotations

import numpy as np


def pose_degrees(transform: np.ndarray) -> np.ndarray:
    """Pitch, yaw and roll in degrees from 4x4 (or 3x3) transformation matrices.

    Parameters
    ----------
    transform : ndarray, shape (..., 4, 4) or (..., 3, 3)
        Facial transformation matrices (only the rotation part is used).

    Returns
    -------
    ndarray, shape (..., 3)
        ``pitch, yaw, roll`` in degrees, each in (-180, 180].
    """
    rotation = np.asarray(transform, dtype=np.float64)[..., :3, :3]
    pitch = np.arctan2(rotation[..., 2, 1], rotation[..., 2, 2])
    yaw = np.arctan2(-rotation[..., 2, 0], np.hypot(rotation[..., 2, 1], rotation[..., 2, 2]))
    roll = np.arctan2(rotation[..., 1, 0], rotation[..., 0, 0])
    return np.degrees(np.stack([pitch, yaw, roll], axis=-1))
