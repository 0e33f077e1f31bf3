"""Fingerprints: short hashes of what a result depends on."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable


def digest(payload: Any) -> str:
    """Stable 16-hex-digit hash of a JSON-able value (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def files_fingerprint(files: Iterable[Path], relative_to: Path) -> str:
    """Hash of (relative path, size, mtime) of each file: like make, a touched file counts as changed
    and nothing is read."""
    rows = []
    for path in sorted(Path(p) for p in files):
        st = os.stat(path)
        rows.append([os.path.relpath(path, relative_to), st.st_size, st.st_mtime_ns])
    return digest(rows)


def file_content_hash(path: str | Path, block: int = 1 << 20) -> str:
    """Content hash of one file (model checkpoints: a copy elsewhere is the same model)."""
    h = hashlib.sha256()
    path = Path(path)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(child.relative_to(path)).encode())
            h.update(bytes.fromhex(file_content_hash(child)))
        return h.hexdigest()[:16]
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()[:16]


_CONTENT_HASHES: dict[tuple, str] = {}


def cached_content_hash(path: str | Path) -> str:
    """``file_content_hash`` of a file or folder, computed again only when a file's path, size or
    modification time changes (within a process): checkpoints are large and asked for per scene."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    key = (str(path.resolve()),) + tuple((str(p), *_size_and_time(p)) for p in files)
    if key not in _CONTENT_HASHES:
        _CONTENT_HASHES[key] = file_content_hash(path)
    return _CONTENT_HASHES[key]


def _size_and_time(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def stage_fingerprint(stage: str, version: int, config: dict, inputs: dict[str, str]) -> str:
    return digest({"stage": stage, "version": version, "config": config, "inputs": inputs})
