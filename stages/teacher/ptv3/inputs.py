"""A scan -> the encoder's input: the published Sonata transform, made deterministic.

Shift x and y to the centre of the scan's bounding box and z to its minimum; keep one point per cell
of a 2 cm grid (the lowest point index of the cell, where the published transform draws one at
random); features = [shifted coordinates (m), colour in [0, 1], unit normal]. Colour is divided by
255 once (the published GeoPurify code divides a second time, which feeds almost black scans).

A scan without colour, without normals, or with zero normals is refused, unless ``allow_missing``
(``teacher.ptv3_missing``) lists what it lacks: then zeros are fed there, as the 2025 Sonata and
Concerto checkpoints were trained to accept (their own demo pads with zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.errors import InputError

from ..config import MISSING_COLOR, MISSING_NORMAL
from .serialization import MAX_DEPTH

GRID_SIZE = 0.02
"""Input grid (metres) of every published Sonata and Concerto checkpoint."""


@dataclass
class ScanInputs:
    feat: np.ndarray
    """(V, 9) float32 per kept point: shifted xyz, colour in [0, 1], unit normal."""
    coord: np.ndarray
    """(V, 3) float32 shifted positions (metres) of the kept points."""
    grid_coord: np.ndarray
    """(V, 3) int64 >= 0 grid cell of every kept point."""
    cell_of_point: np.ndarray
    """(N,) int64: the kept point (row of ``feat``) standing for each input point's cell."""


def scan_inputs(xyz: np.ndarray, rgb: np.ndarray | None, normal: np.ndarray | None, source: str,
                grid_size: float = GRID_SIZE, allow_missing: tuple[str, ...] = ()) -> ScanInputs:
    """The encoder's input for one scan (``source`` names the scan in errors). ``rgb`` or ``normal``
    None: the scan lacks it; zeros are fed when ``allow_missing`` names it, else it is refused."""
    xyz = np.asarray(xyz, dtype=np.float32)
    n = len(xyz)
    if n == 0:
        raise InputError(source, "no points: the ptv3 teacher needs a non-empty scan")
    if normal is None and MISSING_NORMAL in allow_missing:
        normal = np.zeros((n, 3), np.float32)
    if normal is None or np.shape(normal) != (n, 3):
        raise InputError(source, "no normals (N, 3): the ptv3 teacher needs them (Sonata is trained "
                                 "with normals); set teacher.ptv3_missing = [\"normal\"] to feed zeros "
                                 "(2025 Sonata / Concerto checkpoints)")
    normal = np.asarray(normal, dtype=np.float32)
    length = np.linalg.norm(normal, axis=1)
    zero = ~(length > 1e-6)
    if zero.any() and MISSING_NORMAL not in allow_missing:
        raise InputError(source, f"{int(zero.sum())} of {n} normals are zero or not finite: the ptv3 "
                                 "teacher needs a unit normal at every point, or set "
                                 "teacher.ptv3_missing = [\"normal\"] to feed zeros there")
    normal = np.where(zero[:, None], 0.0, normal / np.where(zero, 1.0, length)[:, None]).astype(np.float32)
    if rgb is None and MISSING_COLOR not in allow_missing:
        raise InputError(source, "the scan has no colour: the ptv3 teacher refuses it unless "
                                 "teacher.ptv3_missing = [\"color\"] feeds zeros for it (for checkpoints "
                                 "trained to accept them: sonata_20251024, Concerto)")
    if rgb is None:
        rgb = np.zeros((n, 3), np.float32)
    if np.shape(rgb) != (n, 3):
        raise InputError(source, f"colours of shape {np.shape(rgb)}, expected ({n}, 3)")
    colour = (np.asarray(rgb, dtype=np.float32) / 255.0 if np.asarray(rgb).dtype == np.uint8
              else np.asarray(rgb, dtype=np.float32))

    low, high = xyz.min(axis=0), xyz.max(axis=0)
    shift = np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, low[2]], dtype=np.float32)
    coord = xyz - shift
    grid = np.floor(coord / np.float64(grid_size)).astype(np.int64)
    grid -= grid.min(axis=0)
    extent = grid.max(axis=0) + 1
    if extent.max() > 1 << MAX_DEPTH:
        raise InputError(source, f"scan spans {extent.max()} cells of {grid_size} m: the ptv3 "
                                 f"encoder's codes allow {1 << MAX_DEPTH}")
    key = (grid[:, 0] * extent[1] + grid[:, 1]) * extent[2] + grid[:, 2]
    _, first, cell_of_point = np.unique(key, return_index=True, return_inverse=True)
    feat = np.concatenate([coord[first], colour[first], normal[first]], axis=1)
    return ScanInputs(feat.astype(np.float32), coord[first], grid[first], cell_of_point.reshape(-1))
