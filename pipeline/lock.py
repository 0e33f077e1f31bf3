"""A store-wide lock so that two overlapping cron runs never write the same store."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import Iterator

from .errors import StoreError
from .store import logs_dir


@contextmanager
def store_lock(store_path: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold ``<store>/logs/lock`` (an OS file lock, released even if the process is killed).
    Waits up to ``wait_seconds`` for another run, then gives up with a clear error."""
    if "://" in store_path:
        yield  # remote stores: the cluster's scheduler is the single writer
        return
    path = logs_dir(store_path) / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text().strip() or "another run"
                    raise StoreError(f"{store_path}: locked by {holder}; try again later "
                                     f"or pass --wait SECONDS") from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock
