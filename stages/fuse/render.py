"""Point splatting with a z-buffer, and virtual RGB-D views for scans that have no frames.

The camera transform, projection and depth test are ``projection.py``'s (conventions there), here in
float64.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geopurify.pipeline.scene import Frame, Scene

from .projection import project, to_camera, visible_points


def stable_key(text: str) -> int:
    """A 32-bit seed component from a name (Python's hash() changes between processes)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def scale_intrinsic(K: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """The (3,3) pinhole matrix of an image of ``from_size`` (width, height) resized to ``to_size``,
    keeping pixel centres aligned: a map with a few cells across must not shift by half a cell."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    out = np.array(K[:3, :3], dtype=np.float64)
    out[0, 0] *= sx
    out[1, 1] *= sy
    out[0, 2] = (out[0, 2] + 0.5) * sx - 0.5
    out[1, 2] = (out[1, 2] + 0.5) * sy - 0.5
    return out


@dataclass
class Splat:
    """What a z-buffered rendering of points sees at each pixel."""

    index: np.ndarray
    """(H, W) int64 index of the nearest point covering the pixel, -1 where none does."""
    depth: np.ndarray
    """(H, W) float32 camera depth (m) of that point, 0 where none."""


def splat(xyz: np.ndarray, pose_c2w: np.ndarray, K: np.ndarray, size: tuple[int, int],
          radius: float, max_pixels: int = 32, near: float = 0.05) -> Splat:
    """Render points as discs of world radius ``radius`` (at most ``max_pixels`` px) with a z-buffer:
    each pixel keeps the nearest point whose disc covers it."""
    width, height = size
    pc = to_camera(xyz, pose_c2w, np.float64)
    front = np.flatnonzero(pc[:, 2] > near)
    z = pc[front, 2]
    u, v = (np.rint(c).astype(np.int64) for c in project(pc[front], K))
    r = np.minimum(np.floor(radius * K[0, 0] / z + 0.5), max_pixels).astype(np.int64)
    near_image = (u >= -r) & (u < width + r) & (v >= -r) & (v < height + r)
    front, z, u, v, r = front[near_image], z[near_image], u[near_image], v[near_image], r[near_image]

    # points sorted by splat radius, largest first: the points an offset reaches are a prefix
    order = np.argsort(-r, kind="stable")
    front, z, u, v, r = front[order], z[order], u[order], v[order], r[order]
    reach = -(r * r + r)  # disc of radius r + 1/2 covers offsets with dx^2 + dy^2 <= r^2 + r
    pix_parts, z_parts, idx_parts = [], [], []
    rmax = int(r[0]) if r.size else 0
    for dy in range(-rmax, rmax + 1):
        for dx in range(-rmax, rmax + 1):
            n = int(np.searchsorted(reach, -(dx * dx + dy * dy), side="right"))
            uu, vv = u[:n] + dx, v[:n] + dy
            inside = (uu >= 0) & (uu < width) & (vv >= 0) & (vv < height)
            pix_parts.append((vv * width + uu)[inside])
            z_parts.append(z[:n][inside])
            idx_parts.append(front[:n][inside])
    pix, zc, idx = np.concatenate(pix_parts), np.concatenate(z_parts), np.concatenate(idx_parts)

    zbuf = np.full(width * height, np.inf)
    np.minimum.at(zbuf, pix, zc)
    winner = zc <= zbuf[pix]
    index = np.full(width * height, -1, dtype=np.int64)
    np.maximum.at(index, pix[winner], idx[winner])  # ties at equal depth: the highest index, deterministically
    depth = np.where(np.isfinite(zbuf), zbuf, 0.0).astype(np.float32)
    return Splat(index.reshape(height, width), depth.reshape(height, width))


def render_values(xyz: np.ndarray, values: np.ndarray, pose_c2w: np.ndarray, K: np.ndarray,
                  size: tuple[int, int], radius: float, fill=-1) -> np.ndarray:
    """Per-point ``values`` (N, ...) rendered into a (H, W, ...) image, ``fill`` where no point is."""
    values = np.asarray(values)
    if len(values) == 0:
        return np.full((size[1], size[0]) + values.shape[1:], fill, dtype=values.dtype)
    s = splat(xyz, pose_c2w, K, size, radius)
    out = values[np.maximum(s.index, 0)]
    out[s.index < 0] = fill
    return out


def auto_splat_radius(xyz: np.ndarray) -> float:
    """Disc radius that closes the gaps between a scan's points when nothing else hides what lies
    behind them: twice the median nearest-neighbour distance (discs that wide leave few gaps on a
    randomly sampled surface), at least 1 cm."""
    from geopurify.pipeline.geometry import median_spacing

    return max(0.01, 2.0 * median_spacing(xyz))


def depth_consistent(xyz: np.ndarray, pose_c2w: np.ndarray, depth: np.ndarray, depth_K: np.ndarray,
                     tolerance: float) -> np.ndarray:
    """(N,) bool: the point lies on the surface the depth image (metres, 0 = none) sees, by the fuse
    stage's own test (``projection.visible_points``, no border), in float64."""
    ok = np.zeros(len(xyz), dtype=bool)
    ok[visible_points(to_camera(xyz, pose_c2w, np.float64), depth_K, depth, 0, tolerance)] = True
    return ok


def fill_holes(image: np.ndarray, empty) -> np.ndarray:
    """Pixels equal to ``empty`` take the value of the nearest other pixel (unchanged if all empty)."""
    from scipy import ndimage

    hole = image == empty
    if not hole.any() or hole.all():
        return image
    _, (rows, cols) = ndimage.distance_transform_edt(hole, return_indices=True)
    return image[rows, cols]


# ---- virtual views for point clouds without frames ------------------------------------------------

@dataclass
class VirtualFrame(Frame):
    """A rendered view of a point cloud: the images live in memory, the paths are only names."""

    color: np.ndarray | None = None
    """(H, W, 3) uint8 colours of the splatted points."""
    depth: np.ndarray | None = None
    """(H, W) float32 depth in metres, 0 = no point."""


def virtual_frames(scene: Scene, n_views: int = 120, seed: int = 0, width: int = 320,
                   hfov_deg: float = 58.0, views_per_position: int = 6) -> Scene:
    """A copy of ``scene`` with ``n_views`` virtual RGB-D frames: cameras at head height inside the
    room (z up, as in axis-aligned scans), each position looking around at several headings, level or
    tilted down; colour and depth by point splatting. Deterministic in ``seed``. Only the simulated
    source makes them, and it reads no colour: a scan without colour gets black views."""
    height = int(round(width * 3 / 4))
    f = (width / 2) / np.tan(np.radians(hfov_deg) / 2)
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
    xyz = np.asarray(scene.xyz, dtype=np.float64)
    radius = auto_splat_radius(xyz)

    rng = np.random.default_rng([seed, stable_key(scene.scene_id), 0x5EED])
    positions = _camera_positions(xyz, -(-n_views // views_per_position), rng)
    frames = []
    for i in range(n_views):
        pos = positions[i // views_per_position]
        k = i % views_per_position
        # evenly spread headings with jitter, turned by a different amount at each position
        yaw = 2 * np.pi * (k + rng.uniform(-0.3, 0.3)) / views_per_position + 0.7 * (i // views_per_position)
        pitch = np.radians(rng.uniform(-35.0, 10.0))  # mostly level or down, as a hand-held scan
        pose = look_pose(pos, yaw, pitch)
        s = splat(xyz, pose, K, (width, height), radius)
        color = (scene.rgb[np.maximum(s.index, 0)].copy() if scene.rgb is not None
                 else np.zeros(s.index.shape + (3,), np.uint8))
        color[s.index < 0] = 0
        name = f"virtual{i:03d}"
        frames.append(VirtualFrame(name=name, color_path=Path(f"<virtual>/{name}.png"), depth_path=None,
                                   pose=pose, color=color, depth=s.depth))
    return dataclasses.replace(scene, frames=frames, color_intrinsic=K, depth_intrinsic=K.copy(),
                               depth_scale=1000.0)


def look_pose(position: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """Camera-to-world pose at ``position`` looking at heading ``yaw`` (about +z), tilted by ``pitch``
    (negative = down), image x to the right and y down."""
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, position
    return pose


def _camera_positions(xyz: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` camera positions at 1.2-1.7 m above the floor, with floor below them and no point
    within 0.6 m (inside the room, not inside furniture), spread over the free space by farthest-
    point sampling (a scan's operator walks around the room); relaxed if the room is tight."""
    from geopurify.pipeline.geometry import knn

    floor = np.percentile(xyz[:, 2], 2)
    ceiling = np.percentile(xyz[:, 2], 98)
    lo, hi = np.percentile(xyz[:, :2], 3, axis=0), np.percentile(xyz[:, :2], 97, axis=0)
    floor_xy = xyz[xyz[:, 2] < floor + 0.15, :2]
    if len(floor_xy) < 10:
        floor_xy = xyz[:, :2]
    floor_pts = np.column_stack([floor_xy, np.zeros(len(floor_xy))])
    valid = np.zeros((0, 3))
    clearance, floor_reach = 0.6, 0.3
    while len(valid) < max(4 * n, 64):
        cand = np.column_stack([rng.uniform(lo[0], hi[0], 1024), rng.uniform(lo[1], hi[1], 1024),
                                floor + rng.uniform(1.2, 1.7, 1024)])
        cand[:, 2] = np.minimum(cand[:, 2], max(floor + 0.5, ceiling - 0.2))
        free = knn(xyz, cand, 1)[0][:, 0] > clearance
        over_floor = knn(floor_pts, np.column_stack([cand[:, :2], np.zeros(len(cand))]), 1)[0][:, 0] < floor_reach
        good = cand[free & over_floor]
        valid = np.vstack([valid, good])
        if len(good) < n:  # tight or sparse room: accept closer to things
            clearance, floor_reach = clearance * 0.8, floor_reach * 1.25
    # farthest-point sampling in the floor plane, from a random start
    chosen = [int(rng.integers(len(valid)))]
    dist = np.linalg.norm(valid[:, :2] - valid[chosen[0], :2], axis=1)
    while len(chosen) < n:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(valid[:, :2] - valid[nxt, :2], axis=1))
    return valid[chosen]
