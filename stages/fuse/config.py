"""Settings of the fuse stage (design.md section 3). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field

from geopurify.pipeline.config import NOT_FINGERPRINTED


@dataclass
class FuseConfig:
    source: str = "simulated"
    """2D feature source: ``openclip``, ``simulated`` (benchmark only) or ``precomputed``."""
    frame_stride: int = 1
    """Use every k-th frame."""
    depth_tolerance: float = 0.05
    """Visible if |z - d| <= depth_tolerance * d (OpenScene used 0.25)."""
    border: int = 10
    """Pixels at the image border that count as outside."""
    mode: str = "consensus"
    """Fusion across views: ``mean`` or ``consensus``."""
    topk: int = 3
    """Views kept per point in consensus mode."""
    vocab: str = "scannet20"
    """Vocabulary whose text embeddings drive consensus and scoring."""
    batch_frames: int = field(default=8, metadata=NOT_FINGERPRINTED)
    """Frames encoded per batch by the 2D model."""
