"""Sparse convolutions (spconv) shared by the teacher and the student networks.

spconv is imported lazily (``import spconv.pytorch`` costs ~10 s a process), so importing this module
is cheap. On CPU tensors every conv layer must use ``ConvAlgo.Native`` (the default algorithm asserts
CUDA; see ../shared/stack.md); on CUDA the faster default is fine. Blocks therefore take the algorithm
at construction, and ``set_conv_algo`` switches a built network when it moves between devices (spconv
keeps one weight layout, KRSC, for every algorithm, so switching never touches the weights).

Coordinates: voxel coords are (V,3) int32 (x, y, z) >= 0, as ``pipeline.geometry.voxelize`` gives;
the SparseConvTensor indices are (V,4) int32 ``[batch, x, y, z]``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn


def spconv():
    """The ``spconv.pytorch`` module, imported on first use (its torch.amp FutureWarnings muted)."""
    # spconv's import also trips torch.fx's "is_fx_tracing" notice on every process: not ours to act on
    logging.getLogger("torch.fx._symbolic_trace").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import spconv.pytorch as sp
    return sp


def conv_algo_for(where: torch.Tensor | torch.device | str | None = None) -> Any:
    """``ConvAlgo.Native`` for CPU tensors (the only correct algorithm there), ``None`` (spconv's fast
    default) for CUDA. ``where`` is a tensor, a device or a device name; None means CPU."""
    spconv()
    from spconv.core import ConvAlgo

    if isinstance(where, torch.Tensor):
        device = where.device
    else:
        device = torch.device(where or "cpu")
    return None if device.type == "cuda" else ConvAlgo.Native


def set_conv_algo(module: nn.Module, algo: Any) -> nn.Module:
    """Set the algorithm of every spconv conv layer in ``module`` (``None`` = spconv's default)."""
    sp = spconv()
    if algo is None:
        from spconv.core import ConvAlgo
        algo = ConvAlgo.MaskImplicitGemm
    for layer in module.modules():
        if isinstance(layer, sp.conv.SparseConvolution):
            layer.algo = algo
    return module


def sparse_tensor(coords: np.ndarray | torch.Tensor, features: torch.Tensor,
                  batch_index: np.ndarray | torch.Tensor | None = None,
                  spatial_shape: tuple[int, int, int] | None = None):
    """A ``SparseConvTensor`` from voxel coords (V,3) int >= 0 and features (V,C).

    ``batch_index`` (V,) puts the voxels of several scenes in one batch (default: all in batch 0).
    ``spatial_shape`` defaults to the coords' extent plus one."""
    sp = spconv()
    coords = torch.as_tensor(np.asarray(coords) if not isinstance(coords, torch.Tensor) else coords)
    coords = coords.to(device=features.device, dtype=torch.int32)
    if coords.ndim != 2 or coords.shape[1] != 3 or coords.shape[0] != features.shape[0]:
        raise ValueError(f"coords must be (V,3) matching features (V,C); got {tuple(coords.shape)} "
                         f"and {tuple(features.shape)}")
    if batch_index is None:
        batch = torch.zeros(coords.shape[0], 1, dtype=torch.int32, device=features.device)
        batch_size = 1
    else:
        batch = torch.as_tensor(np.asarray(batch_index) if not isinstance(batch_index, torch.Tensor)
                                else batch_index).to(device=features.device, dtype=torch.int32)[:, None]
        batch_size = int(batch.max().item()) + 1 if batch.numel() else 1
    if spatial_shape is None:
        spatial_shape = (coords.max(dim=0).values + 1).tolist() if coords.numel() else [1, 1, 1]
    indices = torch.cat([batch, coords], dim=1).contiguous()
    return sp.SparseConvTensor(features, indices, list(spatial_shape), batch_size)


def batch_sparse_tensor(scenes: list[tuple[np.ndarray, torch.Tensor]]):
    """One SparseConvTensor from several scenes' (coords (V_i,3), features (V_i,C)); rows keep the
    order of the list (scene 0's voxels first)."""
    coords = np.concatenate([np.asarray(c) for c, _ in scenes], axis=0)
    feats = torch.cat([f for _, f in scenes], dim=0)
    batch = np.concatenate([np.full(len(c), i, dtype=np.int32) for i, (c, _) in enumerate(scenes)])
    return sparse_tensor(coords, feats, batch_index=batch)


def _norm(channels: int, norm: str) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)
    if norm == "layer":
        return nn.LayerNorm(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm {norm!r}: expected batch, layer or none")


class SubMConvBlock(nn.Module):
    """Submanifold conv (output on the input's voxels) -> norm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, algo: Any, kernel_size: int = 3,
                 indice_key: str | None = None, norm: str = "batch", activation: bool = True):
        super().__init__()
        sp = spconv()
        self.conv = sp.SubMConv3d(in_channels, out_channels, kernel_size, bias=(norm == "none"),
                                  indice_key=indice_key, algo=algo)
        self.norm = _norm(out_channels, norm)
        self.activation = activation

    def forward(self, x):
        x = self.conv(x)
        f = self.norm(x.features)
        return x.replace_feature(torch.relu(f) if self.activation else f)


class ResidualBlock(nn.Module):
    """Two 3x3x3 submanifold convs with an identity (or 1x1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, algo: Any, indice_key: str | None = None,
                 norm: str = "batch"):
        super().__init__()
        self.conv1 = SubMConvBlock(in_channels, out_channels, algo, 3, indice_key, norm)
        self.conv2 = SubMConvBlock(out_channels, out_channels, algo, 3, indice_key, norm,
                                   activation=False)
        self.shortcut = None
        if in_channels != out_channels:
            # a 1x1x1 conv is a per-voxel linear map; spconv 2.3.6's SubMConv3d with kernel 1 reads
            # its KRSC weight as (in, out), so it would not match a dense conv with the same weight
            self.shortcut = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x):
        skip = x.features if self.shortcut is None else self.shortcut(x.features)
        y = self.conv2(self.conv1(x))
        return y.replace_feature(torch.relu(y.features + skip))


class DownBlock(nn.Module):
    """Stride-2 sparse conv (2x2x2 kernel: halves the grid) -> norm -> ReLU. Its ``indice_key``
    lets the matching ``UpBlock`` restore exactly the finer voxels."""

    def __init__(self, in_channels: int, out_channels: int, algo: Any, indice_key: str,
                 norm: str = "batch"):
        super().__init__()
        sp = spconv()
        self.conv = sp.SparseConv3d(in_channels, out_channels, 2, stride=2, bias=(norm == "none"),
                                    indice_key=indice_key, algo=algo)
        self.norm = _norm(out_channels, norm)

    def forward(self, x):
        x = self.conv(x)
        return x.replace_feature(torch.relu(self.norm(x.features)))


class UpBlock(nn.Module):
    """Inverse of the ``DownBlock`` with the same ``indice_key`` -> norm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, algo: Any, indice_key: str,
                 norm: str = "batch"):
        super().__init__()
        sp = spconv()
        self.conv = sp.SparseInverseConv3d(in_channels, out_channels, 2, indice_key=indice_key,
                                           bias=(norm == "none"), algo=algo)
        self.norm = _norm(out_channels, norm)

    def forward(self, x):
        x = self.conv(x)
        return x.replace_feature(torch.relu(self.norm(x.features)))
