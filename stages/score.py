"""Score: one confusion matrix over the evaluated scenes (design.md section 7)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ScoreConfig:
    protocol: str = "scannet19"
    """``scannet20`` (OpenScene) or ``scannet19`` (GeoPurify, without otherfurniture)."""
