"""Attention within serialised patches (PTv3's dense path, used for every checkpoint).

The points are sorted along one order, cut into patches of ``K`` consecutive points, and each patch
attends to itself with multi-head attention. ``K`` is the smaller of the configured patch size and
the smallest cloud of the batch; a cloud that is not a multiple of ``K`` is padded by repeating
points of its previous patch (``level.padded_patches``). For one cloud this is exactly the
reference's flash-attention path too (a cloud smaller than the patch is one patch).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .level import Level

ATTENTION_ELEMENTS = 1 << 24
"""Attention weights (patches x heads x K x K) per kernel call: bounds memory whatever kernel
torch picks, 64 MiB in float32 if it materialises them."""


class SerializedAttention(nn.Module):
    def __init__(self, channels: int, heads: int, patch_size: int, order_index: int,
                 qkv_bias: bool = True, qk_scale: float | None = None):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.patch_size = patch_size
        self.order_index = order_index
        self.scale = qk_scale or (channels // heads) ** -0.5
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, level: Level) -> torch.Tensor:
        """Features (N, C) of the level's points -> attention output (N, C), same rows."""
        n, channels = x.shape
        patch = min(self.patch_size, min(level.counts))
        take, slot = level.patches(patch)
        order = level.sorted_points[self.order_index]
        padded_points = order[take]  # the point in every padded slot
        points_slot = slot[level.places[self.order_index]]  # the padded slot of every point
        qkv = self.qkv(x)[padded_points].view(-1, patch, 3, self.heads, channels // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (patches, heads, K, head_dim)
        out = patch_attention(q, k, v, self.scale)
        out = out.transpose(1, 2).reshape(-1, channels)[points_slot]
        return self.proj(out)


def patch_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """softmax(q k^T * scale) v per patch and head, a bounded number of patches at a time."""
    patches, heads, size, _ = q.shape
    step = max(1, ATTENTION_ELEMENTS // (heads * size * size))
    if step >= patches:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    out = torch.empty_like(q)
    for i in range(0, patches, step):
        out[i:i + step] = F.scaled_dot_product_attention(q[i:i + step], k[i:i + step], v[i:i + step],
                                                         scale=scale)
    return out
