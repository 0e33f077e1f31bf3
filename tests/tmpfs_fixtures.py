"""Real faults: a small tmpfs that fills up, or is remounted read-only, instead of injected errors.

Mounting needs root (as in CI); elsewhere the tests that use these skip, saying why.
"""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@contextmanager
def tmpfs(where: Path, size: str = "64m"):
    """A fresh tmpfs of ``size`` mounted at ``where`` (created), unmounted afterwards whatever happens."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (as in CI); the real full-disk / read-only faults are not run")
    proc = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if proc.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where: Path) -> None:
    proc = _mount("-o", "remount,ro", str(where))
    assert proc.returncode == 0, proc.stderr


def remount_read_write(where: Path) -> None:
    proc = _mount("-o", "remount,rw", str(where))
    assert proc.returncode == 0, proc.stderr


def fill(where: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system at ``where`` up to ``leave_bytes`` free; returns the filler file (delete
    it to free the space)."""
    filler = where / "filler.bin"
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as fh:
        while True:
            st = os.statvfs(where)
            free = st.f_bavail * st.f_frsize - leave_bytes
            if free <= 0:
                break
            try:
                fh.write(block[:min(len(block), free)])
                fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    return filler
