"""Point-cloud geometry shared by the stages: kNN, voxel grids, voxel means."""

from __future__ import annotations

import numpy as np


def knn_indices(reference: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Only the indices (Q,k) of the k nearest reference points of each query point, nearest first,
    in pykdtree's own unsigned dtype: for large k (the purify graph) skipping the distances' square
    roots and both dtype copies matters."""
    from pykdtree.kdtree import KDTree

    ref = np.ascontiguousarray(reference, dtype=np.float32)
    qry = np.ascontiguousarray(query, dtype=np.float32)
    k = min(k, ref.shape[0])
    return KDTree(ref).query(qry, k=k, sqr_dists=True)[1].reshape(len(qry), k)


def knn(reference: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest reference points of each query point (pykdtree): distances (Q,k) f32 and
    indices (Q,k) int64, nearest first."""
    from pykdtree.kdtree import KDTree

    ref = np.ascontiguousarray(reference, dtype=np.float32)
    qry = np.ascontiguousarray(query, dtype=np.float32)
    k = min(k, ref.shape[0])
    dist, idx = KDTree(ref).query(qry, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    return dist.astype(np.float32), idx.astype(np.int64)


def median_spacing(xyz: np.ndarray) -> float:
    """Median distance from a point to its nearest neighbour (m), over every point; 0 for fewer
    than two. Fuse sizes its splats with it; plots size their discs with ``drawing_spacing``."""
    return float(np.median(knn(xyz, xyz, 2)[0][:, 1])) if len(xyz) > 1 else 0.0


def voxelize(xyz: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer grid coordinates of the occupied voxels (V,3) int32, sorted lexicographically so the
    order is deterministic, and each point's voxel index (N,) int64."""
    grid = np.floor(np.asarray(xyz, dtype=np.float64) / voxel_size).astype(np.int64)
    grid -= grid.min(axis=0)
    coords, point_to_voxel = np.unique(grid, axis=0, return_inverse=True)
    return coords.astype(np.int32), point_to_voxel.reshape(-1).astype(np.int64)


def voxel_mean(values: np.ndarray, point_to_voxel: np.ndarray, num_voxels: int) -> np.ndarray:
    """Mean of ``values`` (N,C) over the points of each voxel -> (V,C) float32."""
    import scipy.sparse as sp

    values = np.asarray(values, dtype=np.float32)
    n = values.shape[0]
    counts = np.bincount(point_to_voxel, minlength=num_voxels).astype(np.float32)
    # a sparse (V,N) averaging matrix: np.add.at is ~50x slower on wide features
    weights = 1.0 / np.maximum(counts, 1)[point_to_voxel]
    avg = sp.csr_matrix((weights, (point_to_voxel, np.arange(n))), shape=(num_voxels, n))
    return np.asarray(avg @ values, dtype=np.float32)
