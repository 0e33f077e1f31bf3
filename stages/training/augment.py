"""Random similarity transforms of a training step's points: a turn about z, a small tilt, a scale."""

from __future__ import annotations

import math

import numpy as np


def random_rotation(rng: np.random.Generator, tilt_degrees: float) -> np.ndarray:
    """(3,3) rotation: a uniform turn about z, then a tilt of at most ``tilt_degrees`` about x and
    about y. Draws the turn, then the two tilts, from ``rng``."""
    yaw = rng.uniform(0.0, 2.0 * math.pi)
    tx, ty = np.radians(rng.uniform(-tilt_degrees, tilt_degrees, size=2))
    cz, sz = math.cos(yaw), math.sin(yaw)
    cx, sx = math.cos(tx), math.sin(tx)
    cy, sy = math.cos(ty), math.sin(ty)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rx @ rz


def random_similarity(rng: np.random.Generator, scale_min: float, scale_max: float,
                      tilt_degrees: float) -> tuple[np.ndarray, float]:
    """``random_rotation`` and then a uniform scale in [scale_min, scale_max]."""
    rotation = random_rotation(rng, tilt_degrees)
    return rotation, float(rng.uniform(scale_min, scale_max))
