"""``distill`` from the command line: resolve the training scenes, then train against the
fingerprints the current config gives their fused and teacher groups (stale ones are refused)."""

from __future__ import annotations

from pathlib import Path

from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.store import Store
from geopurify.stages.distill.scenes import current_fingerprints
from geopurify.stages.distill.train import distill

from .config import RunConfig
from .validate import validate


def training_scenes(cfg: RunConfig, patterns: list[str] | None) -> list[str]:
    """``--train-scenes``, else ``distill.train_scenes``, else ``train_dataset.scenes``, among the
    scenes the store holds."""
    wanted = list(patterns or cfg.distill.train_scenes or cfg.train_dataset.scenes)
    return match_scenes(wanted, Store(cfg.store, create=False).scene_ids(), cfg.store)


def run_distill(cfg: RunConfig, patterns: list[str] | None, out: Path | None = None,
                restart: bool = False, force: bool = False) -> dict:
    validate(cfg, "distill")
    ids = training_scenes(cfg, patterns)
    return distill(cfg.store, ids, cfg.distill, out=out, resume=not restart, force=force,
                   expected=current_fingerprints(cfg, cfg.store, ids))
