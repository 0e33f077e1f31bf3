"""Row normalisation of (N, D) feature matrices: the one home (numpy, and its torch twin)."""

from __future__ import annotations

import numpy as np

NORM_FLOOR = 1e-12
"""Smallest norm divided by: a zero row stays zero instead of becoming NaN."""


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (at least ``NORM_FLOOR``), in the matrix's own float dtype."""
    m = np.asarray(matrix)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), NORM_FLOOR)


def unit_rows_tensor(features):
    """``unit_rows`` for torch code: a float32 tensor, each row over max(norm, ``NORM_FLOOR``)
    (``F.normalize``'s own floor), from a tensor or an array. torch is imported only when called."""
    import torch

    t = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    return torch.nn.functional.normalize(t.float(), dim=1, eps=NORM_FLOOR)
