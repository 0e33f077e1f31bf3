"""Resumable training checkpoints: plain files under ``<store>/models/checkpoints/<fingerprint>/``.

One folder per training fingerprint (config + training scenes), so a changed run never resumes from
another's state. ``epoch_NNNN.pt`` holds everything the next epoch needs (weights, optimizer,
scheduler, RNG state, loss history) and the run's record (network and training config, training
scenes with the fingerprints of their points/fused/teacher groups); it is written to a temp name
and renamed, so a kill mid-write leaves the previous checkpoint as the latest. Older checkpoints are
removed once a newer one exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from geopurify.pipeline.vocabulary import MODELS
from geopurify.stages.training.files import atomic_save, load_checkpoint

_NAME = re.compile(r"^epoch_(\d{4,})\.pt$")


def checkpoint_dir(store_path: str, fingerprint: str) -> Path:
    if "://" in store_path:
        raise ValueError(f"{store_path}: training checkpoints need a local store folder")
    return Path(store_path) / MODELS / "checkpoints" / fingerprint


def latest(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    return found[-1][1] if found else None


def save(folder: Path, epoch: int, state: dict) -> Path:
    """Write the state after ``epoch`` completed epochs; drop the older checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    file = atomic_save(state, folder / f"epoch_{epoch:04d}.pt")
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and int(m.group(1)) < epoch:
            p.unlink(missing_ok=True)
    return file


def clear(folder: Path) -> None:
    """Remove every checkpoint of this fingerprint (a run started from scratch)."""
    if folder.is_dir():
        for p in folder.iterdir():
            if _NAME.match(p.name) or p.name.endswith(".pt.tmp"):
                p.unlink(missing_ok=True)


def load(file: Path) -> dict:
    """A checkpoint's state (tensors and plain data only)."""
    return load_checkpoint(file, "training checkpoint", "delete it or pass --restart")
