"""Unsupervised over-segmentation of a scan: the grouping signal of teacher pretraining.

Felzenszwalb-Huttenlocher graph segmentation (IJCV 2004; ScanNet's own mesh segmentator uses it on
normals) on a k-nearest-neighbour graph of the points. Edge weight: how much the normals disagree
(1 - |cos|) plus ``colour_weight`` times the CIELAB colour distance / 100. Two regions merge while
the edge between them is no heavier than either region's internal variation plus ``threshold`` /
size; then regions smaller than ``min_size`` merge into a neighbour. Segments follow surfaces of one
orientation and colour: parts of objects, rarely crossing an object boundary.
"""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.geometry import knn


def segment_scan(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray, neighbours: int = 8,
                 threshold: float = 0.05, colour_weight: float = 0.5, min_size: int = 50) -> np.ndarray:
    """Segment id (N,) int64 of each point, ids 0..S-1 numbered by first point."""
    from .geometric import srgb_to_lab

    n = len(xyz)
    if n == 0:
        return np.zeros(0, np.int64)
    _, idx = knn(xyz, xyz, neighbours + 1)
    src = np.repeat(np.arange(n), idx.shape[1])
    dst = idx.reshape(-1)
    keep = src < dst  # each undirected edge once (and no self loops)
    src, dst = src[keep], dst[keep]
    both = np.unique(np.stack([src, dst], axis=1), axis=0)
    src, dst = both[:, 0], both[:, 1]
    colour = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    lab = srgb_to_lab(colour)
    cos = np.abs(np.einsum("ij,ij->i", normal[src], normal[dst]))
    weight = (1.0 - cos) + colour_weight * np.linalg.norm(lab[src] - lab[dst], axis=1) / 100.0
    order = np.argsort(weight, kind="stable")
    src, dst, weight = src[order], dst[order], weight[order]

    parent = np.arange(n)
    size = np.ones(n, np.int64)
    internal = np.zeros(n, np.float64)

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:  # path compression
            parent[a], a = root, parent[a]
        return root

    src_l, dst_l, w_l = src.tolist(), dst.tolist(), weight.tolist()
    for a, b, w in zip(src_l, dst_l, w_l):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if w <= min(internal[ra] + threshold / size[ra], internal[rb] + threshold / size[rb]):
            if size[ra] < size[rb]:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
            internal[ra] = w  # edges come in increasing order: w is the region's largest
    for a, b in zip(src_l, dst_l):
        ra, rb = find(a), find(b)
        if ra != rb and (size[ra] < min_size or size[rb] < min_size):
            if size[ra] < size[rb]:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
    roots = np.array([find(i) for i in range(n)])
    _, first, ids = np.unique(roots, return_index=True, return_inverse=True)
    # renumber by first point so ids do not depend on union order
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[ids.reshape(-1)]
