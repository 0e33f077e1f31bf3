"""Settings of the distill stage (design.md section 5). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DistillConfig:
    train_scenes: list[str] = field(default_factory=list)
    """Scenes the student is trained on (names, globs or @file)."""
    preset: str = "cpu"
    """Network size: ``cpu`` (default) or ``paper`` (~64M parameters)."""
    voxel_size: float = 0.02
    seed: int = 0
