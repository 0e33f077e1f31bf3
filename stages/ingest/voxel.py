"""The light reconstruction: back-projected depth averaged on a voxel grid (pure numpy).

Per frame, every depth reading in (0, ``depth_max``] becomes a world point with the colour the frame
saw there; per ``voxel_size`` cell the positions and colours are averaged over all frames, and cells
that fewer than ``min_views`` frames reached are dropped. Sums run in float64 in a fixed order and
cells come out sorted by their grid index, so the result does not depend on anything but the input.
"""

from __future__ import annotations

import numpy as np

from .config import IngestConfig

_BITS = 21
_OFFSET = 1 << (_BITS - 1)
_MERGE_EVERY = 16
"""Frames whose per-cell sums are gathered before they are folded into the running total."""


def grid_keys(cells: np.ndarray) -> np.ndarray:
    """One int64 per grid cell (N, 3) int64 (cells within +-2**20 of the origin), ordered as (x, y, z)."""
    c = cells + _OFFSET
    return (c[:, 0] << (2 * _BITS)) | (c[:, 1] << _BITS) | c[:, 2]


def key_cells(keys: np.ndarray) -> np.ndarray:
    """The cells (N, 3) int64 of ``grid_keys``."""
    mask = (1 << _BITS) - 1
    return np.stack([keys >> (2 * _BITS), (keys >> _BITS) & mask, keys & mask], axis=1) - _OFFSET


def back_project(depth: np.ndarray, K: np.ndarray, pose: np.ndarray, depth_max: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """World points (M, 3) float64 of the valid readings, and their flat pixel indices."""
    h, w = depth.shape
    flat = np.flatnonzero((depth.ravel() > 0) & (depth.ravel() <= depth_max))
    v, u = np.divmod(flat, w)
    z = depth.ravel()[flat].astype(np.float64)
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    cam = np.stack([x, y, z], axis=1)
    return cam @ pose[:3, :3].T + pose[:3, 3], flat


def reduce_by_key(keys: np.ndarray, values: np.ndarray, counts: np.ndarray):
    """Sum the rows of ``values`` (float64) and ``counts`` per unique key; keys come out sorted."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.stack([np.bincount(inverse, weights=values[:, j], minlength=len(uniq))
                     for j in range(values.shape[1])], axis=1)
    return uniq, sums, np.bincount(inverse, weights=counts, minlength=len(uniq))


def fold(parts: list[tuple]):
    """``reduce_by_key`` over several (keys, values, counts) parts at once, in the parts' order."""
    return reduce_by_key(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                         np.concatenate([p[2] for p in parts]))


def voxel_points(frames, read, K_depth: np.ndarray, cfg: IngestConfig) -> tuple[np.ndarray, np.ndarray]:
    """(xyz float32 (N, 3), rgb uint8 (N, 3)) of the kept cells, sorted by cell."""
    K = np.asarray(K_depth, np.float64)
    total = (np.zeros(0, np.int64), np.zeros((0, 7)), np.zeros(0))  # keys, [count xyz rgb], views
    pending: list[tuple] = []
    for i, frame in enumerate(frames):
        depth, colour = read(frame)
        world, flat = back_project(depth, K, frame.pose, cfg.depth_max)
        if len(world) == 0:
            continue
        keys = grid_keys(np.floor(world / cfg.voxel_size).astype(np.int64))
        values = np.concatenate([np.ones((len(world), 1)), world,
                                 colour.reshape(-1, 3)[flat].astype(np.float64)], axis=1)
        uniq, sums, _ = reduce_by_key(keys, values, np.zeros(len(keys)))
        pending.append((uniq, sums, np.ones(len(uniq))))  # one view per cell per frame
        if len(pending) == _MERGE_EVERY or i == len(frames) - 1:
            total = fold([total, *pending])
            pending = []
    _, sums, views = total
    keep = views >= cfg.min_views
    sums = sums[keep]
    count = sums[:, :1]
    xyz = (sums[:, 1:4] / count).astype(np.float32)
    rgb = np.clip(np.rint(sums[:, 4:7] / count), 0, 255).astype(np.uint8)
    return xyz, rgb
