"""Tiny synthetic scans and a tiny teacher recipe for the teacher tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.ply import write_ply
from geopurify.stages.teacher.augment import AugmentConfig
from geopurify.stages.teacher.network import NetworkConfig
from geopurify.stages.teacher.pretrain_recipe import PretrainRecipe


def box_room(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points on a floor, two walls and a box, with colours, normals and labels (1 floor, 2 wall,
    3 box)."""
    rng = np.random.default_rng(seed)
    size = np.array([2.0, 1.6, 1.0]) + rng.uniform(0, 0.4, 3)
    parts = []
    m = n // 4
    floor = np.c_[rng.uniform(0, size[0], m), rng.uniform(0, size[1], m), np.zeros(m)]
    parts.append((floor, [0, 0, 1], [120, 90, 60], 1))
    wall_x = np.c_[np.zeros(m), rng.uniform(0, size[1], m), rng.uniform(0, size[2], m)]
    parts.append((wall_x, [1, 0, 0], [200, 200, 190], 2))
    wall_y = np.c_[rng.uniform(0, size[0], m), np.zeros(m), rng.uniform(0, size[2], m)]
    parts.append((wall_y, [0, 1, 0], [190, 200, 200], 2))
    c = np.array([size[0] * 0.6, size[1] * 0.5])
    top = np.c_[rng.uniform(-0.25, 0.25, m) + c[0], rng.uniform(-0.25, 0.25, m) + c[1], np.full(m, 0.4)]
    parts.append((top, [0, 0, 1], [40, 60, 180], 3))
    xyz = np.concatenate([p[0] for p in parts]).astype(np.float32)
    normal = np.concatenate([np.tile(p[1], (len(p[0]), 1)) for p in parts]).astype(np.float32)
    rgb = np.concatenate([np.tile(p[2], (len(p[0]), 1)) for p in parts])
    rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    label = np.concatenate([np.full(len(p[0]), p[3]) for p in parts]).astype(np.int16)
    return xyz, rgb, normal, label


def write_scans(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        xyz, rgb, _, _ = box_room(i)
        write_ply(folder / f"scan{i}.ply", xyz, rgb)
    return folder


def tiny_recipe(epochs: int = 3) -> PretrainRecipe:
    return PretrainRecipe(network=NetworkConfig(channels=[8, 16], blocks=1, out_channels=8),
                          augment=AugmentConfig(crop_size=(5.0, 5.0), crop_offset=0.1),
                          epochs=epochs, lr=1e-2, warmup_steps=2, matched_points=256)
