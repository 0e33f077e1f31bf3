"""The two jobs that span many scenes: teacher pretraining and student distillation.

Each returns ``"done"`` (it worked), or ``"skipped"`` (its result was already there).
"""

from __future__ import annotations

from pathlib import Path

from geopurify.pipeline.errors import GeopurifyError, StoreError
from geopurify.pipeline.stage import Outcome
from geopurify.pipeline.vocabulary import DONE, FAILED, SKIPPED

from .config import RunConfig


def _check_upstream(upstream: list) -> None:
    bad = [u for u in upstream if isinstance(u, Outcome) and u.status == FAILED]
    if bad:
        raise GeopurifyError(f"upstream {bad[0].stage} of {bad[0].scene} failed: {bad[0].error}")


def teacher_checkpoint(cfg: RunConfig) -> str:
    """The ``ssl`` teacher needs weights: pretrain them when the config says how and they are missing."""
    if cfg.teacher.kind != "ssl":
        return SKIPPED
    checkpoint = Path(cfg.teacher.checkpoint) if cfg.teacher.checkpoint else None
    if checkpoint is None:
        raise StoreError("teacher.kind = 'ssl' needs teacher.checkpoint (run pretrain-teacher first)")
    if checkpoint.exists():
        return SKIPPED
    from .pretrain_teacher import pretrain_from_config

    pretrain_from_config(cfg, checkpoint)
    return DONE


def distill_student(cfg: RunConfig, train_ids: list[str], force: bool, upstream: list) -> str:
    _check_upstream(upstream)
    from geopurify.stages.distill.scenes import current_fingerprints
    from geopurify.stages.distill.train import distill

    expected = current_fingerprints(cfg, cfg.store, train_ids)  # refuse groups made by another config
    # no progress bar of its own: the workflow's display is already live
    summary = distill(cfg.store, train_ids, cfg.distill, resume=not force, force=force, progress=False,
                      expected=expected)
    return SKIPPED if summary.get("status") == SKIPPED else DONE
