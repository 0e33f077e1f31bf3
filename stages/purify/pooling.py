"""Pooling over the voxel graph: the full-feature path and the exact fast path for labels.

Both paths start from the voxel features X (V, D) (voxel means of the lifted features) and the
vocabulary's text embeddings scaled to unit rows, U (C, D). A is the (V, V) affinity matrix, s the
number of steps, ' a transpose.

- Full path: X <- A X, ``steps`` times, in float64; label = argmax_c cos(x_v, u_c); score = that best
  cosine; features = the pooled rows, L2-normalised.
- Fast path: matrix products associate, so A^s (X U') = (A^s X) U': propagating the C logits
  L = X U' gives exactly the logits of the pooled features. The cosine divides row v by |x_v| > 0,
  which does not change an argmax over c, so the labels are those of the full path (up to float64
  rounding, ~1e-14 relative; exact ties are broken the same way by ``pick_labels``).
  The exact score needs |x_v| of the pooled feature, which the C logits do not give (it needs all
  D channels: the full path). The fast path's score is therefore the *in-vocabulary cosine*: the
  best logit over the norm of x_v's projection on the span of the text embeddings,
      |P_U x_v|^2 = l_v G^+ l_v',   G = U U'   (exact, from the pooled logits l_v alone),
  optionally refined by propagating ``score_rank`` extra channels, X projected on the leading
  principal directions R of X's part orthogonal to the text span (estimated on a subsample of
  voxels): |x_v|^2 ~= l_v G^+ l_v' + |x_v R|^2. Either way the norm is a lower bound, so the fast
  score has the exact score's sign and at least its magnitude (never beyond +-1); it equals the
  exact score when the pooled features lie in span(U) (+ span(R)). With features kept, the stage
  uses the full path and the score is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.rows import NORM_FLOOR, unit_rows

from .graph import VoxelGraph

TIE_TOLERANCE = 1e-10
"""Classes whose value is within this fraction of the row's largest magnitude of the maximum count
as tied; the lowest class index wins. Far above float64 rounding after pooling (~1e-14), far below
any real margin, so both paths break exact ties (duplicate text rows, all-zero features) alike."""



@dataclass
class PoolResult:
    labels: np.ndarray
    """(V,) int64 index into the vocabulary's rows."""
    score: np.ndarray
    """(V,) float64 best cosine (exact on the full path; the in-vocabulary cosine on the fast path,
    see the module doc)."""
    features: np.ndarray | None = None
    """(V, D) float64 pooled features, L2-normalised (full path only)."""


def propagate(graph: VoxelGraph, values: np.ndarray, steps: int) -> np.ndarray:
    """``values <- A values``, ``steps`` times, float64. A torch CSR product (MKL, row-parallel):
    each output row is one thread's sum over its neighbours in stored order, so the result does not
    depend on the thread count (tested) and equals scipy's CSR product to float64 rounding (bit
    for bit on most machines seen; on one, the last bits differed after 19 steps)."""
    cur = np.array(values, dtype=np.float64, order="C")  # a copy: never pools the caller's array
    if graph.neighbours.shape[1] == 0 or steps == 0:  # a single voxel: nothing to pool from
        return cur
    import torch

    a = graph.torch_matrix()
    x = torch.from_numpy(cur)
    for _ in range(steps):
        x = a @ x
    return x.numpy()


def pick_labels(values: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Row-wise argmax (V,) int64; values within ``tolerance`` (relative to the row's largest
    magnitude) of the maximum are ties, and the lowest index among them wins."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[1] == 0:
        raise ValueError("no classes to choose from")
    best = values.max(axis=1, keepdims=True)
    scale = np.abs(values).max(axis=1, keepdims=True)
    tied = values >= best - tolerance * scale
    return np.argmax(tied, axis=1).astype(np.int64)  # first True


def pool_full(graph: VoxelGraph, features: np.ndarray, text: np.ndarray, steps: int) -> PoolResult:
    """The full-feature path: pool all D channels, then cosine against the text embeddings."""
    pooled = propagate(graph, features, steps)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), NORM_FLOOR)
    cos = pooled @ unit_rows(np.asarray(text, dtype=np.float64)).T
    labels = pick_labels(cos)
    return PoolResult(labels, cos[np.arange(len(labels)), labels], pooled)


def pool_fast(graph: VoxelGraph, features: np.ndarray, text: np.ndarray, steps: int,
              score_rank: int = 0) -> PoolResult:
    """The fast path: pool the C logits (plus ``score_rank`` channels for the score's norm)."""
    t = unit_rows(np.asarray(text, dtype=np.float64))
    c = t.shape[0]
    gram_pinv = np.linalg.pinv(t @ t.T)
    residual = residual_basis(features, t, gram_pinv, score_rank)  # (D, r)
    pooled = propagate(graph, project(features, np.concatenate([t.T, residual], axis=1)), steps)
    logits = pooled[:, :c]
    labels = pick_labels(logits)
    in_span = np.einsum("vd,vd->v", logits @ gram_pinv, logits)  # l G^+ l' per row
    norm = np.sqrt(np.maximum(in_span + np.einsum("vr,vr->v", pooled[:, c:], pooled[:, c:]), 0.0))
    best = logits[np.arange(len(labels)), labels]
    score = np.clip(best / np.maximum(norm, NORM_FLOOR), -1.0, 1.0)
    return PoolResult(labels, score)


def project(features: np.ndarray, basis: np.ndarray, chunk_rows: int = 8192) -> np.ndarray:
    """``features @ basis`` in float64, upcasting a chunk of rows at a time (a float64 copy of all
    (V, D) features would cost more than the product)."""
    out = np.empty((features.shape[0], basis.shape[1]), dtype=np.float64)
    for start in range(0, features.shape[0], chunk_rows):
        out[start:start + chunk_rows] = np.asarray(features[start:start + chunk_rows], np.float64) @ basis
    return out


SAMPLE_ROWS = 2048
"""Voxels (an even stride through them) the score's residual directions are estimated from."""


def residual_basis(x: np.ndarray, text_unit: np.ndarray, gram_pinv: np.ndarray, rank: int) -> np.ndarray:
    """(D, r) orthonormal leading directions of X's part orthogonal to the text span, from an even
    subsample of the voxels (a full SVD pass over (V, D) would cost more than the pooling)."""
    d = x.shape[1]
    rank = min(rank, max(d - text_unit.shape[0], 0), x.shape[0])
    if rank <= 0:
        return np.zeros((d, 0))
    sample = np.asarray(x[:: max(1, x.shape[0] // SAMPLE_ROWS)], dtype=np.float64)
    off_span = sample - (sample @ text_unit.T) @ gram_pinv @ text_unit
    # eigenvectors of the (D, D) scatter: much faster here than an SVD of the (rows, D) sample
    values, vectors = np.linalg.eigh(off_span.T @ off_span)
    return vectors[:, ::-1][:, :rank]
