"""Which points a frame sees, and where they fall on its feature map (design.md 3.1-3.2).

Conventions: pinhole intrinsics K (3x3), pixel (u, v) = (fx x/z + cx, fy y/z + cy) with pixel
centres at integer coordinates (OpenCV, ScanNet). The depth test looks up the depth pixel nearest
to the projection. A feature map of (h, w) cells covers the whole colour image; its cell centres sit
at ``(u + 0.5) * w / W - 0.5`` (and likewise for v), the half-pixel-exact scaling of a resize.
"""

from __future__ import annotations

import numpy as np


def to_camera(xyz: np.ndarray, pose_c2w: np.ndarray) -> np.ndarray:
    """World points (N,3) -> camera coordinates ``inv(T_c2w) p`` (N,3) float32."""
    w2c = np.linalg.inv(np.asarray(pose_c2w, dtype=np.float64))
    rot = w2c[:3, :3].astype(np.float32)
    trans = w2c[:3, 3].astype(np.float32)
    return np.asarray(xyz, dtype=np.float32) @ rot.T + trans


def project(cam: np.ndarray, intrinsic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) float32 of camera points with z > 0."""
    z = cam[:, 2]
    u = cam[:, 0] * np.float32(intrinsic[0, 0]) / z + np.float32(intrinsic[0, 2])
    v = cam[:, 1] * np.float32(intrinsic[1, 1]) / z + np.float32(intrinsic[1, 2])
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
    depth image minus ``border``, sensor depth d > 0 and |z - d| <= tolerance * d. ``depth`` is
    (H, W) float32 metres, 0 = no reading."""
    front = np.flatnonzero(cam[:, 2] > 0)
    u, v = project(cam[front], depth_intrinsic)
    ui, vi, ok = _inside(u, v, depth.shape[:2], border)
    front, ui, vi = front[ok], ui[ok], vi[ok]
    d = depth[vi, ui]
    z = cam[front, 2]
    ok = (d > 0) & (np.abs(z - d) <= np.float32(tolerance) * d)
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


def bilinear_sample(fmap: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of an (h, w, D) map at continuous (row, col) positions -> (P, D)
    float32; positions beyond the outermost cell centres take the edge value."""
    h, w = fmap.shape[:2]
    flat = np.asarray(fmap, dtype=np.float32).reshape(h * w, -1)
    row = np.clip(row, 0, h - 1).astype(np.float32)
    col = np.clip(col, 0, w - 1).astype(np.float32)
    r0 = np.minimum(row.astype(np.int64), h - 1)
    c0 = np.minimum(col.astype(np.int64), w - 1)
    r1 = np.minimum(r0 + 1, h - 1)
    c1 = np.minimum(c0 + 1, w - 1)
    wr = (row - r0)[:, None]
    wc = (col - c0)[:, None]
    top = flat[r0 * w + c0]
    top += wc * (flat[r0 * w + c1] - top)
    bottom = flat[r1 * w + c0]
    bottom += wc * (flat[r1 * w + c1] - bottom)
    top += wr * (bottom - top)
    return top.astype(np.float32, copy=False)
