"""Fusing the views of each point into one feature (design.md section 3.3-3.4), streaming over frames.

Both fusers take one view at a time (``add_view``: the visible points, the frame's feature map and
the points' positions on it) and never hold more than one feature map in memory.

``mean`` keeps a running sum (N, D) float32 and a count per point: one pass.

``consensus`` needs every view's logits of a point before it can choose that point's top-k views,
so it runs in two passes:
  1. per view: per (point, view) pair compute the logits ``s * cos(f, t_c)`` (C float32) and keep
     them with the point index and its map position; add the logits to a per-point sum (N, C);
     append the feature map, as given (its native, usually coarse, size), to a temporary file on
     disk. The logits need no (P, D) sampled features: bilinear sampling is linear, so
     ``f . t_c`` = bilinear sample of the map's per-cell ``F t_c`` and ``|f|^2`` = a quadratic form
     of the four corner weights with the dot products of neighbouring cells (``pair_logits``).
  2. ``finish``: consensus class c* = argmax of the summed (= mean) logits; per point keep the k
     views with the highest c* logit; weights = softmax of those logits; then, view by view, read
     back only the cached maps that some point chose and add the weighted samples.
Memory: (N, C) + (N, D) float32 accumulators plus (12 + 4C) bytes per visible pair (scene0000_00,
C = 20, ~1.0M pairs: ~90 MB); on disk: the feature maps (frames x h x w x D x 4 bytes; 184 MB for
300 frames of 20x15x512). Keeping the pair logits rather than sampled D-dim features keeps pass 1
compact (C << D), and pass 2 samples only the chosen (<= k per point) pairs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.rows import unit_rows

from .projection import bilinear_corners, bilinear_sample

FUSION_MODES = ("mean", "consensus")
SEEN_MAX = np.iinfo(np.uint16).max


class MeanFusion:
    """Average of the visible views' features (OpenScene)."""

    def __init__(self, num_points: int, dim: int):
        self.sum = np.zeros((num_points, dim), dtype=np.float32)
        self.count = np.zeros(num_points, dtype=np.int64)

    def add_view(self, idx: np.ndarray, fmap: np.ndarray, row: np.ndarray, col: np.ndarray) -> None:
        """``idx``: unique indices of the points the view sees; ``row, col``: their map positions."""
        if idx.size == 0:
            return
        self.sum[idx] += bilinear_sample(fmap, row, col)
        self.count[idx] += 1

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Fused features (N, D) float32 (zero where unseen) and views per point (N,) int64."""
        self.sum /= np.maximum(self.count, 1).astype(np.float32)[:, None]  # in place: no (N, D) copy
        return self.sum, self.count

    def close(self) -> None:
        pass


class ConsensusFusion:
    """Top-k views per point by the logit of the point's consensus class, softmax-weighted."""

    def __init__(self, num_points: int, dim: int, text: np.ndarray, logit_scale: float, topk: int,
                 cache_dir: str | Path | None = None):
        if topk < 1:
            raise ConfigError(f"fuse.topk = {topk}: expected >= 1")
        self.num_points, self.dim, self.topk = num_points, dim, topk
        t = np.asarray(text, dtype=np.float32)
        self.text_t = np.ascontiguousarray(unit_rows(t).T)
        self.scale = np.float32(logit_scale)
        self.logit_sum = np.zeros((num_points, t.shape[0]), dtype=np.float32)
        self.count = np.zeros(num_points, dtype=np.int64)
        # per view with visible points: (point idx int32, row, col float32, logits (P, C) float32)
        self.pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        # per view: (byte offset, shape) of its feature map in the cache file
        self.maps: list[tuple[int, tuple[int, ...]]] = []
        fd, name = tempfile.mkstemp(prefix="geopurify-fuse-", suffix=".f32", dir=cache_dir or None)
        self.cache_path = Path(name)
        self.cache = os.fdopen(fd, "wb")
        self.cache_bytes = 0

    def add_view(self, idx: np.ndarray, fmap: np.ndarray, row: np.ndarray, col: np.ndarray) -> None:
        if idx.size == 0:
            return
        logits = pair_logits(fmap, row, col, self.text_t, self.scale)
        self.logit_sum[idx] += logits
        self.count[idx] += 1
        self.pairs.append((idx.astype(np.int32), row.astype(np.float32), col.astype(np.float32), logits))
        data = np.ascontiguousarray(fmap, dtype=np.float32)
        self.maps.append((self.cache_bytes, data.shape))
        self.cache.write(data.tobytes())
        self.cache_bytes += data.nbytes

    def choose(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kept (view, point) pairs: view index, pair index within the view, weight."""
        if not self.pairs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        cstar = np.argmax(self.logit_sum, axis=1)  # argmax of the sum = argmax of the mean
        point = np.concatenate([p[0] for p in self.pairs]).astype(np.int64)
        view = np.concatenate([np.full(len(p[0]), v, dtype=np.int64) for v, p in enumerate(self.pairs)])
        within = np.concatenate([np.arange(len(p[0]), dtype=np.int64) for p in self.pairs])
        lc = np.concatenate([p[3][np.arange(len(p[0])), cstar[p[0]]] for p in self.pairs])  # c* logits
        # by point, then c* logit descending, then earlier view first (a deterministic tie-break):
        # pairs come in view order, so two stable sorts do it (faster than a 3-key lexsort)
        order = np.argsort(-lc, kind="stable")
        order = order[np.argsort(point[order], kind="stable")]
        point, view, within, lc = point[order], view[order], within[order], lc[order]
        first = np.r_[True, point[1:] != point[:-1]]
        group_start = np.flatnonzero(first)
        rank = np.arange(len(point)) - np.repeat(group_start, np.diff(np.r_[group_start, len(point)]))
        keep = rank < self.topk
        point, view, within, lc = point[keep], view[keep], within[keep], lc[keep]
        starts = np.flatnonzero(first[keep])  # a group's first pair holds its best logit
        top = np.repeat(lc[starts], np.diff(np.r_[starts, len(point)]))
        e = np.exp((lc - top).astype(np.float64))
        weight = e / np.bincount(point, weights=e, minlength=self.num_points)[point]
        return view, within, weight.astype(np.float32)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Fused features (N, D) float32 (zero where unseen) and views per point (N,) int64."""
        self.cache.close()
        view, within, weight = self.choose()
        out = np.zeros((self.num_points, self.dim), dtype=np.float32)
        order = np.argsort(view, kind="stable")
        view, within, weight = view[order], within[order], weight[order]
        bounds = np.flatnonzero(np.r_[True, view[1:] != view[:-1], True]) if len(view) else [0]
        for a, b in zip(bounds[:-1], bounds[1:]):
            v = int(view[a])
            offset, shape = self.maps[v]
            fmap = np.fromfile(self.cache_path, dtype=np.float32, count=int(np.prod(shape)),
                               offset=offset).reshape(shape)
            idx, row, col, _ = self.pairs[v]
            sel = within[a:b]
            out[idx[sel]] += weight[a:b, None] * bilinear_sample(fmap, row[sel], col[sel])
        return out, self.count

    def close(self) -> None:
        """Remove the on-disk map cache (also after a failure)."""
        if not self.cache.closed:
            self.cache.close()
        self.cache_path.unlink(missing_ok=True)


def rows_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a thin ``b`` (D, C), one matrix-vector product per column: OpenBLAS threads
    its matrix-matrix product, whose thread start-up made this ~40x slower on a busy 2-core machine
    (24 ms vs 0.6 ms for 300x512 @ 512x20); its matrix-vector product runs on the calling thread."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
    for j in range(b.shape[1]):
        out[:, j] = a @ np.ascontiguousarray(b[:, j])
    return out


def neighbour_products(fmap: np.ndarray) -> np.ndarray:
    """(5, h*w) float64 dot products of each cell (r, c) with: itself, (r, c+1), (r+1, c),
    (r+1, c+1), and of (r, c+1) with (r+1, c); neighbours clamped at the edges like the corners of
    ``bilinear_corners``."""
    h, w = fmap.shape[:2]
    # one edge-replicated copy; the shifted neighbours are views of it
    padded = np.pad(np.asarray(fmap, dtype=np.float32), ((0, 1), (0, 1), (0, 0)), mode="edge")
    f, f_r, f_d, f_dr = padded[:h, :w], padded[:h, 1:], padded[1:, :w], padded[1:, 1:]
    dot = lambda a, b: np.einsum("hwd,hwd->hw", a, b).ravel()  # noqa: E731
    return np.stack([dot(f, f), dot(f, f_r), dot(f, f_d), dot(f, f_dr), dot(f_r, f_d)]).astype(np.float64)


def pair_logits(fmap: np.ndarray, row: np.ndarray, col: np.ndarray, text_t: np.ndarray,
                scale: float) -> np.ndarray:
    """``scale * cos(f, t_c)`` (P, C) float32 for the bilinear samples f of an (h, w, D) map at
    (row, col), against unit text rows ``text_t`` (D, C), without forming the (P, D) samples."""
    h, w = fmap.shape[:2]
    cells, wts = bilinear_corners(row, col, (h, w))
    per_cell = rows_dot(np.asarray(fmap, dtype=np.float32).reshape(h * w, -1), text_t)  # (h*w, C)
    dots = np.einsum("pk,pkc->pc", wts, per_cell[cells])
    # |sum_k w_k f_k|^2 over corners a, b (right), c (down), d (down-right)
    n, right, down, diag, anti = neighbour_products(fmap)
    a, b, c, _ = cells.T
    wa, wb, wc, wd = wts.astype(np.float64).T
    norm2 = (wa * wa * n[a] + wb * wb * n[b] + wc * wc * n[c] + wd * wd * n[cells[:, 3]]
             + 2 * (wa * wb * right[a] + wa * wc * down[a] + wa * wd * diag[a] + wb * wc * anti[a]
                    + wb * wd * down[b] + wc * wd * right[c]))
    norm = np.maximum(np.sqrt(np.maximum(norm2, 0.0)), 1e-12).astype(np.float32)
    return (dots / norm[:, None]) * np.float32(scale)


def make_fusion(mode: str, num_points: int, dim: int, text: np.ndarray, logit_scale: float,
                topk: int, cache_dir: str | None = None):
    if mode == "mean":
        return MeanFusion(num_points, dim)
    if mode == "consensus":
        return ConsensusFusion(num_points, dim, text, logit_scale, topk, cache_dir)
    raise ConfigError(f"fuse.mode {mode!r}: expected one of {', '.join(FUSION_MODES)}")


def fill_unseen(feat: np.ndarray, count: np.ndarray, xyz: np.ndarray) -> int:
    """Points no view saw copy the feature of the nearest seen point, in place; returns how many
    were filled. Requires at least one seen point."""
    from geopurify.pipeline.geometry import knn

    seen = count > 0
    unseen = np.flatnonzero(~seen)
    if unseen.size == 0:
        return 0
    seen_idx = np.flatnonzero(seen)
    _, nearest = knn(xyz[seen_idx], xyz[unseen], 1)
    feat[unseen] = feat[seen_idx[nearest[:, 0]]]
    return int(unseen.size)


def seen_counts(count: np.ndarray) -> np.ndarray:
    """View counts as stored: uint16, saturating."""
    return np.minimum(count, SEEN_MAX).astype(np.uint16)
