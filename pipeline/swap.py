"""Replacing a group folder as a whole: the new group is written in a staging folder of the same
store (``<store>/logs/staging/``, outside the Zarr hierarchy), then swapped in by rename.

Where the kernel offers it (Linux ``renameat2`` with ``RENAME_EXCHANGE``: ext4, xfs, btrfs, tmpfs)
the two folders trade places in one step; elsewhere the old folder is renamed away first, so for a
moment the group is missing (never a mix of two runs). A killed writer leaves only its staging
folder, which the next write on the same host removes once its process is gone.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

from .vocabulary import LOGS

STAGING = "staging"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def staging_dir(store_path: str) -> Path:
    return Path(store_path) / LOGS / STAGING


def new_staging_folder(store_path: str, group_path: str) -> Path:
    """A fresh folder name for one write of ``group_path`` (host and pid in it, for clean-up)."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "__", group_path.strip("/"))
    return staging_dir(store_path) / f"{safe}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def remove_abandoned(store_path: str) -> None:
    """Remove staging folders left by processes of this host that no longer run (a killed writer)."""
    folder = staging_dir(store_path)
    if not folder.is_dir():
        return
    host = socket.gethostname()
    for entry in folder.iterdir():
        name = entry.name.removesuffix(".old")
        parts = name.split(".", 1)[-1].rsplit(".", 2)  # <group>.<host>.<pid>.<random>
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or _alive(int(parts[1])):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swap_in(staged: Path, final: Path) -> None:
    """Put the ``staged`` folder at ``final``, replacing what is there; the old folder is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(staged, final)
        return
    if _exchange(staged, final):
        shutil.rmtree(staged)  # now holds the old group
        return
    trash = staged.with_name(staged.name + ".old")
    os.rename(final, trash)
    os.rename(staged, final)
    shutil.rmtree(trash)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically trade two paths; False where the system or file system cannot."""
    fn = getattr(_libc(), "renameat2", None)
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC
