"""iBUG 68 / 49 landmarks and the 10 iris points from MediaPipe Face Landmarker's 478-point mesh.

The iBUG 68-point scheme (Sagonas et al., 300-W) numbers points from 0 here (the ``.pts``
files count pixels from 1, not points). "Right" is the subject's right, which appears on
the image's *left* in an unmirrored photograph: 17-21 right brow (outer to inner), 22-26
left brow (inner to outer), 27-30 nose bridge down to the tip, 31-35 nostrils (image left
to right), 36-41 right eye (36 the outer corner, then the upper lid, 39 the inner corner,
then the lower lid), 42-47 left eye (42 the inner corner), 48-59 outer lip (48 the right
corner, clockwise in the image), 60-67 inner lip.

Each iBUG point is one mesh vertex or a fixed weighted average of 2-3 vertices:

- brows: the mesh has an upper (70 63 105 66 107 / 336 296 334 293 300) and a lower
  (46 53 52 65 55 / 285 295 282 283 276) brow contour; iBUG points lie between them, so
  each is the midpoint of the two contour vertices at the same position along the brow;
- eye corners: the mesh's corner vertex (33, 133, 362, 263) lies a little beyond the
  junction of the lids, which iBUG marks; it is averaged with the first upper- and
  lower-lid vertices next to it;
- lids, nose and lips: the vertex of MediaPipe's named contours (``FACEMESH_LEFT_EYE``,
  ``FACEMESH_LIPS``, ...) at the iBUG position (lids at about one and two thirds); the nose
  tip is between vertices 4 and 1, point 29 between 5 and 195;
- jaw (not in the 49): the face-oval vertex at the iBUG position, or the midpoint of two.

The choices were checked against the annotated ``takeo`` and ``einstein`` photographs
(``benchmarks/face_accuracy.py``).

| iBUG | meaning                                | mesh vertices (weight)           |
| ---- | -------------------------------------- | -------------------------------- |
|    0 | jaw, right, at the ear (top)           | 127                              |
|    1 | jaw, right                             | 234                              |
|    2 | jaw, right                             | 93 (.5), 132 (.5)                |
|    3 | jaw, right                             | 58                               |
|    4 | jaw, right, angle of the mandible      | 172                              |
|    5 | jaw, right                             | 136                              |
|    6 | jaw, right                             | 150 (.5), 149 (.5)               |
|    7 | jaw, right, near the chin              | 176 (.5), 148 (.5)               |
|    8 | chin (menton)                          | 152                              |
|    9 | jaw, left, near the chin               | 400 (.5), 377 (.5)               |
|   10 | jaw, left                              | 379 (.5), 378 (.5)               |
|   11 | jaw, left                              | 365                              |
|   12 | jaw, left, angle of the mandible       | 397                              |
|   13 | jaw, left                              | 288                              |
|   14 | jaw, left                              | 323 (.5), 361 (.5)               |
|   15 | jaw, left                              | 454                              |
|   16 | jaw, left, at the ear (top)            | 356                              |
|   17 | right brow, outer end                  | 70 (.5), 46 (.5)                 |
|   18 | right brow                             | 63 (.5), 53 (.5)                 |
|   19 | right brow, middle                     | 105 (.5), 52 (.5)                |
|   20 | right brow                             | 66 (.5), 65 (.5)                 |
|   21 | right brow, inner end                  | 107 (.5), 55 (.5)                |
|   22 | left brow, inner end                   | 336 (.5), 285 (.5)               |
|   23 | left brow                              | 296 (.5), 295 (.5)               |
|   24 | left brow, middle                      | 334 (.5), 282 (.5)               |
|   25 | left brow                              | 293 (.5), 283 (.5)               |
|   26 | left brow, outer end                   | 300 (.5), 276 (.5)               |
|   27 | nose bridge, between the eyes          | 168                              |
|   28 | nose bridge                            | 197                              |
|   29 | nose bridge, lower                     | 5 (.5), 195 (.5)                 |
|   30 | nose tip                               | 4 (.5), 1 (.5)                   |
|   31 | nostril, right alar base               | 98                               |
|   32 | nostril, right                         | 97                               |
|   33 | subnasale (below the tip)              | 2                                |
|   34 | nostril, left                          | 326                              |
|   35 | nostril, left alar base                | 327                              |
|   36 | right eye, outer corner                | 33 (.5), 246 (.25), 7 (.25)      |
|   37 | right eye, upper lid, outer third      | 160                              |
|   38 | right eye, upper lid, inner third      | 158                              |
|   39 | right eye, inner corner                | 133 (.5), 173 (.25), 155 (.25)   |
|   40 | right eye, lower lid, inner third      | 153                              |
|   41 | right eye, lower lid, outer third      | 144                              |
|   42 | left eye, inner corner                 | 362 (.5), 398 (.25), 382 (.25)   |
|   43 | left eye, upper lid, inner third       | 385                              |
|   44 | left eye, upper lid, outer third       | 387                              |
|   45 | left eye, outer corner                 | 263 (.5), 466 (.25), 249 (.25)   |
|   46 | left eye, lower lid, outer third       | 373                              |
|   47 | left eye, lower lid, inner third       | 380                              |
|   48 | mouth, right outer corner              | 61                               |
|   49 | upper lip, outer, right                | 39                               |
|   50 | upper lip, outer, right of the peak    | 37                               |
|   51 | upper lip, outer, middle               | 0                                |
|   52 | upper lip, outer, left of the peak     | 267                              |
|   53 | upper lip, outer, left                 | 269                              |
|   54 | mouth, left outer corner               | 291                              |
|   55 | lower lip, outer, left                 | 321                              |
|   56 | lower lip, outer, left of middle       | 314                              |
|   57 | lower lip, outer, middle               | 17                               |
|   58 | lower lip, outer, right of middle      | 84                               |
|   59 | lower lip, outer, right                | 91                               |
|   60 | mouth, right inner corner              | 78                               |
|   61 | upper lip, inner, right                | 82                               |
|   62 | upper lip, inner, middle               | 13                               |
|   63 | upper lip, inner, left                 | 312                              |
|   64 | mouth, left inner corner               | 308                              |
|   65 | lower lip, inner, left                 | 317                              |
|   66 | lower lip, inner, middle               | 14                               |
|   67 | lower lip, inner, right                | 87                               |

Iris points (``IRIS_INDICES``, in this order; image directions for an upright face). For
the right eye the image-right edge (469) is the nasal side, for the left eye (474) the
temporal side.

| slot | right eye (image left)  | slot | left eye (image right)  |
| ---- | ----------------------- | ---- | ----------------------- |
|    0 | centre, 468             |    5 | centre, 473             |
|    1 | image-right edge, 469   |    6 | image-right edge, 474   |
|    2 | top edge, 470           |    7 | top edge, 475           |
|    3 | image-left edge, 471    |    8 | image-left edge, 476    |
|    4 | bottom edge, 472        |    9 | bottom edge, 477        |
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IBUG49_INDICES",
    "IBUG68_FROM_MESH",
    "IRIS_INDICES",
    "N_MESH",
    "ibug49_from_mesh",
    "ibug68_from_mesh",
    "iris_from_mesh",
]

N_MESH = 478  # vertices of Face Landmarker's mesh with the iris refinement

_H, _Q = 0.5, 0.25
# iBUG index -> ((mesh vertex, weight), ...); weights sum to 1 (see the module docstring).
IBUG68_FROM_MESH: tuple[tuple[tuple[int, float], ...], ...] = (
    ((127, 1.0),),
    ((234, 1.0),),
    ((93, _H), (132, _H)),
    ((58, 1.0),),
    ((172, 1.0),),
    ((136, 1.0),),
    ((150, _H), (149, _H)),
    ((176, _H), (148, _H)),
    ((152, 1.0),),
    ((400, _H), (377, _H)),
    ((379, _H), (378, _H)),
    ((365, 1.0),),
    ((397, 1.0),),
    ((288, 1.0),),
    ((323, _H), (361, _H)),
    ((454, 1.0),),
    ((356, 1.0),),
    # 17-21 right brow, outer to inner: upper contour 70 63 105 66 107, lower 46 53 52 65 55
    ((70, _H), (46, _H)),
    ((63, _H), (53, _H)),
    ((105, _H), (52, _H)),
    ((66, _H), (65, _H)),
    ((107, _H), (55, _H)),
    # 22-26 left brow, inner to outer: upper 336 296 334 293 300, lower 285 295 282 283 276
    ((336, _H), (285, _H)),
    ((296, _H), (295, _H)),
    ((334, _H), (282, _H)),
    ((293, _H), (283, _H)),
    ((300, _H), (276, _H)),
    # 27-30 nose bridge, 31-35 nostrils
    ((168, 1.0),),
    ((197, 1.0),),
    ((5, _H), (195, _H)),
    ((4, _H), (1, _H)),
    ((98, 1.0),),
    ((97, 1.0),),
    ((2, 1.0),),
    ((326, 1.0),),
    ((327, 1.0),),
    # 36-41 right eye, 42-47 left eye
    ((33, _H), (246, _Q), (7, _Q)),
    ((160, 1.0),),
    ((158, 1.0),),
    ((133, _H), (173, _Q), (155, _Q)),
    ((153, 1.0),),
    ((144, 1.0),),
    ((362, _H), (398, _Q), (382, _Q)),
    ((385, 1.0),),
    ((387, 1.0),),
    ((263, _H), (466, _Q), (249, _Q)),
    ((373, 1.0),),
    ((380, 1.0),),
    # 48-59 outer lip, 60-67 inner lip
    ((61, 1.0),),
    ((39, 1.0),),
    ((37, 1.0),),
    ((0, 1.0),),
    ((267, 1.0),),
    ((269, 1.0),),
    ((291, 1.0),),
    ((321, 1.0),),
    ((314, 1.0),),
    ((17, 1.0),),
    ((84, 1.0),),
    ((91, 1.0),),
    ((78, 1.0),),
    ((82, 1.0),),
    ((13, 1.0),),
    ((312, 1.0),),
    ((308, 1.0),),
    ((317, 1.0),),
    ((14, 1.0),),
    ((87, 1.0),),
)

# iBUG 68 without the jaw (0-16) and the inner mouth corners (60, 64): the AVEC 2017 set.
IBUG49_INDICES: tuple[int, ...] = tuple(i for i in range(17, 68) if i not in (60, 64))

# Right eye (image left): centre, image-right, top, image-left, bottom; then the left eye.
IRIS_INDICES: tuple[int, ...] = (468, 469, 470, 471, 472, 473, 474, 475, 476, 477)


def _weight_matrix(ibug_indices: tuple[int, ...]) -> np.ndarray:
    """Dense (len(ibug_indices), 478) float64 matrix whose rows hold the table's weights."""
    weights = np.zeros((len(ibug_indices), N_MESH))
    for row, ibug in enumerate(ibug_indices):
        for vertex, weight in IBUG68_FROM_MESH[ibug]:
            weights[row, vertex] += weight
    return weights


