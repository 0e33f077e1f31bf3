"""The ``geometric`` teacher: training-free per-point descriptors (design.md section 4.3).

Computed on the 2 cm voxel grid (voxel means of xyz, colour and normal) and mapped back to every
point, like the ``ssl`` teacher. Blocks, each normalised so that its weight says how much it counts
in a cosine similarity:

- position (3): xyz (nearby points are likelier the same object; the ``raw`` baseline has it too).
- normal (3): the unit normal.
- curvature (2): surface variation l0 / (l0 + l1 + l2) of the local covariance at two scales (the
  ``neighbours`` and 4x as many nearest voxels): flat ~0, edges and clutter higher.
- shape histogram (33): Fast Point Feature Histogram (Rusu et al. 2009): for each voxel and its
  neighbours the Darboux-frame angles (alpha, phi, theta) in 11 bins each (the SPFH), then
  FPFH(p) = SPFH(p) + mean_k SPFH(k) / d(p, k) normalised weights; L2-normalised.
- colour (3): CIELAB (D65) of the voxel's mean colour, scaled so L, a, b span ~[-1, 1].

Blocks are combined as ``blocks.combine`` does (each centred, scaled to unit mean norm, weighted; the
whole vector unit length). Default weights were picked on labelled ``scannet_geometry`` scans
(0002_00, 0004_00, 0005_00, 0008_00), never on scene0000_00.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.geometry import knn, voxel_mean, voxelize

from .blocks import combine, unit

BINS = 11


@dataclass
class GeometricWeights:
    position: float = 1.5
    """Weight of the position block (xyz relative to the scene centre)."""
    normal: float = 1.0
    """Weight of the normal block."""
    curvature: float = 0.25
    """Weight of the two-scale surface-variation block."""
    shape: float = 0.5
    """Weight of the FPFH block."""
    colour: float = 1.0
    """Weight of the CIELAB colour block."""


def raw_features(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The baseline a teacher must beat: per point [xyz | rgb in [0,1] | normal], each block centred and
    scaled to unit mean norm like the geometric blocks, equal weights, unit length (N, 9)."""
    return combine([(np.asarray(xyz, np.float32), 1.0), (_as_unit_rgb(rgb), 1.0),
                    (np.asarray(normal, np.float32), 1.0)])


def geometric_features(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray, voxel_size: float = 0.02,
                       neighbours: int = 16, weights: GeometricWeights | None = None) -> np.ndarray:
    """Per-point descriptors (N, 44) float32, unit length. ``rgb`` is uint8 (or floats in [0, 1]);
    None for a scan without colour: the colour block is left out (all zeros, so it counts for
    nothing in a cosine and the width stays 44)."""
    weights = weights or GeometricWeights()
    coords, p2v = voxelize(xyz, voxel_size)
    v = len(coords)
    colour = _as_unit_rgb(rgb) if rgb is not None else np.zeros((len(xyz), 3), np.float32)
    means = voxel_mean(np.concatenate([xyz, colour, normal], axis=1), p2v, v)
    vxyz, vrgb, vnormal = means[:, :3], means[:, 3:6], unit(means[:, 6:9])
    if rgb is None:
        from dataclasses import replace

        weights = replace(weights, colour=0.0)
    feats = voxel_descriptors(vxyz, vrgb, vnormal, neighbours, weights)
    return feats[p2v]


def voxel_descriptors(xyz: np.ndarray, rgb01: np.ndarray, normal: np.ndarray, neighbours: int,
                      weights: GeometricWeights) -> np.ndarray:
    """Descriptors of points that are already one per voxel: (V, 44) float32, unit length."""
    k = min(neighbours, len(xyz))
    k_wide = min(4 * neighbours, len(xyz))
    dist, idx = knn(xyz, xyz, k_wide)
    curvature = np.stack([_surface_variation(xyz, idx[:, :k]), _surface_variation(xyz, idx)], axis=1)
    shape = _fpfh(xyz, normal, dist[:, :k], idx[:, :k])
    blocks = [(xyz, weights.position), (normal, weights.normal), (curvature, weights.curvature), (shape, weights.shape),
              (srgb_to_lab(rgb01) / np.array([50.0, 60.0, 60.0], np.float32), weights.colour)]
    return combine(blocks)


def _surface_variation(xyz: np.ndarray, idx: np.ndarray) -> np.ndarray:
    nbrs = xyz[idx].astype(np.float64)
    nbrs -= nbrs.mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", nbrs, nbrs)
    eig = np.linalg.eigvalsh(cov)  # ascending
    return (eig[:, 0] / np.maximum(eig.sum(axis=1), 1e-12)).astype(np.float32)


def _spfh(xyz: np.ndarray, normal: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Simplified point feature histogram of each point against its neighbours (self excluded)."""
    n, k = idx.shape
    src = np.repeat(np.arange(n), k)
    tgt = idx.reshape(-1)
    keep = src != tgt
    src, tgt = src[keep], tgt[keep]
    d = xyz[tgt] - xyz[src]
    dn = np.linalg.norm(d, axis=1, keepdims=True)
    d = d / np.maximum(dn, 1e-9)
    u = normal[src]
    v = unit(np.cross(u, d))
    w = np.cross(u, v)
    nt = normal[tgt]
    alpha = np.einsum("ij,ij->i", v, nt)
    phi = np.einsum("ij,ij->i", u, d)
    theta = np.arctan2(np.einsum("ij,ij->i", w, nt), np.einsum("ij,ij->i", u, nt))
    hist = np.zeros((n, 3 * BINS), np.float32)
    for j, (values, lo, hi) in enumerate([(alpha, -1.0, 1.0), (phi, -1.0, 1.0), (theta, -np.pi, np.pi)]):
        b = np.clip(((values - lo) / (hi - lo) * BINS).astype(np.int64), 0, BINS - 1)
        np.add.at(hist, (src, j * BINS + b), 1.0)
    counts = np.maximum(np.bincount(src, minlength=n), 1).astype(np.float32)
    return hist / counts[:, None]


def _fpfh(xyz: np.ndarray, normal: np.ndarray, dist: np.ndarray, idx: np.ndarray) -> np.ndarray:
    spfh = _spfh(xyz, normal, idx)
    w = np.where(idx == np.arange(len(xyz))[:, None], 0.0, 1.0 / np.maximum(dist, 1e-3))
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-9)
    fpfh = spfh + np.einsum("nk,nkd->nd", w.astype(np.float32), spfh[idx])
    return unit(fpfh)


def srgb_to_lab(rgb01: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours in [0, 1]: L in [0, 100], a and b roughly [-110, 110]."""
    c = np.asarray(rgb01, dtype=np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    eps = 216 / 24389
    f = np.where(xyz > eps, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)
    return lab.astype(np.float32)


def _as_unit_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    return rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
