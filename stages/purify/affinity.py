"""Affinity sources: per-voxel embeddings whose similarity decides how voxels pool.

All three feed the same graph code (graph.py), whose logit ``(z_v . z_u - |z_u|^2 / 2) / tau`` is the
published ``z_v . z_u / tau`` for unit embeddings and a Gaussian kernel ``-|z_v - z_u|^2 / (2 tau)``
otherwise:

- ``student``: the distilled network's L2-normalised embeddings (the method).
- ``geometric``: training-free descriptors, no network: voxel position, normal direction (as the
  outer product n n^T, so a flipped normal counts as the same surface) and colour, each divided by its
  scale, times sqrt(tau), so the logit is ``-(|dp|^2/s_p^2 + |dN|^2/s_n^2 + |dc|^2/s_c^2) / 2``
  whatever the temperature. The baseline the student must beat.
- ``oracle``: a scaled one-hot of each voxel's ground-truth label (majority of its points, lowest id
  on ties; unannotated 0 is a label like any other), scaled so that different-label weights underflow
  to exactly 0: each voxel pools uniformly from its same-label neighbours. A voxel without any
  same-label neighbour pools uniformly from all of them. The ceiling; needs labels, benchmark only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.geometry import voxel_mean

from .config import AFFINITIES, PurifyConfig
from .points import ScenePoints
from .student import StudentAffinity


class AffinitySource(Protocol):
    kind: str

    def embed(self, points: ScenePoints, coords: np.ndarray, point_to_voxel: np.ndarray) -> np.ndarray:
        """(V, E) embeddings of the voxels ``coords`` (V,3) that ``point_to_voxel`` (N,) maps to."""


class GeometricAffinity:
    kind = "geometric"

    def __init__(self, cfg: PurifyConfig):
        for key in ("geo_position_scale", "geo_normal_scale", "geo_color_scale"):
            if getattr(cfg, key) <= 0:
                raise ConfigError(f"purify.{key} = {getattr(cfg, key)}: expected > 0")
        self.cfg = cfg

    def embed(self, points: ScenePoints, coords: np.ndarray, point_to_voxel: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        v = len(coords)
        # a scan without colour: a constant colour, so the colour term leaves every distance alone
        rgb01 = points.rgb / 255.0 if points.rgb is not None else np.zeros((len(points.xyz), 3))
        rows = np.concatenate([points.xyz.astype(np.float64), rgb01,
                               points.normal.astype(np.float64)], axis=1)
        means = voxel_mean(rows, point_to_voxel, v).astype(np.float64)
        pos, rgb, normal = means[:, :3], means[:, 3:6], means[:, 6:9]
        # the mean normal of a voxel can be short (points on a crease); normalise, keep zeros zero
        normal = normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        outer = (normal[:, :, None] * normal[:, None, :]).reshape(v, 9)
        pos = pos - pos.mean(axis=0)  # keeps magnitudes small; the kernel is shift-invariant
        desc = np.concatenate([pos / cfg.geo_position_scale, outer / cfg.geo_normal_scale,
                               rgb / cfg.geo_color_scale], axis=1)
        return desc * np.sqrt(cfg.temperature)


class OracleAffinity:
    kind = "oracle"
    SEPARATION = 800.0
    """Logit gap between same- and different-label neighbours: exp(-800) is 0 in float64."""

    def __init__(self, cfg: PurifyConfig):
        self.cfg = cfg

    def embed(self, points: ScenePoints, coords: np.ndarray, point_to_voxel: np.ndarray) -> np.ndarray:
        if points.label is None:
            raise StoreError("the oracle affinity needs ground-truth labels (points/label); "
                             "this scene has none")
        vox_label = majority_label(points.label, point_to_voxel, len(coords))
        present, column = np.unique(vox_label, return_inverse=True)
        onehot = np.zeros((len(coords), len(present)))
        onehot[np.arange(len(coords)), column.reshape(-1)] = 1.0
        # same label: (s^2 - s^2/2)/tau, different: (0 - s^2/2)/tau; gap s^2/tau = SEPARATION
        return onehot * np.sqrt(self.SEPARATION * self.cfg.temperature)


def majority_label(label: np.ndarray, point_to_voxel: np.ndarray, num_voxels: int) -> np.ndarray:
    """The most frequent label of each voxel's points (lowest label on ties), (V,) int64."""
    label = np.asarray(label, dtype=np.int64)
    span = int(label.max()) + 1 if label.size else 1
    pairs, counts = np.unique(point_to_voxel * span + label, return_counts=True)
    vox, lab = pairs // span, pairs % span
    # sort by voxel, then count descending, then label ascending; the first row per voxel wins
    order = np.lexsort((lab, -counts, vox))
    vox, lab = vox[order], lab[order]
    first = np.r_[True, vox[1:] != vox[:-1]]
    out = np.zeros(num_voxels, dtype=np.int64)
    out[vox[first]] = lab[first]
    return out


def make_affinity(cfg: PurifyConfig, store=None) -> AffinitySource:
    """The configured affinity source (the student is loaded here, once)."""
    if cfg.affinity not in AFFINITIES:
        raise ConfigError(f"purify.affinity {cfg.affinity!r}: expected one of {', '.join(AFFINITIES)}")
    if cfg.affinity == "geometric":
        return GeometricAffinity(cfg)
    if cfg.affinity == "oracle":
        return OracleAffinity(cfg)
    return StudentAffinity(cfg, store)
