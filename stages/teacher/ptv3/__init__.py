"""The ``ptv3`` teacher: an inference-only Point Transformer V3 (m2) encoder that loads the published
Sonata and Concerto checkpoints strictly (design.md section 4.1; README, "The teacher checkpoint").

The outside contract:
- ``build(config) -> torch.nn.Module``: the encoder of a checkpoint's config, random weights,
  parameters named exactly as the published state dicts.
- ``encode(checkpoint, inputs, device="cpu") -> list[torch.Tensor]``: the features of every level,
  level 0 first, in the reference's point order, for a prepared batch (``features.encode``).
The teacher stage uses ``load_encoder`` and ``point_features``. spconv is imported only when a
network is built.
"""

from .checkpoint import build, load_encoder
from .features import encode, point_features

__all__ = ["build", "encode", "load_encoder", "point_features"]
