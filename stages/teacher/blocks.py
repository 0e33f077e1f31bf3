"""Descriptor blocks: how the teachers combine several per-point blocks into one feature vector.

Each block is centred by its scene mean and scaled to unit mean L2 norm, so that cosine similarity
compares deviations from the scene's typical point and a block's weight alone says how much it
counts; the weighted blocks are concatenated and the whole vector made unit length.
"""

from __future__ import annotations

import numpy as np


def standardise(block: np.ndarray) -> np.ndarray:
    """The block centred by its mean row and divided by the mean row norm."""
    centred = block - block.mean(axis=0, keepdims=True)
    scale = np.linalg.norm(centred, axis=1).mean() if len(centred) else 0.0
    return centred / max(float(scale), 1e-9)


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero."""
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 1e-12)


def combine(blocks: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Unit-length rows of the standardised, weighted blocks side by side (float32)."""
    out = np.concatenate([w * standardise(np.asarray(b)) for b, w in blocks], axis=1)
    return unit(out).astype(np.float32)
