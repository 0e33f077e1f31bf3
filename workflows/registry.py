"""Which stage each command runs: a plain dict, imported lazily so the CLI starts fast."""

from __future__ import annotations

import importlib
import importlib.util

from geopurify.pipeline.stage import SceneStage

# command -> (module:class) of the per-scene stage; in pipeline order
SCENE_STAGES = {
    "ingest": "geopurify.stages.ingest:IngestStage",
    "fuse": "geopurify.stages.fuse.stage:FuseStage",
    "teacher": "geopurify.stages.teacher.stage:TeacherStage",
    "purify": "geopurify.stages.purify.stage:PurifyStage",
}

# command -> store group name under scenes/<id>/
GROUP_OF = {"ingest": "points", "fuse": "fused", "teacher": "teacher", "purify": "purified"}


# command -> the per-scene commands whose groups it reads
UPSTREAM = {"ingest": (), "fuse": ("ingest",), "teacher": ("ingest",), "purify": ("fuse", "teacher")}


def available(command: str) -> bool:
    """Whether the stage's module exists in this build."""
    module = SCENE_STAGES[command].split(":")[0]
    return importlib.util.find_spec(module) is not None


def scene_stage(command: str) -> SceneStage:
    module, cls = SCENE_STAGES[command].split(":")
    return getattr(importlib.import_module(module), cls)()
