"""Positives and negatives for the student's contrastive loss, chosen by the teacher (design.md section 5.3).

For each anchor point a (teacher features L2-normalised, similarity = cosine):
- positive: the most teacher-similar other point (``paper``), or the most teacher-similar point
  outside a's student voxel (``outside-voxel``; with voxelised teacher features the paper's positive
  is nearly always a point of a's own voxel, whose student embedding is a's own);
- negatives: the ``scene_negatives`` least teacher-similar points of the scene, then the
  ``local_negatives`` least teacher-similar among a's ``neighbours`` nearest points (self excluded).
The two negative sets may overlap; both are kept, as in the paper.

Similarities are computed ``chunk`` anchors at a time (a chunk x N block), never M x N at once.
Ties go to the lowest point index (``torch.max``), so the choice is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from geopurify.pipeline.geometry import knn


@dataclass
class Mined:
    anchors: torch.Tensor
    """(M,) int64 anchor point indices."""
    positives: torch.Tensor
    """(M,) int64 positive point of each anchor."""
    negatives: torch.Tensor
    """(M, S+L) int64: the S scene negatives (least similar first), then the L local ones."""
    positive_similarity: torch.Tensor
    """(M,) teacher cosine of each anchor to its positive (diagnostics)."""


def anchor_count(num_points: int, max_anchors: int, fraction: float) -> int:
    """M = min(max_anchors, fraction * N), at least 1."""
    return max(1, min(max_anchors, int(num_points * fraction)))


def sample_anchors(num_points: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` distinct random point indices."""
    return torch.randperm(num_points, generator=generator)[:count]


def spatial_neighbours(xyz: np.ndarray, anchors: np.ndarray, k: int) -> np.ndarray:
    """The k nearest points of each anchor, itself excluded (M,k) int64. Excluding by index, not by
    rank, so a duplicate point at the anchor's position stays a neighbour."""
    k = min(k, len(xyz) - 1)
    _, idx = knn(xyz, xyz[anchors], k + 1)
    not_self = idx != anchors[:, None]
    # stable sort puts the kept entries first in distance order; rows without self drop the farthest
    order = np.argsort(~not_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, axis=1)


def _voxel_members(point_to_voxel: np.ndarray):
    """A function from voxel ids (c,) to the points of each voxel (c, largest count) int64, short
    rows padded with their voxel's first point."""
    order = np.argsort(point_to_voxel, kind="stable")
    counts = np.bincount(point_to_voxel)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def members(voxels: np.ndarray) -> np.ndarray:
        n = counts[voxels]
        width = np.arange(int(n.max()))
        offsets = starts[voxels][:, None] + np.where(width[None, :] < n[:, None], width[None, :], 0)
        return order[offsets]

    return members


@torch.no_grad()
def mine(teacher_unit: torch.Tensor, xyz: np.ndarray, anchors: torch.Tensor, *,
         scene_negatives: int = 48, local_negatives: int = 15, neighbours: int = 96,
         positive: str = "paper", point_to_voxel: np.ndarray | None = None,
         chunk: int = 512) -> Mined:
    """Positives and negatives of ``anchors`` from L2-normalised teacher features (N,Dt)."""
    n = teacher_unit.shape[0]
    if positive not in ("paper", "outside-voxel"):
        raise ValueError(f"positive {positive!r}: expected 'paper' or 'outside-voxel'")
    if positive == "outside-voxel" and point_to_voxel is None:
        raise ValueError("outside-voxel positives need point_to_voxel")
    scene_negatives = min(scene_negatives, n - 1)
    local_negatives = min(local_negatives, neighbours, n - 1)
    anchors_np = anchors.numpy()
    nbrs = torch.from_numpy(spatial_neighbours(xyz, anchors_np, neighbours))
    members = _voxel_members(np.asarray(point_to_voxel)) if positive == "outside-voxel" else None

    positives, negatives, pos_sim = [], [], []
    for start in range(0, len(anchors), chunk):
        a = anchors[start:start + chunk]
        rows = torch.arange(len(a))
        sims = teacher_unit[a] @ teacher_unit.T  # (c, N), the only large block
        local = nbrs[start:start + chunk]
        local_sims = sims.gather(1, local)
        pick = torch.topk(local_sims, local_negatives, dim=1, largest=False, sorted=True).indices
        local_neg = local.gather(1, pick)

        sims[rows, a] = float("inf")  # self is never a negative
        scene_neg = torch.topk(sims, scene_negatives, dim=1, largest=False, sorted=True).indices

        sims[rows, a] = -float("inf")  # nor its own positive
        if members is not None:
            # knock out the anchor's voxel-mates: a few entries per row, not a dense c x N mask
            own = torch.from_numpy(members(np.asarray(point_to_voxel)[a.numpy()]))
            sims[rows[:, None].expand_as(own), own] = -float("inf")
        best, pos = sims.max(dim=1)
        lonely = torch.isinf(best)
        if lonely.any():
            # an anchor whose voxel holds every point has no outside point: the paper's positive
            again = teacher_unit[a[lonely]] @ teacher_unit.T
            again[torch.arange(len(again)), a[lonely]] = -float("inf")
            best[lonely], pos[lonely] = again.max(dim=1)
        positives.append(pos)
        pos_sim.append(best)
        negatives.append(torch.cat([scene_neg, local_neg], dim=1))
    return Mined(anchors, torch.cat(positives), torch.cat(negatives), torch.cat(pos_sim))
