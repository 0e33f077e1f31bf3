"""The student's one input path, shared by training and inference: per-voxel means of
``[fused feature (D) | rgb / 255 (3) | normal (3)]`` on a grid of ``voxel_size``.

Training calls ``augment`` on the points first and then the same ``voxel_inputs``; inference calls
``voxel_inputs`` on the points as stored. Nothing else differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.geometry import voxel_mean, voxelize
from geopurify.stages.training.augment import random_similarity

EXTRA_CHANNELS = 6
"""rgb (3) and normal (3) after the fused feature."""


def input_channels(fused_dim: int) -> int:
    return fused_dim + EXTRA_CHANNELS


@dataclass
class VoxelInputs:
    coords: np.ndarray
    """(V,3) int32 voxel grid coordinates, lexicographically sorted."""
    point_to_voxel: np.ndarray
    """(N,) int64 voxel of each point."""
    features: np.ndarray
    """(V, D+6) float32 voxel means of [fused | rgb/255 | normal]."""


def point_inputs(rgb: np.ndarray, normal: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Per-point input row (N, D+6) float32: [fused | rgb/255 | normal]."""
    n = fused.shape[0]
    if rgb.shape != (n, 3) or normal.shape != (n, 3):
        raise ValueError(f"rgb {rgb.shape} and normal {normal.shape} must be ({n}, 3) like fused {fused.shape}")
    out = np.empty((n, fused.shape[1] + EXTRA_CHANNELS), dtype=np.float32)
    out[:, :fused.shape[1]] = fused
    out[:, -6:-3] = np.asarray(rgb, dtype=np.float32) / 255.0
    out[:, -3:] = normal
    return out


def voxel_inputs(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray, fused: np.ndarray,
                 voxel_size: float) -> VoxelInputs:
    """Voxelise the points and average their input rows per voxel."""
    coords, point_to_voxel = voxelize(xyz, voxel_size)
    rows = point_inputs(rgb, normal, fused)
    return VoxelInputs(coords, point_to_voxel, voxel_mean(rows, point_to_voxel, len(coords)))


def augment(xyz: np.ndarray, normal: np.ndarray, rng: np.random.Generator, scale_min: float = 0.9,
            scale_max: float = 1.1, tilt_degrees: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotate and scale the points (about their centroid) and rotate the normals: training only.
    A similarity transform keeps every point's neighbours, so spatial mining is unaffected; only
    which points share a voxel changes."""
    rot, scale = random_similarity(rng, scale_min, scale_max, tilt_degrees)
    centre = xyz.mean(axis=0)
    new_xyz = ((xyz - centre) @ rot.T * scale + centre).astype(np.float32)
    new_normal = (normal @ rot.T).astype(np.float32)
    return new_xyz, new_normal
