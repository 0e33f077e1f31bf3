"""What an affinity source may read of one scene: the arrays of its points and fused groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScenePoints:
    """What the affinity sources may read of one scene (arrays of the store's groups)."""

    xyz: np.ndarray
    """(N,3) float32."""
    rgb: np.ndarray | None
    """(N,3) uint8; None for a scan without colour (each affinity does without, see ``without_color``)."""
    normal: np.ndarray
    """(N,3) float32."""
    fused: np.ndarray
    """(N,D) float32 lifted features."""
    label: np.ndarray | None = None
    """(N,) NYU40 ids, when the scene has ground truth."""
