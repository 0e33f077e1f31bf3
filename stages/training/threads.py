"""A fixed torch thread count for a block of work.

CPU float sums depend on how many threads split them, so a result made with 1 thread differs in its
last bits from one made with 2. Training and inference therefore set the count themselves instead of
taking the process's (a Dask worker's differs from the driver's), one block at a time per process.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

INFERENCE_THREADS = 2
"""Torch threads of every network's inference (student, ssl teacher): its output never depends on
the machine or the worker it runs on."""

_lock = threading.RLock()


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads and deterministic algorithms (warn-only
    where an op has none); other threads' blocks wait, since the setting is process-wide."""
    import torch

    if threads < 1:
        raise ValueError(f"torch threads must be at least 1, got {threads}")
    with _lock:
        old_threads = torch.get_num_threads()
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            torch.set_num_threads(old_threads)
