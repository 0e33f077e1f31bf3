"""Grid pooling: the points of a level -> the occupied cells of a grid ``stride`` times coarser.

Linear on the fine points, max over each coarse cell, LayerNorm and GELU; a cell's position is the
mean of its points'. The coarse cells are listed as the reference lists them (sorted by cloud, then
x, y, z of the cell), and ``inverse`` maps every fine point to its cell.
"""

from __future__ import annotations

import torch
from torch import nn

from .level import Level, make_level

_AXIS_BITS = 16  # grid coordinates < 2**16 (serialization.MAX_DEPTH); the cloud index above 48 bits


class GridPooling(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.proj = nn.Linear(in_channels, out_channels)
        self.norm = nn.Sequential(nn.LayerNorm(out_channels))
        self.act = nn.GELU()

    def forward(self, level: Level, orders: tuple[str, ...]) -> tuple[Level, torch.Tensor]:
        """The coarser level (serialised with ``orders``), and each fine point's cell (N,) int64."""
        grid = level.grid_coord // self.stride
        key = (level.batch << 3 * _AXIS_BITS) | (grid[:, 0] << 2 * _AXIS_BITS) \
            | (grid[:, 1] << _AXIS_BITS) | grid[:, 2]
        cells, inverse, members = torch.unique(key, sorted=True, return_inverse=True, return_counts=True)
        feat = self.proj(level.feat)
        pooled = feat.new_empty(len(cells), feat.shape[1]).scatter_reduce_(
            0, inverse[:, None].expand_as(feat), feat, reduce="amax", include_self=False)
        coord = level.coord.new_zeros(len(cells), 3).index_add_(0, inverse, level.coord)
        coord /= members[:, None].to(coord.dtype)
        mask = (1 << _AXIS_BITS) - 1
        coarse_grid = torch.stack([(cells >> 2 * _AXIS_BITS) & mask, (cells >> _AXIS_BITS) & mask,
                                   cells & mask], dim=1)
        batch = cells >> 3 * _AXIS_BITS
        counts = torch.bincount(batch, minlength=len(level.counts)).tolist()
        feat = self.act(self.norm(pooled))
        return make_level(feat, coord, coarse_grid, batch, counts, orders), inverse
