"""Peak refinement by the parabola through three points (openSMILE's quadratic fit)."""

from __future__ import annotations

import numpy as np


def parabola_vertex(x1, x2, x3, y1, y2, y3) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through ``(x1, y1)``, ``(x2, y2)``, ``(x3, y3)``, elementwise.

    The coefficients are computed with openSMILE's expressions, term by term, so that
    refined peaks match its values to the last bit. Where the points are collinear the
    middle point ``(x2, y2)`` is returned.

    Returns
    -------
    position, value : ndarray
        Abscissa and ordinate of the vertex, in the units of ``x`` and ``y``.
    """
    den = x1 * x1 * x2 + x2 * x2 * x3 + x3 * x3 * x1 - x3 * x3 * x2 - x2 * x2 * x1 - x1 * x1 * x3
    den = np.where(den == 0.0, 1.0, den)
    a = (y1 * x2 + y2 * x3 + y3 * x1 - y3 * x2 - y2 * x1 - y1 * x3) / den
    b = (
        x1 * x1 * y2 + x2 * x2 * y3 + x3 * x3 * y1 - x3 * x3 * y2 - x2 * x2 * y1 - x1 * x1 * y3
    ) / den
    c = (
        x1 * x1 * x2 * y3
        + x2 * x2 * x3 * y1
        + x3 * x3 * x1 * y2
        - x3 * x3 * x2 * y1
        - x2 * x2 * x1 * y3
        - x1 * x1 * x3 * y2
    ) / den
    curved = a != 0.0
    safe_a = np.where(curved, a, 1.0)
    vertex = np.where(curved, -b / (2.0 * safe_a), x2)
    return vertex, np.where(curved, c - safe_a * vertex * vertex, y2)
