"""Finite results only: a float array holding NaN or infinity is never written as a done result.

A bad setting (a zero or NaN temperature, an infinite learning rate) makes numbers that still have
the right shape and dtype, so nothing downstream would notice: every stage's output, and every
training step's loss and weights, is checked here before it is kept.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from .errors import GeopurifyError


class NonFiniteError(GeopurifyError):
    """A result holds NaN or infinity: names the array and the settings most likely responsible."""


def nonfinite_count(values: np.ndarray) -> int:
    """How many entries of a float array are NaN or infinite (0 for other dtypes)."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating) and not np.issubdtype(values.dtype, np.complexfloating):
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def suspects_text(suspects: Iterable[str]) -> str:
    keys = [k for k in suspects if k]
    return f"check {', '.join(keys)}" if keys else "check the stage's settings"


def check_arrays(arrays: Mapping[str, np.ndarray], where: str, suspects: Iterable[str]) -> None:
    """Raise ``NonFiniteError`` naming the first array (``<where>/<name>``) with NaN or infinity."""
    suspects = list(suspects)
    for name, values in arrays.items():
        bad = nonfinite_count(values)
        if bad:
            raise NonFiniteError(f"{where}/{name}: {bad} of {np.asarray(values).size} values are NaN or "
                                 f"infinite; not written ({suspects_text(suspects)})")


def check_value(value: float, what: str, suspects: Iterable[str]) -> None:
    """Raise ``NonFiniteError`` when a scalar (a training loss) is NaN or infinite."""
    if not np.isfinite(value):
        raise NonFiniteError(f"{what} is {value}; stopped ({suspects_text(suspects)})")


def check_parameters(named: Iterable[tuple[str, object]], what: str, suspects: Iterable[str]) -> None:
    """Raise ``NonFiniteError`` naming the first torch parameter (or tensor) with NaN or infinity."""
    import torch

    suspects = list(suspects)
    for name, tensor in named:
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            continue
        finite = torch.isfinite(tensor.detach())
        if not bool(finite.all()):
            bad = int(finite.numel() - int(finite.sum()))
            raise NonFiniteError(f"{what}: weight {name} has {bad} NaN or infinite values; stopped "
                                 f"({suspects_text(suspects)})")