def _gather_form(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The matrix as (rows, 3) vertex indices and (rows, 3) weights, zero-padded."""
    n_terms = max(1, int((weights > 0).sum(axis=1).max()))
    vertices = np.zeros((weights.shape[0], n_terms), dtype=np.intp)
    values = np.zeros((weights.shape[0], n_terms))
    for row in range(weights.shape[0]):
        nonzero = np.flatnonzero(weights[row])
        vertices[row, : nonzero.size] = nonzero
        values[row, : nonzero.size] = weights[row, nonzero]
    return vertices, values


IBUG68_WEIGHTS = _weight_matrix(tuple(range(68)))  # (68, 478)
IBUG49_WEIGHTS = IBUG68_WEIGHTS[list(IBUG49_INDICES)]  # (49, 478)
_VERTICES68, _VALUES68 = _gather_form(IBUG68_WEIGHTS)
_VERTICES49, _VALUES49 = _gather_form(IBUG49_WEIGHTS)


def _check_mesh(mesh_xy: np.ndarray) -> np.ndarray:
    mesh = np.asarray(mesh_xy, dtype=np.float64)
    if mesh.ndim < 2 or mesh.shape[-2] != N_MESH or mesh.shape[-1] < 2:
        raise ValueError(f"expected (..., {N_MESH}, 2) mesh coordinates, got {mesh.shape}")
    return mesh[..., :2]


def _apply(mesh_xy: np.ndarray, vertices: np.ndarray, values: np.ndarray) -> np.ndarray:
    mesh = _check_mesh(mesh_xy)
    # (..., rows, terms, 2) gathered, weighted and summed over the terms
    return np.einsum("...rtc,rt->...rc", mesh[..., vertices, :], values)


def ibug68_from_mesh(mesh_xy: np.ndarray) -> np.ndarray:
    """All 68 iBUG points, jaw included.

    Parameters
    ----------
    mesh_xy : (..., 478, 2) array
        Mesh vertex coordinates (pixels, or any linear unit; a third z column is ignored).

    Returns
    -------
    (..., 68, 2) float64 array in the same unit.
    """
    return _apply(mesh_xy, _VERTICES68, _VALUES68)


def ibug49_from_mesh(mesh_xy: np.ndarray) -> np.ndarray:
    """The iBUG 49 points (``IBUG49_INDICES`` order) from (..., 478, 2) mesh pixels.

    Returns a (..., 49, 2) float64 array in the input's unit (pixels).
    """
    return _apply(mesh_xy, _VERTICES49, _VALUES49)


def iris_from_mesh(mesh_xy: np.ndarray) -> np.ndarray:
    """The 10 iris points (``IRIS_INDICES`` order) from (..., 478, 2) mesh pixels.

    Returns a (..., 10, 2) float64 array in the input's unit (pixels).
    """
    return _check_mesh(mesh_xy)[..., list(IRIS_INDICES), :]
