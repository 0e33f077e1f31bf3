"""Deterministic synthetic scans written in the ScanNet layout, for tests and demos.

A scene is a rectangular room (floor and four walls, no ceiling) with furniture made of axis-aligned
boxes (bed, table with legs, chair with a backrest, sofa with a backrest, cabinet against a wall) and
a door, a window and a picture as labelled regions of the walls. Every surface is an axis-aligned
rectangle in the room's frame; the room is then placed in a "raw scan" world frame by a random
rotation about z and a shift, so, as in ScanNet, the points and poses are not axis-aligned and
``<scene>.txt`` records the ``axisAlignment`` that undoes it.

- The mesh samples each rectangle on a regular grid (two triangles a cell, wound so the face normal
  points to the side the surface is seen from); surface parts hidden inside other boxes (the floor
  under the bed, the wall behind the cabinet) are left out, as a scanner would never see them.
- Colour and depth frames are ray cast against the same rectangles, so occlusion is exact: the
  nearest surface along each pixel's ray wins. Pixel (i, j) is the ray through image coordinates
  u = i, v = j (pixel centres at integers), so rounding a projection picks the pixel.
- Colours are a function of the surface point (class colour, a per-object tint, a shade per face
  direction and a hashed 4 cm texture), so a vertex and the pixels that see it agree.
- Files are bit-identical for the same arguments: one seeded generator, fixed-precision text,
  deterministic image and PLY encoders. Poses and intrinsics are rounded to the 6 decimals written
  and the images are rendered from the rounded values, so the files agree with each other exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .ply import write_ply

# NYU40 ids of the ScanNet-20 classes used here
WALL, FLOOR, CABINET, BED, CHAIR, SOFA, TABLE, DOOR, WINDOW, PICTURE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 11

CLASS_COLOURS = {
    WALL: (205, 200, 190), FLOOR: (150, 110, 75), CABINET: (115, 75, 45), BED: (70, 95, 170),
    CHAIR: (180, 45, 45), SOFA: (85, 145, 75), TABLE: (215, 170, 95), DOOR: (140, 100, 180),
    WINDOW: (165, 210, 240), PICTURE: (235, 205, 40),
}

_COLOUR_LUT = np.zeros((41, 3))
for _id, _rgb in CLASS_COLOURS.items():
    _COLOUR_LUT[_id] = _rgb

# brightness of a surface by the direction it faces, indexed by 2 * axis + (sign > 0)
_SHADE = np.array([0.8, 0.85, 0.75, 0.92, 0.55, 1.0])

TEXTURE_CELL = 0.04
"""Edge (m) of the cells of the hashed colour texture."""


@dataclass
class _Box:
    lo: np.ndarray
    hi: np.ndarray
    label: int
    tint: float


@dataclass
class _Quads:
    """Axis-aligned rectangles: the plane ``x[axis] = coord``, bounded on the other two axes."""

    axis: np.ndarray   # (Q,) int, normal axis
    sign: np.ndarray   # (Q,) int, +1/-1: the side the surface faces
    coord: np.ndarray  # (Q,) plane coordinate
    lo: np.ndarray     # (Q, 2) bounds on the other two axes, in increasing axis order
    hi: np.ndarray     # (Q, 2)
    label: np.ndarray  # (Q,) NYU40 id
    tint: np.ndarray   # (Q,) per-object brightness
    owner: np.ndarray  # (Q,) index of the box a face belongs to, -1 for the room


@dataclass
class _Decal:
    """A labelled rectangle on a wall (door, window, picture), bounds on the wall's two axes."""

    quad: int
    label: int
    lo: np.ndarray
    hi: np.ndarray


def _other_axes(axis: int) -> tuple[int, int]:
    return [(1, 2), (0, 2), (0, 1)][axis]


