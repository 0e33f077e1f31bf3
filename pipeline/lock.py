"""Locks: a store-wide one so that two overlapping cron runs never write the same store, and one per
group so that two writers of one group (two ``purify`` commands, a ``verify`` marking it) take turns.

Both are OS file locks under ``<store>/logs/`` (released even if the process is killed). Remote
stores (``://``) take none: there the cluster's scheduler is the single writer.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import StoreError
from .vocabulary import LOGS

LOCKS = "locks"
"""``logs/locks/``: one lock file per group that has been written."""


def _logs(store_path: str) -> Path:
    return Path(store_path) / LOGS


@contextmanager
def _held(store_path: str, path: Path, wait_seconds: float, poll: float, message) -> Iterator[int | None]:
    """Hold the OS lock on ``path`` (waiting up to ``wait_seconds``, then ``StoreError(message())``);
    yields its descriptor, or None where there is nothing to lock (a remote store, or a read-only
    store whose lock file does not exist: no run can write there)."""
    if "://" in store_path:
        yield None
        return
    fd = _open_lock_file(path)
    if fd is None:
        yield None
        return
    try:
        _acquire(fd, wait_seconds, poll, message)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def store_lock(store_path: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold ``<store>/logs/lock``. Waits up to ``wait_seconds`` for another run, then gives up with a
    clear error. On a read-only store no run can write, so there is nothing to exclude: it is held
    when its file exists (read-only descriptors lock too) and skipped otherwise."""
    path = _logs(store_path) / "lock"
    with _held(store_path, path, wait_seconds, 0.5, lambda: f"{store_path}: locked by "
               f"{_holder(path)}; try again later or pass --wait SECONDS") as fd:
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode())
            except OSError:
                pass  # opened read-only (a read-only store): the lock holds, the holder's name is not written
        yield


@contextmanager
def group_lock(store_path: str, group_path: str, wait_seconds: float = 600.0) -> Iterator[None]:
    """Hold the lock of one group while it is swapped in or its attrs change (waits for the other
    writer: a swap takes moments; ``wait_seconds`` only bounds a hung one)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "__", group_path.strip("/")) + ".lock"
    path = _logs(store_path) / LOCKS / name
    with _held(store_path, path, wait_seconds, 0.05, lambda: f"{store_path}/{group_path}: another writer "
               f"has held its lock ({path}) for {wait_seconds:.0f} s"):
        yield


def _open_lock_file(path: Path) -> int | None:
    """A descriptor to lock; None on a read-only file system where the file does not exist yet."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        if path.exists():
            return os.open(path, os.O_RDONLY)
        if exc.errno == errno.EROFS:
            return None
        raise


def _acquire(fd: int, wait_seconds: float, poll: float, message) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreError(message()) from None
            time.sleep(poll)


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another run"
    except OSError:
        return "another run"
