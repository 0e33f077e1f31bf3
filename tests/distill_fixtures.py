"""Small synthetic stores for the distill tests: rooms of labelled boxes with per-point noisy
"fused" features (class vector + noise) and a voxel-wise noisy one-hot "teacher", written with
``Store.write_group`` as the fuse and teacher stages would (complete flag, fingerprint, inputs)."""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.fingerprint import digest
from geopurify.pipeline.geometry import voxel_mean, voxelize
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    FEAT, FUSED, LABEL, NORMAL, POINTS, RGB, SEEN, TEACHER, XYZ, scene_group,
)

CLASSES = 6


def _sample_box(rng, lo, hi, n):
    """Points on the five visible faces of a box (no bottom), with outward normals."""
    size = np.asarray(hi) - np.asarray(lo)
    faces = []  # (axis, side)
    for axis in range(3):
        for side in (0, 1):
            if axis == 2 and side == 0:
                continue
            faces.append((axis, side))
    areas = np.array([np.prod(np.delete(size, a)) for a, _ in faces])
    pick = rng.choice(len(faces), size=n, p=areas / areas.sum())
    xyz = lo + rng.random((n, 3)) * size
    normal = np.zeros((n, 3))
    for f, (axis, side) in enumerate(faces):
        m = pick == f
        xyz[m, axis] = lo[axis] if side == 0 else hi[axis]
        normal[m, axis] = -1.0 if side == 0 else 1.0
    return xyz, normal


def synthetic_scene(seed: int, n: int = 4000, fused_dim: int = 32, teacher_dim: int = 8,
                    fused_noise: float = 3.0, teacher_noise: float = 0.25) -> dict[str, np.ndarray]:
    """A 3 x 3 m room: floor (label 1), two walls (label 2), four boxes (labels 3-6)."""
    rng = np.random.default_rng(seed)
    parts = []
    n_floor, n_wall, n_box = n * 3 // 10, n * 2 // 10, n // 8
    floor = np.c_[rng.random((n_floor, 2)) * 3.0, np.zeros(n_floor)]
    parts.append((floor, np.tile([0, 0, 1.0], (n_floor, 1)), 0))
    wall_x = np.c_[np.zeros(n_wall // 2), rng.random(n_wall // 2) * 3.0, rng.random(n_wall // 2) * 2.0]
    wall_y = np.c_[rng.random(n_wall // 2) * 3.0, np.zeros(n_wall // 2), rng.random(n_wall // 2) * 2.0]
    parts.append((wall_x, np.tile([1.0, 0, 0], (len(wall_x), 1)), 1))
    parts.append((wall_y, np.tile([0, 1.0, 0], (len(wall_y), 1)), 1))
    slots = rng.permutation([(0.4, 0.4), (1.7, 0.4), (0.4, 1.7), (1.7, 1.7)])
    for c, (x0, y0) in zip(range(2, CLASSES), slots):
        lo = np.array([x0 + rng.uniform(0, 0.2), y0 + rng.uniform(0, 0.2), 0.0])
        hi = lo + np.array([rng.uniform(0.5, 0.8), rng.uniform(0.5, 0.8), rng.uniform(0.4, 1.0)])
        xyz, normal = _sample_box(rng, lo, hi, n_box)
        parts.append((xyz, normal, c))
    xyz = np.concatenate([p[0] for p in parts]).astype(np.float32)
    normal = np.concatenate([p[1] for p in parts])
    normal += 0.4 * rng.normal(size=normal.shape)  # estimated normals are noisy
    normal = (normal / np.linalg.norm(normal, axis=1, keepdims=True)).astype(np.float32)
    cls = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    label = (cls + 1).astype(np.int16)  # stored labels start at 1: 0 means unannotated

    # class vectors and colours are shared by every scene (like text embeddings)
    fixed = np.random.default_rng(1234)
    class_vec = fixed.normal(size=(CLASSES, fused_dim))
    class_vec /= np.linalg.norm(class_vec, axis=1, keepdims=True)
    colours = fixed.integers(40, 215, size=(3, 3))[np.arange(CLASSES) % 3]  # classes share colours
    rgb = np.clip(colours[cls] + rng.normal(0, 40, size=(len(xyz), 3)), 0, 255).astype(np.uint8)

    fused = class_vec[cls] + fused_noise * rng.normal(size=(len(xyz), fused_dim)) / np.sqrt(fused_dim)
    fused /= np.linalg.norm(fused, axis=1, keepdims=True)

    # teacher: one-hot-ish per class, noisy, constant within each 2 cm voxel (as a voxel net gives)
    proto = np.eye(CLASSES, teacher_dim)
    teacher = proto[cls] + teacher_noise * rng.normal(size=(len(xyz), teacher_dim))
    coords, p2v = voxelize(xyz, 0.02)
    teacher = voxel_mean(teacher, p2v, len(coords))[p2v]
    return {XYZ: xyz, RGB: rgb, NORMAL: normal, LABEL: label,
            FUSED: fused.astype(np.float16), "teacher": teacher.astype(np.float16)}


def write_scene(store: Store, scene_id: str, data: dict[str, np.ndarray], tag: str = "") -> None:
    """The three groups distill reads, each with a fingerprint and the inputs it was made from."""
    pts_fp = digest([scene_id, POINTS, tag])
    store.write_group(scene_group(scene_id, POINTS),
                      {k: data[k] for k in (XYZ, RGB, NORMAL, LABEL)},
                      {"stage": "ingest", "fingerprint": pts_fp, "inputs": {}})
    store.write_group(scene_group(scene_id, FUSED),
                      {FEAT: data[FUSED], SEEN: np.ones(len(data[XYZ]), np.uint16)},
                      {"stage": "fuse", "fingerprint": digest([scene_id, FUSED, tag]),
                       "inputs": {POINTS: pts_fp}})
    store.write_group(scene_group(scene_id, TEACHER), {FEAT: data["teacher"]},
                      {"stage": "teacher", "fingerprint": digest([scene_id, "teacher", tag]),
                       "inputs": {POINTS: pts_fp}})


def make_store(path, scenes: dict[str, int], **kwargs) -> Store:
    """A store with one synthetic scene per (id -> seed)."""
    store = Store(str(path))
    for scene_id, seed in scenes.items():
        write_scene(store, scene_id, synthetic_scene(seed, **kwargs))
    return store
