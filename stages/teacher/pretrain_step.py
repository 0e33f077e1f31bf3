"""One pretraining step: two views of a scan, the network on both, the segment loss, an update."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import make_view
from .data import Scan
from .pretrain_loss import matched_pairs, segment_info_nce, segment_neighbours, voxel_segments
from .pretrain_recipe import PretrainRecipe


@dataclass
class ScanSegments:
    """A scan's over-segmentation, made once before training."""

    segment: np.ndarray
    """(N,) int64 segment id of each point."""
    near: np.ndarray | None
    """(S,S) bool: which segments are each other's negatives (None: all are)."""


def scan_segments(scan: Scan, recipe: PretrainRecipe) -> ScanSegments:
    """The scan's segments (labels are never read) and which of them are near which."""
    from .segments import segment_scan

    segment = segment_scan(scan.xyz, scan.rgb, scan.normal, threshold=recipe.segment_threshold,
                           colour_weight=recipe.segment_colour_weight, min_size=recipe.segment_min_size)
    near = None
    if recipe.segment_negative_radius > 0:
        near = segment_neighbours(scan.xyz, segment, recipe.segment_negative_radius)
    return ScanSegments(segment, near)


def train_step(model, optim, scan: Scan, segments: ScanSegments, recipe: PretrainRecipe,
               rng: np.random.Generator, device: str) -> float:
    """Draw two views around one random centre, take the loss over their matched points, update the
    weights; returns the loss."""
    import torch

    from geopurify.stages import sparse
    from .network import voxel_inputs

    centre = scan.xyz[rng.integers(len(scan.xyz))]
    views = [make_view(scan.xyz, scan.rgb, scan.normal, centre, recipe.augment, rng) for _ in range(2)]
    inputs = [voxel_inputs(v.xyz, v.rgb, v.normal, recipe.network.voxel_size) for v in views]
    rows_a, rows_b, points = matched_pairs(views[0], views[1], inputs[0][2], inputs[1][2],
                                           recipe.matched_points, rng)
    x = sparse.batch_sparse_tensor([(c, torch.from_numpy(f).to(device)) for c, f, _ in inputs])
    z = model(x)
    voxels_a = len(inputs[0][0])
    za = z[torch.from_numpy(rows_a).to(device)]
    zb = z[torch.from_numpy(rows_b + voxels_a).to(device)]
    near = None if segments.near is None else torch.from_numpy(segments.near).to(device)
    seg_a, seg_b = (torch.from_numpy(voxel_segments(segments.segment[v.index], p2v, len(coords))).to(device)
                    for v, (coords, _, p2v) in zip(views, inputs))
    seg_points = torch.from_numpy(segments.segment[points]).to(device)
    loss = 0.5 * (segment_info_nce(za, z[voxels_a:], seg_b, seg_points, recipe.temperature, near)
                  + segment_info_nce(zb, z[:voxels_a], seg_a, seg_points, recipe.temperature, near))
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    return float(loss.detach())
