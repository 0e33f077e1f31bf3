"""Which points a frame sees, and where they fall on its feature map (design.md section 3.1-3.2).

The one camera transform and depth test of the package: the fuse stage uses them in float32, the
simulator's renderer (``render.py``) in float64.

Conventions: poses are camera-to-world 4x4, the camera looks along +z, x right, y down; pinhole
intrinsics K (3x3), pixel (u, v) = (fx x/z + cx, fy y/z + cy) with pixel centres at integer
coordinates (OpenCV, ScanNet). The depth test looks up the depth pixel nearest to the projection.
A feature map of (h, w) cells covers the whole colour image; its cell centres sit at
``(u + 0.5) * w / W - 0.5`` (and likewise for v), the half-pixel-exact scaling of a resize.
"""

from __future__ import annotations

import numpy as np


def to_camera(xyz: np.ndarray, pose_c2w: np.ndarray, dtype=np.float32) -> np.ndarray:
    """World points (N,3) -> camera coordinates ``inv(T_c2w) p`` (N,3) in ``dtype``."""
    w2c = np.linalg.inv(np.asarray(pose_c2w, dtype=np.float64)).astype(dtype)
    xyz = np.asarray(xyz, dtype=dtype)
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    out = np.empty_like(xyz)
    # elementwise rather than an (N,3)x(3,3) matmul: BLAS threading makes that tall, thin product
    # much slower on a busy machine
    for i in range(3):
        out[:, i] = x * w2c[i, 0] + y * w2c[i, 1] + z * w2c[i, 2] + w2c[i, 3]
    return out


def project(cam: np.ndarray, intrinsic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) of camera points with z > 0, in the points' float dtype."""
    k = np.asarray(intrinsic, dtype=cam.dtype)
    z = cam[:, 2]
    u = cam[:, 0] * k[0, 0] / z + k[0, 2]
    v = cam[:, 1] * k[1, 1] / z + k[1, 2]
    return u, v


def _inside(u: np.ndarray, v: np.ndarray, size: tuple[int, int], border: int):
    """Nearest pixel (ui, vi) int64 and whether it lies in the image minus ``border`` pixels."""
    ui = np.rint(u).astype(np.int64)
    vi = np.rint(v).astype(np.int64)
    height, width = size
    ok = (ui >= border) & (ui < width - border) & (vi >= border) & (vi < height - border)
    return ui, vi, ok


def visible_points(cam: np.ndarray, depth_intrinsic: np.ndarray, depth: np.ndarray, border: int,
                   tolerance: float) -> np.ndarray:
    """Indices (int64, ascending) of the camera points the depth image confirms: z > 0, inside the
    depth image minus ``border``, sensor depth d > 0 and |z - d| <= tolerance * d, in the points'
    float dtype. ``depth`` is (H, W) metres, 0 = no reading."""
    front = np.flatnonzero(cam[:, 2] > 0)
    u, v = project(cam[front], depth_intrinsic)
    ui, vi, ok = _inside(u, v, depth.shape[:2], border)
    front, ui, vi = front[ok], ui[ok], vi[ok]
    d = depth[vi, ui]
    z = cam[front, 2]
    ok = (d > 0) & (np.abs(z - d) <= np.asarray(tolerance, dtype=cam.dtype) * d)
    return front[ok]


def frustum_points(cam: np.ndarray, intrinsic: np.ndarray, size: tuple[int, int], border: int) -> np.ndarray:
    """Indices (int64, ascending) of the camera points in front of the camera and inside the image
    (H, W) = ``size`` minus ``border``: visibility when there is no depth (occlusion is ignored)."""
    front = np.flatnonzero(cam[:, 2] > 0)
    u, v = project(cam[front], intrinsic)
    _, _, ok = _inside(u, v, size, border)
    return front[ok]


def feature_positions(cam: np.ndarray, color_intrinsic: np.ndarray, color_size: tuple[int, int],
                      map_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Continuous (row, col) float32 positions on an (h, w) feature map spanning the colour image
    (H, W), for camera points with z > 0."""
    u, v = project(cam, color_intrinsic)
    height, width = color_size
    h, w = map_size
    col = (u + np.float32(0.5)) * np.float32(w / width) - np.float32(0.5)
    row = (v + np.float32(0.5)) * np.float32(h / height) - np.float32(0.5)
    return row, col


def bilinear_corners(row: np.ndarray, col: np.ndarray, map_size: tuple[int, int]):
    """Flat indices (P, 4) int64 of the four cells around each position (top-left, top-right,
    bottom-left, bottom-right; clamped at the edges, so corners may coincide) and their bilinear
    weights (P, 4) float32. Positions beyond the outermost cell centres take the edge value."""
    h, w = map_size
    row = np.clip(row, 0, h - 1).astype(np.float32)
    col = np.clip(col, 0, w - 1).astype(np.float32)
    r0 = np.minimum(row.astype(np.int64), h - 1)
    c0 = np.minimum(col.astype(np.int64), w - 1)
    r1 = np.minimum(r0 + 1, h - 1)
    c1 = np.minimum(c0 + 1, w - 1)
    wr = row - r0
    wc = col - c0
    cells = np.stack([r0 * w + c0, r0 * w + c1, r1 * w + c0, r1 * w + c1], axis=1)
    weights = np.stack([(1 - wr) * (1 - wc), (1 - wr) * wc, wr * (1 - wc), wr * wc], axis=1)
    return cells, weights.astype(np.float32)


def bilinear_matrix(row: np.ndarray, col: np.ndarray, map_size: tuple[int, int]):
    """Sparse (P, h*w) matrix whose product with a flattened (h*w, D) map samples it bilinearly:
    faster than gathering the four corner rows with numpy indexing."""
    import scipy.sparse as sp

    cells, weights = bilinear_corners(row, col, map_size)
    p = len(cells)
    return sp.csr_matrix((weights.ravel(), cells.ravel(), np.arange(0, 4 * p + 1, 4)),
                         shape=(p, map_size[0] * map_size[1]))


def bilinear_sample(fmap: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of an (h, w, D) map at continuous (row, col) positions -> (P, D)
    float32; positions beyond the outermost cell centres take the edge value."""
    h, w = fmap.shape[:2]
    flat = np.asarray(fmap, dtype=np.float32).reshape(h * w, -1)
    if len(row) == 0:
        return np.zeros((0, flat.shape[1]), dtype=np.float32)
    return np.asarray(bilinear_matrix(row, col, (h, w)) @ flat, dtype=np.float32)
