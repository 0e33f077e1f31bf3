"""Settings of the purify stage (design.md section 6). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PurifyConfig:
    affinity: str = "student"
    """``student`` (the method), ``geometric`` (baseline) or ``oracle`` (ceiling, benchmark only)."""
    k: int = 96
    """Nearest voxels each voxel pools from (self excluded)."""
    steps: int = 19
    """Propagation steps T."""
    temperature: float = 0.05
    voxel_size: float = 0.02
    keep_features: bool = False
