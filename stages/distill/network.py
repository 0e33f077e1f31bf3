"""The student: a sparse-conv network from voxel inputs to L2-normalised embeddings (design.md section 5.2).

Shape (both presets): a 3x3x3 submanifold conv to ``width`` channels, ``blocks`` residual blocks of
two 3x3x3 convs at ``width``, a 1x1x1 conv (a per-voxel linear layer) to ``out_dim``, then L2
normalisation. ``paper``: width 512, 4 blocks, 128 out (~64M parameters at D=512); ``cpu``: width 64.
Every conv stays on the input voxels (submanifold), so the output rows are the input voxels in order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from geopurify.stages import sparse

from .config import PRESET_WIDTHS, DistillConfig
from .inputs import input_channels


def network_config(cfg: DistillConfig, fused_dim: int) -> dict:
    """Everything needed to rebuild the network (stored with the weights)."""
    return {
        "fused_dim": int(fused_dim),
        "in_channels": input_channels(fused_dim),
        "width": int(cfg.width or PRESET_WIDTHS[cfg.preset]),
        "blocks": int(cfg.blocks),
        "out_dim": int(cfg.out_dim),
        "norm": cfg.norm,
        "voxel_size": float(cfg.voxel_size),
        "preset": cfg.preset,
    }


class StudentNet(nn.Module):
    def __init__(self, in_channels: int, width: int, blocks: int, out_dim: int, norm: str = "batch",
                 algo: Any = None, **_ignored):
        super().__init__()
        # one indice_key: every 3x3x3 layer shares the same neighbour pairs, built once per forward
        self.stem = sparse.SubMConvBlock(in_channels, width, algo, 3, "subm", norm)
        self.blocks = nn.Sequential(*[sparse.ResidualBlock(width, width, algo, "subm", norm)
                                      for _ in range(blocks)])
        self.head = nn.Linear(width, out_dim)

    def forward(self, coords: np.ndarray | torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Voxel coords (V,3) and input features (V,C_in) -> embeddings (V,out_dim), unit rows."""
        x = self.blocks(self.stem(sparse.sparse_tensor(coords, features)))
        return nn.functional.normalize(self.head(x.features), dim=1)


def build_student(net_cfg: dict, device: str | torch.device = "cpu") -> StudentNet:
    """A network of the given config on ``device`` (conv algorithm picked for that device)."""
    device = torch.device(device)
    model = StudentNet(algo=sparse.conv_algo_for(device), **net_cfg)
    return model.to(device)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
