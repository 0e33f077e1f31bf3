"""The synthetic room: floor, walls and furniture as axis-aligned boxes, their rectangles (quads),
labelled wall decals, surface colours, and the sampled mesh."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
