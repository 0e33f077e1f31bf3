"""Row-wise helpers for (N, D) feature matrices (numpy; torch code uses ``F.normalize``)."""

from __future__ import annotations

import numpy as np

NORM_FLOOR = 1e-12
"""Smallest norm divided by: a zero row stays zero instead of becoming NaN."""


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (at least ``NORM_FLOOR``), in the matrix's own float dtype."""
    m = np.asarray(matrix)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), NORM_FLOOR)
