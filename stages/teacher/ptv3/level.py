"""One level of the encoder's point hierarchy: its points, their serialised orders and the sparse
tensor its convolutions share.

Level 0 holds the grid-sampled input points; level s+1 the occupied cells of a grid ``stride`` times
coarser (grid pooling). A batch holds several clouds, listed cloud after cloud (``counts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from geopurify.stages import sparse

from .serialization import serialize


@dataclass
class Level:
    feat: torch.Tensor
    """Features (N, C) float32."""
    coord: torch.Tensor
    """Positions (N, 3) float32 in metres (level s+1: the mean of its cell's points)."""
    grid_coord: torch.Tensor
    """Grid cells (N, 3) int64 >= 0 at this level's resolution."""
    batch: torch.Tensor
    """Cloud of every point (N,) int64; the clouds' points are contiguous, in batch order."""
    counts: list[int]
    """Points per cloud."""
    sorted_points: torch.Tensor
    """(k, N): for each serialisation order, the points sorted along it."""
    places: torch.Tensor
    """(k, N): each point's position in ``sorted_points`` of each order."""
    sparse: Any
    """spconv SparseConvTensor on ``grid_coord``; the level's first conv caches its neighbour pairs
    in it (its blocks share one ``indice_key``)."""
    _patches: dict = field(default_factory=dict, repr=False)

    def patches(self, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``padded_patches`` of this level for one patch size, computed once."""
        if patch not in self._patches:
            self._patches[patch] = padded_patches(self.counts, patch, self.feat.device)
        return self._patches[patch]


def make_level(feat: torch.Tensor, coord: torch.Tensor, grid_coord: torch.Tensor, batch: torch.Tensor,
               counts: list[int], orders: tuple[str, ...]) -> Level:
    """A level with its serialised orders and its sparse tensor."""
    grid_coord = grid_coord.long()
    sorted_points, places = serialize(grid_coord, batch, orders, len(counts))
    tensor = sparse.sparse_tensor(grid_coord, feat, batch_index=batch)
    return Level(feat, coord, grid_coord, batch, list(counts), sorted_points, places, tensor)


def padded_patches(counts: list[int], patch: int, device: torch.device | str = "cpu"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad every cloud of a serialised batch to a whole number of patches (the reference's scheme).

    A cloud of n >= ``patch`` points takes ceil(n / patch) patches; the j-th slot past its end
    repeats the point ``patch`` places earlier (the tail of its previous patch), so the last patch is
    full and no mask is needed. Returns ``take`` (P,): the serialised position each padded slot reads,
    and ``slot`` (N,): the padded slot of each serialised position (to read the results back)."""
    takes, slots = [], []
    start = padded_start = 0
    for n in counts:
        if n < patch:
            raise ValueError(f"a cloud of {n} points is smaller than the patch size {patch}")
        padded = -(-n // patch) * patch
        local = torch.arange(padded, device=device)
        takes.append(start + torch.where(local < n, local, local - patch))
        slots.append(padded_start + local[:n])
        start += n
        padded_start += padded
    return torch.cat(takes), torch.cat(slots)
