"""The per-scene commands, their stages, and the stage graph derived from what each stage reads.

Each stage class declares the groups of a scene it reads (``SceneStage.reads``); ``UPSTREAM`` (the
commands whose groups a command reads), ``GROUP_OF``, ``all``'s graph and ``status``'s staleness all
follow from those declarations, so the graph is written down once.
"""

from __future__ import annotations

import dataclasses

from geopurify.pipeline.stage import SceneStage
from geopurify.stages.fuse.stage import FuseStage
from geopurify.stages.ingest.stage import IngestStage
from geopurify.stages.purify.stage import PurifyStage
from geopurify.stages.teacher.stage import TeacherStage

STAGE_CLASSES: dict[str, type[SceneStage]] = {
    "ingest": IngestStage, "fuse": FuseStage, "teacher": TeacherStage, "purify": PurifyStage}
"""Command -> the class of its stage; in pipeline order (a command's upstream comes before it)."""

GROUP_OF = {command: cls.name for command, cls in STAGE_CLASSES.items()}
"""Command -> its store group under ``scenes/<id>/`` (purify: the student's; see ``purified_group``)."""

_COMMAND_OF = {group: command for command, group in GROUP_OF.items()}

UPSTREAM = {command: tuple(_COMMAND_OF[group] for group in cls.reads)
            for command, cls in STAGE_CLASSES.items()}
"""Command -> the per-scene commands whose groups it reads (from ``SceneStage.reads``)."""


def scene_stage(command: str, cfg=None) -> SceneStage:
    """The stage ``command`` runs under run config ``cfg`` (purify's group follows its affinity)."""
    return STAGE_CLASSES[command].from_config(cfg)


def with_affinity(cfg, affinity: str, student: str | None = None):
    """``cfg`` with ``purify.affinity`` (and, given, ``purify.student``) replaced: the one place a
    run config is rewritten for another affinity (``all``'s evaluation affinities, ``status``)."""
    purify = dataclasses.replace(cfg.purify, affinity=affinity)
    if student:
        purify = dataclasses.replace(purify, student=student)
    return dataclasses.replace(cfg, purify=purify)
