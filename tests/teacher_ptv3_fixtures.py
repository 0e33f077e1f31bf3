"""A tiny PTv3 checkpoint in the published layout, random weights, for the ptv3 teacher tests; and the
reference fixtures' location (../shared/fixtures/ptv3, optional)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FIXTURES = Path(os.environ.get("GEOPURIFY_FIXTURES",
                               Path(__file__).resolve().parents[2] / "shared" / "fixtures")) / "ptv3"
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "ptv3_small_io.pt").is_file(),
                                    reason="reference fixtures (../shared/fixtures/ptv3) not present")

TINY_CONFIG = {
    "in_channels": 9, "order": ["z", "z-trans", "hilbert", "hilbert-trans"], "stride": [2, 2],
    "enc_depths": [1, 1, 2], "enc_channels": [8, 12, 16], "enc_num_head": [2, 2, 4],
    "enc_patch_size": [64, 32, 16], "mlp_ratio": 4, "qkv_bias": True, "qk_scale": None,
    "attn_drop": 0.0, "proj_drop": 0.0, "drop_path": 0.3, "layer_scale": None, "pre_norm": True,
    "shuffle_orders": True, "enable_rpe": False, "enable_flash": True, "upcast_attention": False,
    "upcast_softmax": False, "traceable": True, "mask_token": True, "enc_mode": True,
    "freeze_encoder": False,
}
"""A published checkpoint's config keys (Sonata's training-only settings included), tiny widths."""
TINY_DIM = 8 + 12 + 16  # the two levels above the deepest, and the deepest


def tiny_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Random values for every tensor of ``TINY_CONFIG``'s encoder (norms and biases included)."""
    from geopurify.stages.teacher.ptv3 import build

    generator = torch.Generator().manual_seed(seed)
    shapes = {k: v.shape for k, v in build(TINY_CONFIG).state_dict().items()}
    return {k: 0.3 * torch.randn(shape, generator=generator) for k, shape in shapes.items()}


def write_tiny_checkpoint(path: Path, seed: int = 0, config: dict | None = None,
                          state_dict: dict | None = None) -> str:
    torch.save({"config": dict(config or TINY_CONFIG), "state_dict": state_dict or tiny_state_dict(seed)},
               path)
    return str(path)