# ---- layout ------------------------------------------------------------------------------
def _furniture(rng: np.random.Generator) -> list[tuple[str, list[tuple[int, np.ndarray, np.ndarray]]]]:
    """Objects as lists of (label, lo, hi) boxes in a local frame: footprint from (0,0), the back
    (where a backrest goes) at y = depth."""
    def j(x):  # +-10% size jitter
        return float(x * rng.uniform(0.9, 1.1))

    objects = []  # the cabinet first: it must fit against its wall, the others go around it
    objects.append(("cabinet", [(CABINET, np.array([0, 0, 0.0]), np.array([j(0.8), j(0.45), j(1.7)]))]))
    w, d, h = j(2.0), j(1.5), j(0.55)
    objects.append(("bed", [(BED, np.array([0, 0, 0.0]), np.array([w, d, h]))]))
    w, d, h, leg = j(1.2), j(0.8), j(0.75), 0.06
    table = [(TABLE, np.array([0, 0, h - 0.05]), np.array([w, d, h]))]
    for x0, y0 in ((0, 0), (w - leg, 0), (0, d - leg), (w - leg, d - leg)):
        table.append((TABLE, np.array([x0, y0, 0.0]), np.array([x0 + leg, y0 + leg, h - 0.05])))
    objects.append(("table", table))
    w, seat = j(0.48), j(0.46)
    objects.append(("chair", [(CHAIR, np.array([0, 0, 0.0]), np.array([w, w, seat])),
                              (CHAIR, np.array([0, w - 0.07, seat]), np.array([w, w, seat + j(0.45)]))]))
    w, d, seat = j(1.9), j(0.9), j(0.42)
    objects.append(("sofa", [(SOFA, np.array([0, 0, 0.0]), np.array([w, d, seat])),
                             (SOFA, np.array([0, d - 0.22, seat]), np.array([w, d, seat + j(0.4)]))]))
    return objects


