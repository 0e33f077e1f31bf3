"""Cameras of a synthetic scene: poses that look into the room, intrinsics, and colour / depth
frames ray cast against the room's rectangles (exact occlusion)."""

from __future__ import annotations

import numpy as np

from .room import _Box, _colour, _other_axes, _Quads, _surface_labels

def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world (OpenCV axes: x right, y down, z forward) with the world z axis up."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


def _camera_poses(rng: np.random.Generator, room: np.ndarray, boxes: list[_Box], footprints, n: int) -> list[np.ndarray]:
    poses = []
    targets = [np.r_[(lo + hi) / 2, 0.0] for lo, hi in footprints] or [np.r_[room[:2] / 2, 0.0]]
    heights = {}
    for b in boxes:  # aim at 60% of each object's height
        for t_i, (lo, hi) in enumerate(footprints):
            if np.all(b.lo[:2] >= lo - 1e-9) and np.all(b.hi[:2] <= hi + 1e-9):
                heights[t_i] = max(heights.get(t_i, 0.0), b.hi[2])
    for i in range(n):
        t_i = i % len(targets)
        target = targets[t_i].copy()
        target[2] = 0.6 * heights.get(t_i, 1.0)
        # a free spot (not above furniture) at least 1.6 m from the target, else the farthest one
        eyes = np.c_[rng.uniform(0.4, room[0] - 0.4, 64), rng.uniform(0.4, room[1] - 0.4, 64),
                     rng.uniform(1.3, 1.7, 64)]
        clear = np.array([all(np.any(e[:2] < lo - 0.3) or np.any(e[:2] > hi + 0.3) for lo, hi in footprints)
                          for e in eyes])
        dist = np.where(clear, np.linalg.norm(eyes[:, :2] - target[:2], axis=1), -1.0)
        far = np.flatnonzero(dist >= 1.6)
        eye = eyes[far[0]] if len(far) else eyes[int(np.argmax(dist))]
        poses.append(_look_at(eye, target + rng.uniform(-0.15, 0.15, 3)))
    return poses


def _raycast(origin: np.ndarray, dirs: np.ndarray, quads: _Quads) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of each ray ``origin + t * dirs`` (t > 0) on the quads: (t, quad index), t = inf
    and index -1 where nothing is hit. Faces turned away from the camera are skipped: every box is
    closed (its open bottom lies on the floor) and the camera is inside the room, so a ray meets a
    front face before any back face, and culling changes no pixel while halving the work."""
    dirs = dirs.astype(np.float32)
    facing = quads.sign * (origin[quads.axis] - quads.coord) > 0
    best_t = np.full(len(dirs), np.inf, dtype=np.float32)
    best_q = np.full(len(dirs), -1)
    for axis in range(3):  # quads sharing a normal axis share the arithmetic
        sel = np.flatnonzero((quads.axis == axis) & facing)
        if not len(sel):
            continue
        p, q = _other_axes(axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (quads.coord[sel] - origin[axis]).astype(np.float32)[None, :] / dirs[:, axis:axis + 1]
        hp = np.float32(origin[p]) + t * dirs[:, p:p + 1]
        ok = (t > 1e-6) & (hp >= quads.lo[sel, 0].astype(np.float32)) & (hp <= quads.hi[sel, 0].astype(np.float32))
        hq = np.float32(origin[q]) + t * dirs[:, q:q + 1]
        ok &= (hq >= quads.lo[sel, 1].astype(np.float32)) & (hq <= quads.hi[sel, 1].astype(np.float32))
        t[~ok] = np.inf
        arg = np.argmin(t, axis=1)
        tmin = t[np.arange(len(t)), arg]
        better = tmin < best_t
        best_t[better] = tmin[better]
        best_q[better] = sel[arg[better]]
    return best_t.astype(np.float64), best_q


def _camera_rays(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """Camera-frame ray of every pixel (row-major), with z = 1 so that t is the camera z depth."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1).reshape(-1, 3)


def _render(rays: np.ndarray, width, height, cam_to_room, quads, decals, seed, colour: bool) -> np.ndarray:
    dirs = rays @ cam_to_room[:3, :3].T
    origin = cam_to_room[:3, 3]
    t, qi = _raycast(origin, dirs, quads)
    hit = qi >= 0
    if not colour:
        depth_mm = np.where(hit, np.round(np.where(hit, t, 0) * 1000.0), 0)
        return np.clip(depth_mm, 0, 65535).astype(np.uint16).reshape(height, width)
    img = np.zeros((len(dirs), 3), dtype=np.uint8)
    pos = origin + t[hit, None] * dirs[hit]
    q = qi[hit]
    labels = _surface_labels(quads, decals, q, pos)
    img[hit] = _colour(pos, labels, quads.axis[q], quads.sign[q], quads.tint[q], seed)
    return img.reshape(height, width, 3)


def _intrinsic(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A ScanNet-like pinhole (focal ~0.9 x width, principal point near the centre), rounded to 6
    decimals like the written file."""
    K = np.eye(4)
    K[0, 0] = 0.9 * width * rng.uniform(0.99, 1.01)
    K[1, 1] = 0.9 * width * rng.uniform(0.99, 1.01)
    K[0, 2] = (width - 1) / 2 + rng.uniform(-2, 2) * width / 640
    K[1, 2] = (height - 1) / 2 + rng.uniform(-2, 2) * width / 640
    return np.round(K, 6)


# ---- files --------------------------------------------------------------------------------
