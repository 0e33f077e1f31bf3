"""The encoder's building blocks, named as in the published state dicts: the point embedding, the
conditional positional encoding (a 3x3x3 submanifold conv), and the transformer block.

spconv is imported when a conv is built, not when this module is.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from geopurify.stages import sparse

from .attention import SerializedAttention
from .level import Level


@functools.cache
def _bias_after_conv_class() -> type:
    sp = sparse.spconv()

    class BiasAfterSubMConv3d(sp.SubMConv3d):
        """spconv's SubMConv3d that adds its bias after the convolution. spconv fuses the bias into
        its kernel in eval mode, and its CPU kernel refuses that; the sum is the same."""

        def forward(self, x):
            out = self._conv_forward(self.training, x, self.weight, None, name=self.name,
                                     sparse_unique_name=self._sparse_unique_name)
            return out.replace_feature(out.features + self.bias)

    return BiasAfterSubMConv3d


def positional_conv(channels: int, indice_key: str, algo: Any) -> nn.Module:
    """The 3x3x3 submanifold conv (with bias) of a block's positional encoding; ``algo``: see
    ``geopurify.stages.sparse.conv_algo_for``."""
    return _bias_after_conv_class()(channels, channels, kernel_size=3, bias=True,
                                    indice_key=indice_key, algo=algo)


class Embedding(nn.Module):
    """Input features -> first level's width: Linear, LayerNorm, GELU. ``mask_token`` (masked
    pretraining's stand-in for hidden points) is loaded with the checkpoint and never used."""

    def __init__(self, in_channels: int, channels: int, mask_token: bool):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(linear=nn.Linear(in_channels, channels),
                                              norm=nn.LayerNorm(channels), act=nn.GELU()))
        self.mask_token = nn.Parameter(torch.zeros(1, channels)) if mask_token else None

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.stem(feat)


class MLP(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """x + CPE(x), then x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) (pre-norm).

    CPE: submanifold conv, Linear, LayerNorm. Attention uses serialisation order ``order_index``."""

    def __init__(self, channels: int, heads: int, patch_size: int, mlp_ratio: float, order_index: int,
                 indice_key: str, algo: Any, qkv_bias: bool = True, qk_scale: float | None = None):
        super().__init__()
        self.cpe = nn.ModuleList([positional_conv(channels, indice_key, algo),
                                  nn.Linear(channels, channels), nn.LayerNorm(channels)])
        self.norm1 = nn.Sequential(nn.LayerNorm(channels))
        self.attn = SerializedAttention(channels, heads, patch_size, order_index, qkv_bias, qk_scale)
        self.norm2 = nn.Sequential(nn.LayerNorm(channels))
        self.mlp = nn.Sequential(MLP(channels, int(channels * mlp_ratio)))

    def forward(self, level: Level) -> None:
        """Update ``level.feat`` in place of the level (its conv neighbour pairs kept for the next
        block)."""
        conv, linear, norm = self.cpe
        level.sparse = conv(level.sparse.replace_feature(level.feat))
        x = level.feat + norm(linear(level.sparse.features))
        x = x + self.attn(self.norm1(x), level)
        level.feat = x + self.mlp(self.norm2(x))