def _place(boxes_local, quarter_turns: int, offset: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Rotate an object's boxes by quarter turns about z (about its footprint corner) and shift."""
    out = []
    for label, lo, hi in boxes_local:
        corners = np.array([[lo[0], lo[1]], [hi[0], hi[1]]])
        for _ in range(quarter_turns % 4):
            corners = np.stack([-corners[:, 1], corners[:, 0]], axis=1)  # (x, y) -> (-y, x)
        lo2, hi2 = corners.min(axis=0), corners.max(axis=0)
        out.append((label, np.array([lo2[0], lo2[1], lo[2]]), np.array([hi2[0], hi2[1], hi[2]])))
    foot_lo = np.min([b[1][:2] for b in out], axis=0)
    return [(lab, lo + np.r_[offset - foot_lo, 0], hi + np.r_[offset - foot_lo, 0]) for lab, lo, hi in out]


_AGAINST_WALL = {"cabinet", "bed", "sofa"}
# quarter turns that put an object's back (local +y) against wall 0 (x=0), 1 (x=W), 2 (y=0), 3 (y=D)
_TURNS_TO_WALL = {0: 1, 1: 3, 2: 2, 3: 0}


def _against_wall(local, wall: int, along: float, room: np.ndarray):
    placed = _place(local, _TURNS_TO_WALL[wall], np.zeros(2))
    size = np.max([b[2][:2] for b in placed], axis=0)
    free = room[:2] - size
    offset = {0: [0.0, along * free[1]], 1: [free[0], along * free[1]],
              2: [along * free[0], 0.0], 3: [along * free[0], free[1]]}[wall]
    return _place(local, _TURNS_TO_WALL[wall], np.array(offset))


def _layout(rng: np.random.Generator):
    """Room size, wall roles, furniture boxes and footprints; a new room is drawn when an object
    does not fit (rare), so every scene has every object."""
    for _ in range(20):
        room, walls, boxes, footprints, objects = _try_layout(rng)
        if len(footprints) == objects:
            break
    return room, walls, boxes, footprints


def _try_layout(rng: np.random.Generator):
    room = np.array([rng.uniform(4.8, 6.2), rng.uniform(3.8, 5.0), rng.uniform(2.4, 2.8)])
    walls = rng.permutation(4)  # which wall gets the door, window, picture, cabinet
    boxes: list[_Box] = []
    footprints: list[tuple[np.ndarray, np.ndarray]] = []
    furniture = _furniture(rng)
    for name, local in furniture:
        tint = float(rng.uniform(0.88, 1.12))
        size = np.max([hi[:2] for _, _, hi in local], axis=0)
        for _ in range(200):
            if name in _AGAINST_WALL:  # back against a wall (the cabinet's own), facing the room
                wall = int(walls[3]) if name == "cabinet" else int(rng.integers(4))
                placed = _against_wall(local, wall, rng.uniform(0.05, 0.95), room)
            else:
                turns = int(rng.integers(4))
                fsize = size if turns % 2 == 0 else size[::-1]
                placed = _place(local, turns, rng.uniform([0.15, 0.15], room[:2] - fsize - 0.15))
            lo = np.min([b[1][:2] for b in placed], axis=0)
            hi = np.max([b[2][:2] for b in placed], axis=0)
            if np.any(lo < -1e-9) or np.any(hi > room[:2] + 1e-9):
                continue
            # keep a 0.3 m walkway between objects
            if any(np.all(lo < fhi + 0.3) and np.all(flo < hi + 0.3) for flo, fhi in footprints):
                continue
            footprints.append((lo, hi))
            boxes += [_Box(blo, bhi, lab, tint) for lab, blo, bhi in placed]
            break
    return room, walls, boxes, footprints, len(furniture)


def _quads(room: np.ndarray, boxes: list[_Box]) -> _Quads:
    rows = []  # (axis, sign, coord, lo0, lo1, hi0, hi1, label, tint, owner)
    W, D, H = room
    rows.append((2, 1, 0.0, 0, 0, W, D, FLOOR, 1.0, -1))
    rows.append((0, 1, 0.0, 0, 0, D, H, WALL, 1.0, -1))   # wall 0: x = 0
    rows.append((0, -1, W, 0, 0, D, H, WALL, 1.0, -1))    # wall 1: x = W
    rows.append((1, 1, 0.0, 0, 0, W, H, WALL, 1.0, -1))   # wall 2: y = 0
    rows.append((1, -1, D, 0, 0, W, H, WALL, 1.0, -1))    # wall 3: y = D
    for i, b in enumerate(boxes):
        for axis in range(3):
            p, q = _other_axes(axis)
            for sign, coord in ((-1, b.lo[axis]), (1, b.hi[axis])):
                if axis == 2 and sign == -1 and b.lo[2] <= 1e-9:
                    continue  # a box standing on the floor has no visible bottom
                rows.append((axis, sign, coord, b.lo[p], b.lo[q], b.hi[p], b.hi[q], b.label, b.tint, i))
    a = np.array(rows, dtype=np.float64)
    return _Quads(axis=a[:, 0].astype(int), sign=a[:, 1].astype(int), coord=a[:, 2], lo=a[:, 3:5],
                  hi=a[:, 5:7], label=a[:, 7].astype(int), tint=a[:, 8], owner=a[:, 9].astype(int))


def _decals(rng: np.random.Generator, room: np.ndarray, walls: np.ndarray) -> list[_Decal]:
    """Door, window and picture on three different walls (quads 1..4 are the walls)."""
    out = []
    for wall, label, (w, h), bottom in ((walls[0], DOOR, (0.9, 2.05), 0.0),
                                         (walls[1], WINDOW, (1.3, 1.1), 0.9),
                                         (walls[2], PICTURE, (0.7, 0.5), 1.35)):
        length = room[1] if wall < 2 else room[0]
        start = rng.uniform(0.3, length - w - 0.3)
        out.append(_Decal(1 + int(wall), label, np.array([start, bottom]), np.array([start + w, bottom + h])))
    return out


# ---- surface appearance --------------------------------------------------------------------
def _hash_noise(cells: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic noise in [-1, 1) per integer cell (M,3) (a splitmix64-style integer hash)."""
    c = cells.astype(np.int64).view(np.uint64)
    h = np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    h = h ^ (c[:, 0] * np.uint64(0xBF58476D1CE4E5B9)) ^ (c[:, 1] * np.uint64(0x94D049BB133111EB)) \
        ^ (c[:, 2] * np.uint64(0xD6E8FEB86659FD93))
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0


def _colour(pos: np.ndarray, label: np.ndarray, axis: np.ndarray, sign: np.ndarray, tint: np.ndarray,
            seed: int) -> np.ndarray:
    """Colour (M,3) uint8 of surface points given in room coordinates."""
    shade = _SHADE[2 * axis + (sign > 0)]
    # cells offset by a third of a cell so grid vertices never sit on a cell boundary
    noise = _hash_noise(np.floor(pos / TEXTURE_CELL + 1 / 3), seed)
    rgb = _COLOUR_LUT[label] * (shade * tint * (1.0 + 0.12 * noise))[:, None]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _surface_labels(quads: _Quads, decals: list[_Decal], quad_idx: np.ndarray, pos: np.ndarray) -> np.ndarray:
    labels = quads.label[quad_idx].copy()
    for dec in decals:
        on = quad_idx == dec.quad
        p, q = _other_axes(int(quads.axis[dec.quad]))
        uv = pos[on][:, [p, q]]
        inside = np.all((uv >= dec.lo - 1e-9) & (uv <= dec.hi + 1e-9), axis=1)
        idx = np.flatnonzero(on)[inside]
        labels[idx] = dec.label
    return labels


# ---- mesh -----------------------------------------------------------------------------------
def _mesh(quads: _Quads, boxes: list[_Box], spacing: float):
    verts, faces, owner = [], [], []
    base = 0
    for k in range(len(quads.axis)):
        axis = int(quads.axis[k])
        p, q = _other_axes(axis)
        n_p = max(2, int(np.ceil((quads.hi[k, 0] - quads.lo[k, 0]) / spacing)) + 1)
        n_q = max(2, int(np.ceil((quads.hi[k, 1] - quads.lo[k, 1]) / spacing)) + 1)
        up, uq = np.meshgrid(np.linspace(quads.lo[k, 0], quads.hi[k, 0], n_p),
                             np.linspace(quads.lo[k, 1], quads.hi[k, 1], n_q), indexing="ij")
        v = np.empty((n_p * n_q, 3))
        v[:, axis], v[:, p], v[:, q] = quads.coord[k], up.ravel(), uq.ravel()
        i, j = np.meshgrid(np.arange(n_p - 1), np.arange(n_q - 1), indexing="ij")
        v00 = (i * n_q + j).ravel()
        v10, v01, v11 = v00 + n_q, v00 + 1, v00 + n_q + 1
        tri = np.concatenate([np.stack([v00, v10, v11], 1), np.stack([v00, v11, v01], 1)])
        # e_p x e_q points along +axis for axis 0 and 2, along -axis for axis 1
        if (1 if axis != 1 else -1) != quads.sign[k]:
            tri = tri[:, [0, 2, 1]]
        verts.append(v)
        faces.append(tri + base)
        owner.append(np.full(len(v), k))
        base += len(v)
    xyz, tri, quad_of = np.concatenate(verts), np.concatenate(faces), np.concatenate(owner)
    # drop triangles buried in another box (floor under furniture, wall behind the cabinet)
    centroid = xyz[tri].mean(axis=1)
    tri_owner = quads.owner[quad_of[tri[:, 0]]]
    buried = np.zeros(len(tri), dtype=bool)
    for i, b in enumerate(boxes):
        inside = np.all((centroid > b.lo - 1e-3) & (centroid < b.hi + 1e-3), axis=1)
        buried |= inside & (tri_owner != i)
    tri = tri[~buried]
    used = np.zeros(len(xyz), dtype=bool)
    used[tri.ravel()] = True
    remap = np.cumsum(used) - 1
    return xyz[used], remap[tri], quad_of[used]


# ---- cameras and rendering ---------------------------------------------------------------
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
def format_matrix(m: np.ndarray) -> str:
    """A 4x4 matrix as ScanNet writes it: four lines of four ``%f`` numbers."""
    m = np.round(np.asarray(m, dtype=np.float64).reshape(4, 4), 6) + 0.0  # + 0.0: no "-0.000000"
    return "".join(" ".join(f"{x:f}" for x in row) + "\n" for row in m)


def write_matrix(path: str | Path, m: np.ndarray) -> None:
    Path(path).write_text(format_matrix(m))


def write_inf_pose(scene_dir: str | Path, frame: int | str) -> Path:
    """Overwrite one frame's pose with ScanNet's invalid-pose marker (all ``-inf``)."""
    path = Path(scene_dir) / "pose" / f"{frame}.txt"
    write_matrix(path, np.full((4, 4), -np.inf))
    return path


def generate_scene(out_root: str | Path, scene_id: str, seed: int = 0, num_frames: int = 10,
                   color_size: tuple[int, int] = (324, 242), depth_size: tuple[int, int] = (160, 120),
                   spacing: float = 0.12, inf_pose_frames: Sequence[int] = (), labels: bool = True,
                   jpeg_quality: int = 92) -> Path:
    """Write one synthetic scene in the ScanNet layout under ``out_root/scene_id`` and return that
    folder. ``color_size``/``depth_size`` are (width, height); ``spacing`` is the mesh grid step (m);
    frames listed in ``inf_pose_frames`` get the all ``-inf`` pose marker (their images are still
    written); ``labels=False`` leaves out the ``.labels.ply``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    room, walls, boxes, footprints = _layout(rng)
    quads = _quads(room, boxes)
    decals = _decals(rng, room, walls)
    xyz_room, faces, vert_quad = _mesh(quads, boxes, spacing)
    vert_label = _surface_labels(quads, decals, vert_quad, xyz_room)
    vert_rgb = _colour(xyz_room, vert_label, quads.axis[vert_quad], quads.sign[vert_quad],
                       quads.tint[vert_quad], seed)

    # the raw-scan world frame: the room turned about z and shifted
    angle = rng.uniform(0, 2 * np.pi)
    world_from_room = np.eye(4)
    world_from_room[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    world_from_room[:3, 3] = [rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(-0.1, 0.1)]
    room_from_world = np.linalg.inv(world_from_room)
    xyz_world = (xyz_room @ world_from_room[:3, :3].T + world_from_room[:3, 3]).astype(np.float32)

    K_color = _intrinsic(*color_size, rng)
    K_depth = _intrinsic(*depth_size, rng)
    poses = [np.round(world_from_room @ p, 6) for p in _camera_poses(rng, room, boxes, footprints, num_frames)]

    scene = Path(out_root) / scene_id
    for sub in ("color", "depth", "pose", "intrinsic"):
        (scene / sub).mkdir(parents=True, exist_ok=True)
    write_ply(scene / f"{scene_id}_vh_clean_2.ply", xyz_world, vert_rgb, faces=faces)
    if labels:
        write_ply(scene / f"{scene_id}_vh_clean_2.labels.ply", xyz_world, label=vert_label)
    (scene / f"{scene_id}.txt").write_text(
        "axisAlignment = " + " ".join(f"{x:f}" for x in np.round(room_from_world, 6).ravel() + 0.0) + "\n"
        f"colorHeight = {color_size[1]}\ncolorWidth = {color_size[0]}\n"
        f"depthHeight = {depth_size[1]}\ndepthWidth = {depth_size[0]}\n"
        f"numColorFrames = {num_frames}\nnumDepthFrames = {num_frames}\nsceneType = Synthetic\n")
    write_matrix(scene / "intrinsic" / "intrinsic_color.txt", K_color)
    write_matrix(scene / "intrinsic" / "intrinsic_depth.txt", K_depth)
    color_rays, depth_rays = _camera_rays(K_color, *color_size), _camera_rays(K_depth, *depth_size)
    for i, pose in enumerate(poses):
        cam_to_room = room_from_world @ pose
        rgb = _render(color_rays, *color_size, cam_to_room, quads, decals, seed, colour=True)
        depth = _render(depth_rays, *depth_size, cam_to_room, quads, decals, seed, colour=False)
        Image.fromarray(rgb).save(scene / "color" / f"{i}.jpg", quality=jpeg_quality)
        Image.fromarray(depth).save(scene / "depth" / f"{i}.png")
        if i in inf_pose_frames:
            write_inf_pose(scene, i)
        else:
            write_matrix(scene / "pose" / f"{i}.txt", pose)
    return scene


def generate_dataset(out_root: str | Path, n_scenes: int, seed: int = 0, prefix: str = "synth",
                     **scene_kwargs) -> list[Path]:
    """``n_scenes`` scenes ``<prefix>0000_00``, ``<prefix>0001_00``, ... with seeds ``seed + i``."""
    return [generate_scene(out_root, f"{prefix}{i:04d}_00", seed=seed + i, **scene_kwargs)
            for i in range(n_scenes)]


def write_generic(scannet_scene: str | Path, out_root: str | Path, with_depth: bool = True) -> Path:
    """Copy a scene from the ScanNet layout into the generic layout (docs/generic-layout.md):
    ``points.ply`` (mesh with labels when present), ``camera.json``, ``frames/``. For tests of
    the generic reader and as a worked example of that layout."""
    import json
    import shutil

    from .ply import read_ply
    from .readers.checks import read_axis_alignment, read_matrix

    src = Path(scannet_scene)
    scene_id = src.name
    dst = Path(out_root) / scene_id
    (dst / "frames").mkdir(parents=True, exist_ok=True)
    mesh = read_ply(src / f"{scene_id}_vh_clean_2.ply")
    labels_path = src / f"{scene_id}_vh_clean_2.labels.ply"
    label = read_ply(labels_path, want_faces=False).label if labels_path.is_file() else None
    write_ply(dst / "points.ply", mesh.xyz, mesh.rgb, label=label, faces=mesh.faces)

    from PIL import Image

    def camera(kind: str, image: Path) -> dict:
        K = read_matrix(src / "intrinsic" / f"intrinsic_{kind}.txt")
        with Image.open(image) as im:
            w, h = im.size
        return {"width": w, "height": h, "fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2]}

    names = sorted((p.stem for p in (src / "color").glob("*.jpg")), key=lambda s: int(s))
    cam = {"color": camera("color", src / "color" / f"{names[0]}.jpg")}
    if with_depth:
        cam["depth"] = camera("depth", src / "depth" / f"{names[0]}.png")
        cam["depth_scale"] = 1000.0
    meta = src / f"{scene_id}.txt"
    cam["axis_alignment"] = read_axis_alignment(meta if meta.is_file() else None).ravel().tolist()
    (dst / "camera.json").write_text(json.dumps(cam, indent=2) + "\n")
    for name in names:
        shutil.copyfile(src / "color" / f"{name}.jpg", dst / "frames" / f"{name}.jpg")
        shutil.copyfile(src / "pose" / f"{name}.txt", dst / "frames" / f"{name}.pose.txt")
        if with_depth:
            shutil.copyfile(src / "depth" / f"{name}.png", dst / "frames" / f"{name}.depth.png")
    return dst
