"""Features out of a loaded encoder: per level for a prepared batch (``encode``), or per input point
of a scan for the teacher stage (``point_features``)."""

from __future__ import annotations

import numpy as np
import torch

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.vocabulary import POINTS

from .checkpoint import load_encoder
from .inputs import scan_inputs
from .model import PTv3Encoder, upcast


def encode(checkpoint: str, inputs: dict, device: str = "cpu") -> list[torch.Tensor]:
    """The features of every level (level 0 first, float32, on the CPU) of the checkpoint's encoder
    for a prepared batch, in the reference's point order (level 0: the input order; level s+1: its
    cells sorted by cloud, then x, y, z). ``inputs``: ``feat`` (N, 9), ``coord`` (N, 3),
    ``grid_coord`` (N, 3) int and ``offset`` (the cumulative point counts of the clouds)."""
    model = load_encoder(checkpoint, device)
    return [level.feat.cpu() for level in run_batch(model, inputs).levels]


@torch.inference_mode()
def run_batch(model: PTv3Encoder, inputs: dict):
    """``model``'s ``EncoderOutput`` for a prepared batch (see ``encode``)."""
    device = next(model.parameters()).device
    offset = torch.as_tensor(inputs["offset"]).long().reshape(-1)
    counts = torch.diff(offset, prepend=offset.new_zeros(1)).tolist()
    return model(torch.as_tensor(inputs["feat"]).float().to(device),
                 torch.as_tensor(inputs["coord"]).float().to(device),
                 torch.as_tensor(inputs["grid_coord"]).long().to(device), counts)


@torch.inference_mode()
def point_features(model: PTv3Encoder, xyz: np.ndarray, rgb: np.ndarray | None, normal: np.ndarray | None,
                   levels_above: int, source: str = POINTS, allow_missing: tuple[str, ...] = ()) -> np.ndarray:
    """Teacher features (N, D) float32 of every input point: the deepest level and the
    ``levels_above`` levels above it (``model.upcast``), through each point's 2 cm cell.
    ``allow_missing``: inputs fed as zeros when absent (``scan_inputs``)."""
    deepest = len(model.settings.depths) - 1
    if not 0 <= levels_above <= deepest:
        raise ConfigError(f"teacher.ptv3_levels = {levels_above}: this checkpoint's encoder has "
                          f"{deepest} levels above its deepest (0 to {deepest})")
    scan = scan_inputs(xyz, rgb, normal, source, allow_missing=allow_missing)
    output = run_batch(model, {"feat": scan.feat, "coord": scan.coord, "grid_coord": scan.grid_coord,
                               "offset": [len(scan.feat)]})
    feat = upcast(output, levels_above).float().cpu().numpy()
    return feat[scan.cell_of_point]
