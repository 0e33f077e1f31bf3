"""The pretraining loss: point-to-segment InfoNCE across two views of a scan (design.md section 4.2).

Points present in both views are matched through their index in the scan, at most one pair per
voxel of either view (two points of one voxel share a feature, so they could not be told apart).
Each matched point's embedding in one view must pick the mean embedding of its own segment in the
other view among that view's segments near its own.
"""

from __future__ import annotations

import numpy as np


def matched_pairs(view_a, view_b, vox_a: np.ndarray, vox_b: np.ndarray, limit: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel rows (in each view) of up to ``limit`` points present in both views, at most one pair
    per voxel of either view; and the scan index of each pair's point."""
    common, ia, ib = np.intersect1d(view_a.index, view_b.index, assume_unique=True, return_indices=True)
    perm = rng.permutation(len(common))
    ia, ib, common = ia[perm], ib[perm], common[perm]
    va, vb = vox_a[ia], vox_b[ib]
    _, first_a = np.unique(va, return_index=True)
    keep = np.sort(first_a)
    _, first_b = np.unique(vb[keep], return_index=True)
    keep = keep[np.sort(first_b)][:limit]
    return va[keep], vb[keep], common[keep]


def segment_info_nce(z_points, z_voxels, voxel_segment, point_segment, temperature: float,
                     near=None):
    """Each point's embedding (P,D) should match the mean embedding of its own segment among all
    segments of the other view (voxels (V,D) with their segment ids (V,)). Points whose segment is
    absent from the other view are left out. ``near`` (S,S) bool over the scan's segment ids, when
    given, keeps only the segments near each point's own as its negatives."""
    import torch

    ids, inverse = torch.unique(voxel_segment, return_inverse=True)
    protos = torch.zeros(len(ids), z_voxels.shape[1], dtype=z_voxels.dtype, device=z_voxels.device)
    protos = torch.nn.functional.normalize(protos.index_add(0, inverse, z_voxels), dim=1)
    pos = torch.searchsorted(ids, point_segment).clamp(max=len(ids) - 1)
    present = ids[pos] == point_segment
    if not bool(present.any()):
        return z_points.sum() * 0.0
    logits = z_points[present] @ protos.T / temperature
    if near is not None:
        logits = logits.masked_fill(~near[point_segment[present]][:, ids], float("-inf"))
    return torch.nn.functional.cross_entropy(logits, pos[present])


def segment_neighbours(xyz: np.ndarray, segment: np.ndarray, radius: float) -> np.ndarray:
    """(S,S) bool: segments whose axis-aligned bounding boxes are within ``radius`` of each other
    (a superset of the truly near pairs, cheap for a few thousand segments); the diagonal is True."""
    count = int(segment.max()) + 1
    lo = np.full((count, 3), np.inf, np.float32)
    hi = np.full((count, 3), -np.inf, np.float32)
    np.minimum.at(lo, segment, xyz)
    np.maximum.at(hi, segment, xyz)
    # one axis at a time: a few S x S blocks alive at once instead of S x S x 3 ones
    squared = np.zeros((count, count), np.float32)
    for axis in range(3):
        ahead = lo[:, None, axis] - hi[None, :, axis]  # how far box i starts after box j ends
        gap = np.maximum(ahead, ahead.T)  # the gap is symmetric: j after i is the transpose
        np.maximum(gap, 0.0, out=gap)
        squared += np.square(gap, out=gap)
    return squared <= np.float32(radius) ** 2


def voxel_segments(point_segment: np.ndarray, point_to_voxel: np.ndarray, voxels: int) -> np.ndarray:
    """A segment per voxel: that of the voxel's last point (voxels are 2 cm; segments rarely split them)."""
    out = np.empty(voxels, np.int64)
    out[point_to_voxel] = point_segment
    return out
