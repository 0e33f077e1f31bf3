"""Settings of the teacher stage (design.md section 4). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TeacherConfig:
    kind: str = "geometric"
    """``ssl`` (sparse-conv U-Net pretrained here) or ``geometric`` (training-free descriptors)."""
    checkpoint: str = ""
    """Weights of the ``ssl`` teacher; its content hash is part of the fingerprint."""
    voxel_size: float = 0.02
