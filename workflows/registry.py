"""Which stage each per-scene command runs: plain functions that import their stage when called, so
the CLI starts fast and the call graph can be followed by reading."""

from __future__ import annotations

from geopurify.pipeline.stage import SceneStage
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT, FUSED, POINTS, PURIFIED, TEACHER


def _ingest(cfg) -> SceneStage:
    from geopurify.stages.ingest.stage import IngestStage

    return IngestStage()


def _fuse(cfg) -> SceneStage:
    from geopurify.stages.fuse.stage import FuseStage

    return FuseStage()


def _teacher(cfg) -> SceneStage:
    from geopurify.stages.teacher.stage import TeacherStage

    return TeacherStage()


def _purify(cfg) -> SceneStage:
    from geopurify.stages.purify.stage import PurifyStage

    return PurifyStage(cfg.purify.affinity if cfg is not None else AFFINITY_STUDENT)


SCENE_STAGES = {"ingest": _ingest, "fuse": _fuse, "teacher": _teacher, "purify": _purify}
"""Command -> function of the run config giving its stage; in pipeline order."""

GROUP_OF = {"ingest": POINTS, "fuse": FUSED, "teacher": TEACHER, "purify": PURIFIED}
"""Command -> its store group under ``scenes/<id>/`` (purify: the student's; see ``purified_group``)."""

UPSTREAM = {"ingest": (), "fuse": ("ingest",), "teacher": ("ingest",), "purify": ("fuse", "teacher")}
"""Command -> the per-scene commands whose groups it reads."""


def scene_stage(command: str, cfg=None) -> SceneStage:
    """The stage ``command`` runs under run config ``cfg`` (purify's group follows its affinity)."""
    return SCENE_STAGES[command](cfg)
