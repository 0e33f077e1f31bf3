"""The ``ssl`` teacher network: a sparse-convolution U-Net on the 2 cm grid (design.md section 4.2).

Input: the occupied 2 cm voxels (their grid positions are the sparse tensor's structure, so xyz shapes
every convolution) with 7 channels per voxel, the means of its points: height above the scan's
lowest point, colour in [0, 1] and the unit normal. Horizontal position is left out of the channels
on purpose: after the random turns and crops of pretraining it only says where a crop happened to be
centred, and at inference on a whole room it would take values never seen in training.
Output: an L2-normalised embedding per voxel, mapped back to every point by the caller.

Shape: a stem conv, then per level ``blocks`` residual blocks, a stride-2 down conv between levels;
the decoder goes back up with inverse convs, concatenates the encoder's features of that level and
runs residual blocks again; a linear head gives ``out_channels``. Batch norm throughout (inference
uses the running statistics, so features are deterministic).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.geometry import voxel_mean, voxelize
from geopurify.stages import sparse
from geopurify.stages.training.files import load_checkpoint
from geopurify.stages.training.threads import INFERENCE_THREADS, torch_threads

IN_CHANNELS = 7


@dataclass
class NetworkConfig:
    channels: list[int] = field(default_factory=lambda: [32, 48, 64, 96, 128])
    """Width of each level; level i works on a grid 2**i times coarser than the input."""
    blocks: int = 1
    """Residual blocks per level, in the encoder and in the decoder."""
    out_channels: int = 64
    """Embedding size."""
    voxel_size: float = 0.02
    """Input grid (metres)."""

    def to_dict(self) -> dict:
        return asdict(self)


class TeacherUNet(nn.Module):
    def __init__(self, cfg: NetworkConfig, algo: Any):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels
        self.stem = sparse.SubMConvBlock(IN_CHANNELS, ch[0], algo, kernel_size=3, indice_key="subm0")
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level, width in enumerate(ch):
            self.encoders.append(nn.Sequential(*[
                sparse.ResidualBlock(width, width, algo, indice_key=f"subm{level}")
                for _ in range(cfg.blocks)]))
            if level + 1 < len(ch):
                self.downs.append(sparse.DownBlock(width, ch[level + 1], algo, indice_key=f"down{level}"))
                self.ups.append(sparse.UpBlock(ch[level + 1], width, algo, indice_key=f"down{level}"))
                self.decoders.append(nn.Sequential(*[
                    sparse.ResidualBlock(2 * width if b == 0 else width, width, algo,
                                         indice_key=f"subm{level}")
                    for b in range(cfg.blocks)]))
        self.head = nn.Linear(ch[0], cfg.out_channels)

    def forward(self, x):
        """SparseConvTensor (V, 7) -> L2-normalised embeddings (V, out_channels), rows in input order."""
        x = self.stem(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        for level in reversed(range(len(self.downs))):
            x = self.ups[level](x)
            skip = skips[level]
            x = x.replace_feature(torch.cat([x.features, skip.features], dim=1))
            x = self.decoders[level](x)
        return nn.functional.normalize(self.head(x.features), dim=1)


def build_network(cfg: NetworkConfig, device: str | torch.device = "cpu") -> TeacherUNet:
    """The U-Net with the conv algorithm its device needs (Native on CPU)."""
    return TeacherUNet(cfg, sparse.conv_algo_for(device)).to(device)


def voxel_inputs(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray,
                 voxel_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel coords (V,3) int32, network inputs (V,7) float32 and each point's voxel (N,) int64.
    One code path for pretraining views and for inference."""
    coords, p2v = voxelize(xyz, voxel_size)
    colour = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    z = np.asarray(xyz, dtype=np.float32)[:, 2:3]
    height = z - z.min() if len(z) else z
    feats = voxel_mean(np.concatenate([height, colour, normal], axis=1), p2v, len(coords))
    n = feats[:, 4:7]
    norms = np.linalg.norm(n, axis=1, keepdims=True)
    feats[:, 4:7] = np.divide(n, norms, out=np.zeros_like(n), where=norms > 1e-6)
    return coords, feats, p2v


@torch.no_grad()
def recalibrate_batch_norm(model: TeacherUNet, scenes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Replace the batch-norm running statistics by their exact average over whole, unaugmented
    scenes (xyz, rgb, normal): what inference will see. The running averages gathered during
    training lag behind the weights (and follow augmented crops)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    device = next(model.parameters()).device
    model.train()
    for xyz, rgb, normal in scenes:
        coords, feats, _ = voxel_inputs(xyz, rgb, normal, model.cfg.voxel_size)
        model(sparse.sparse_tensor(coords, torch.from_numpy(feats).to(device)))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


@torch.no_grad()
def embed_points(model: TeacherUNet, xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Per-point teacher features (N, out_channels) float32, deterministic (eval mode, a fixed torch
    thread count)."""
    model.eval()
    coords, feats, p2v = voxel_inputs(xyz, rgb, normal, model.cfg.voxel_size)
    device = next(model.parameters()).device
    with torch_threads(INFERENCE_THREADS):
        out = model(sparse.sparse_tensor(coords, torch.from_numpy(feats).to(device)))
    return out.cpu().numpy()[p2v]


def load_teacher(path, device: str | torch.device = "cpu") -> TeacherUNet:
    """The network of a teacher checkpoint written by ``pretrain_files.save_checkpoint`` (read as
    tensors and plain data only: a file holding pickled objects is refused)."""
    payload = load_checkpoint(path, "teacher checkpoint")
    if payload.get("format") != "geopurify-teacher":
        raise InputError(path, "not a geopurify teacher checkpoint (write one with pretrain-teacher)")
    model = build_network(NetworkConfig(**payload["network"]), device)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model
