"""The Point Transformer V3 (m2) encoder of Sonata and Concerto, inference only.

Embedding, then per level: grid pooling (from level 1 on) and transformer blocks; block i of a level
attends along serialisation order i mod (number of orders), never shuffled, so features are
deterministic. Module names follow the published state dicts (``enc.enc<s>.block<i>...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .blocks import Block, Embedding
from .level import Level, make_level
from .pooling import GridPooling


@dataclass(frozen=True)
class EncoderSettings:
    """What fixes the network's shape and arithmetic (``checkpoint.parse_config`` makes it from a
    checkpoint's config)."""

    in_channels: int
    orders: tuple[str, ...]
    strides: tuple[int, ...]
    """Pooling stride into each level after the first."""
    depths: tuple[int, ...]
    """Blocks per level."""
    channels: tuple[int, ...]
    heads: tuple[int, ...]
    patch_sizes: tuple[int, ...]
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    mask_token: bool = True


@dataclass
class EncoderOutput:
    levels: list[Level]
    """Every level, level 0 first; ``levels[s].feat`` are its features."""
    inverses: list[torch.Tensor]
    """``inverses[s]`` (N_s,): the level-(s+1) cell of every level-s point."""


class EncoderStage(nn.Module):
    """One level: pooling from the level above (absent for level 0), then its blocks."""

    def __init__(self, settings: EncoderSettings, s: int, algo: Any):
        super().__init__()
        width = settings.channels[s]
        self.down = (GridPooling(settings.channels[s - 1], width, settings.strides[s - 1])
                     if s > 0 else None)
        self.blocks = []
        for i in range(settings.depths[s]):
            block = Block(width, settings.heads[s], settings.patch_sizes[s], settings.mlp_ratio,
                          i % len(settings.orders), f"stage{s}", algo, settings.qkv_bias,
                          settings.qk_scale)
            self.add_module(f"block{i}", block)
            self.blocks.append(block)

    def forward(self, level: Level, orders: tuple[str, ...]) -> tuple[Level, torch.Tensor | None]:
        inverse = None
        if self.down is not None:
            level, inverse = self.down(level, orders)
        for block in self.blocks:
            block(level)
        return level, inverse


class PTv3Encoder(nn.Module):
    def __init__(self, settings: EncoderSettings, algo: Any):
        super().__init__()
        self.settings = settings
        self.embedding = Embedding(settings.in_channels, settings.channels[0], settings.mask_token)
        self.enc = nn.ModuleDict({f"enc{s}": EncoderStage(settings, s, algo)
                                  for s in range(len(settings.depths))})

    def forward(self, feat: torch.Tensor, coord: torch.Tensor, grid_coord: torch.Tensor,
                counts: list[int]) -> EncoderOutput:
        """A batch of grid-sampled clouds, listed cloud after cloud (``counts`` points each):
        features (N, in_channels), positions (N, 3) metres, grid cells (N, 3) int >= 0."""
        device = feat.device
        batch = torch.repeat_interleave(torch.arange(len(counts), device=device),
                                        torch.as_tensor(counts, device=device))
        level = make_level(self.embedding(feat), coord, grid_coord, batch, counts, self.settings.orders)
        levels, inverses = [], []
        for stage in self.enc.values():
            level, inverse = stage(level, self.settings.orders)
            if inverse is not None:
                inverses.append(inverse)
            levels.append(level)
        return EncoderOutput(levels, inverses)


def upcast(output: EncoderOutput, above: int) -> torch.Tensor:
    """Level-0 features (N_0, D): the deepest level's concatenated after each of the ``above``
    levels above it (as the Sonata demo does; D = the sum of their widths), carried down to level 0
    through the pooling inverses."""
    levels, inverses = output.levels, output.inverses
    if not 0 <= above < len(levels):
        raise ValueError(f"{above} levels above the deepest: expected 0 to {len(levels) - 1}")
    feat = levels[-1].feat
    for s in range(len(levels) - 2, -1, -1):
        feat = feat[inverses[s]]
        if s >= len(levels) - 1 - above:
            feat = torch.cat([levels[s].feat, feat], dim=1)
    return feat
