"""The optional arrays of a points group: colour, which a scan may lack, and mesh faces.

Colour absent (a LiDAR cloud) is recorded as absent, never as black: a points group of a scan without colour has no ``rgb`` array and ``has_color: false``; whoever
reads colour asks here and decides, saying so in what it writes, how to do without (the geometric
teacher leaves its colour block out, the student and the ptv3 teacher are fed zeros).
"""

from __future__ import annotations

import numpy as np

from .store import Store
from .vocabulary import FACES, POINTS, RGB, scene_group


def stored_rgb(store: Store, scene_id: str) -> np.ndarray | None:
    """(N, 3) uint8 colours of the scene's points, or None when the scan has none."""
    path = scene_group(scene_id, POINTS)
    group = store.group(path)
    if group is None or RGB not in group:
        return None
    return store.read(path, RGB)


def zeros_for_absent(rgb: np.ndarray | None, n: int) -> np.ndarray:
    """``rgb``, or (n, 3) uint8 zeros standing in for absent colour (for inputs of fixed width)."""
    return np.zeros((n, 3), np.uint8) if rgb is None else rgb


def stored_faces(store: Store, scene_id: str) -> np.ndarray | None:
    """(F, 3) int32 mesh triangles of the scene's points, or None for a point cloud (or a store
    ingested before faces were kept)."""
    path = scene_group(scene_id, POINTS)
    group = store.group(path)
    if group is None or FACES not in group:
        return None
    return store.read(path, FACES)
