"""Checkpoint files: written to a temporary name and renamed (a kill mid-write leaves the previous
file whole), and read back as tensors and plain data only (``weights_only``), never as pickled
objects, since a user hands these files in."""

from __future__ import annotations

import os
import re
from pathlib import Path

from geopurify.pipeline.errors import InputError


def atomic_save(obj, path: str | Path) -> Path:
    """``torch.save`` to ``<path>.tmp``, then rename over ``path``. Serialised in memory first and
    written with plain file I/O, so a full disk is an ``OSError`` naming the file (torch's own
    writer reports it as an unexplained ``RuntimeError``); the cut-short temporary file is removed."""
    import io

    import torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    try:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, what: str, hint: str = "") -> dict:
    """The dict saved in ``path`` (on the CPU); one-line InputError naming the file when it is not a
    torch file, is damaged, or holds anything but tensors and plain data. ``what`` names the file's
    kind in the message (``teacher checkpoint``, ...), ``hint`` what to do about it."""
    import torch

    path = Path(path)
    hint = f"; {hint}" if hint else ""
    if not path.is_file():
        raise InputError(path, f"{what} not found{hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, a damaged one, or one holding pickled objects
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise InputError(path, f"{what} holds a pickled Python object ({found.group(1)}), not only "
                                   f"tensors and plain data; refusing to load it{hint}") from None
        raise InputError(path, f"not a readable {what} ({type(exc).__name__}){hint}") from None
    if not isinstance(payload, dict):
        raise InputError(path, f"not a {what}: holds a {type(payload).__name__}, not a dict{hint}")
    return payload
