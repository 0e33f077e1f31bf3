"""A small labelled scene written straight into a store (points, fused, text), for purify tests.

Two boxes on a floor; the lifted features are each point's class text embedding plus noise, and one
patch of each box carries the wrong class (the kind of error pooling should repair).
"""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.config import to_dict
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    FEAT, FUSED, LABEL, NORMAL, POINTS, RGB, SEEN, XYZ, scene_group,
)
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.fuse.text import encode_vocab, text_fingerprint, write_text

FLOOR, TABLE, CHAIR = 2, 7, 5  # NYU40 ids


def fixture_points(seed: int = 0, spacing: float = 0.02):
    rng = np.random.default_rng(seed)
    g = np.arange(0, 1.2, spacing)
    fx, fy = np.meshgrid(g, g)
    floor = np.stack([fx.ravel(), fy.ravel(), np.zeros(fx.size)], 1)
    parts, labels, normals = [floor], [np.full(len(floor), FLOOR)], [np.tile([0, 0, 1.0], (len(floor), 1))]
    for (x0, y0), lab in (((0.1, 0.1), TABLE), ((0.7, 0.6), CHAIR)):
        h = np.arange(0.02, 0.3, spacing)
        s = np.arange(0, 0.3, spacing)
        a, b = np.meshgrid(s, h)
        for (nx, ny) in ((1, 0), (0, 1)):  # two side faces and the top
            pts = np.stack([x0 + (a.ravel() if ny else 0.3 * np.ones(a.size)),
                            y0 + (a.ravel() if nx else 0.3 * np.ones(a.size)), b.ravel()], 1)
            parts.append(pts)
            normals.append(np.tile([nx, ny, 0.0], (len(pts), 1)))
            labels.append(np.full(len(pts), lab))
        ta, tb = np.meshgrid(s, s)
        top = np.stack([x0 + ta.ravel(), y0 + tb.ravel(), np.full(ta.size, 0.3)], 1)
        parts.append(top)
        normals.append(np.tile([0, 0, 1.0], (len(top), 1)))
        labels.append(np.full(len(top), lab))
    xyz = np.concatenate(parts) + rng.normal(0, 0.002, (sum(map(len, parts)), 3))
    label = np.concatenate(labels).astype(np.int16)
    normal = np.concatenate(normals).astype(np.float32)
    rgb = np.select([label[:, None] == FLOOR, label[:, None] == TABLE], [[120, 100, 80], [200, 30, 30]],
                    [[30, 30, 200]]).astype(np.uint8)
    rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    return xyz.astype(np.float32), rgb, normal, label


def write_fixture_store(path, scene_id: str = "scene_a", seed: int = 0, noise: float = 2.5,
                        wrong_share: float = 0.2, with_label: bool = True) -> tuple[Store, np.ndarray]:
    """A store with ``points``, ``fused`` and ``text/scannet20``; returns the store and the labels."""
    store = Store(path)
    fuse_cfg = FuseConfig(source="simulated", vocab="scannet20", hashed_dim=64)
    text = encode_vocab(fuse_cfg)
    write_text(store, text, text_fingerprint(fuse_cfg))
    xyz, rgb, normal, label = fixture_points(seed)
    rng = np.random.default_rng(seed + 1)
    row = {int(n): i for i, n in enumerate(text.nyu40_ids)}
    cls = np.array([row[int(v)] for v in label])
    # a wrong class on a spatially coherent patch of each object, and noise everywhere
    for lab in (TABLE, CHAIR):
        idx = np.flatnonzero(label == lab)
        centre = xyz[rng.choice(idx)]
        near = idx[np.argsort(np.linalg.norm(xyz[idx] - centre, axis=1))[: int(wrong_share * len(idx))]]
        cls[near] = row[CHAIR if lab == TABLE else TABLE]
    feat = text.embeddings[cls] + noise * rng.standard_normal((len(xyz), text.embeddings.shape[1])) / 8
    arrays = {XYZ: xyz, RGB: rgb, NORMAL: normal}
    if with_label:
        arrays[LABEL] = label
    store.write_group(scene_group(scene_id, POINTS), arrays, {"fingerprint": f"points-{seed}"})
    store.write_group(scene_group(scene_id, FUSED), {FEAT: feat.astype(np.float16),
                                                   SEEN: np.ones(len(xyz), np.uint16)},
                      {"fingerprint": f"fused-{seed}-{noise}", "config": {"fuse": to_dict(fuse_cfg)}})
    return store, label
