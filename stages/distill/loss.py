"""InfoNCE on the student's embeddings over the teacher-mined pairs (design.md section 5.3).

For anchor a with positive p and negatives n_1..n_K (embeddings L2-normalised, temperature t):

    loss_a = -log( exp(z_a.z_p / t) / (exp(z_a.z_p / t) + sum_k exp(z_a.z_nk / t)) )

and the step's loss is the mean over anchors. Points take their voxel's embedding.
"""

from __future__ import annotations

import torch

from .mining import Mined


def info_nce(z_anchor: torch.Tensor, z_positive: torch.Tensor, z_negatives: torch.Tensor,
             temperature: float) -> torch.Tensor:
    """Mean InfoNCE of anchors (M,C) against positives (M,C) and negatives (M,K,C)."""
    pos = (z_anchor * z_positive).sum(dim=1, keepdim=True)
    neg = torch.einsum("mc,mkc->mk", z_anchor, z_negatives)
    logits = torch.cat([pos, neg], dim=1) / temperature
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def distill_loss(z_voxel: torch.Tensor, point_to_voxel: torch.Tensor, mined: Mined,
                 temperature: float) -> torch.Tensor:
    """The loss of one step: voxel embeddings (V,C), each point's voxel (N,), the mined points."""
    v = point_to_voxel
    return info_nce(z_voxel[v[mined.anchors]], z_voxel[v[mined.positives]],
                    z_voxel[v[mined.negatives]], temperature)
