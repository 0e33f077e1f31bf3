"""The learning-rate schedule of both training loops."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, warmup: int, min_fraction: float) -> float:
    """Factor of the peak learning rate at ``step`` (0-based) of ``total``: a linear warm-up to 1
    over ``warmup`` steps, then a cosine decay to ``min_fraction`` at the last step."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_fraction + (1.0 - min_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))
