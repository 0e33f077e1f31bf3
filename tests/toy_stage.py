"""A minimal per-scene stage for testing the machinery without any science."""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.stage import SceneStage, StageOutput


class ToyStage(SceneStage):
    name = "toy"
    version = 1
    sections = ("fuse",)

    def input_fingerprints(self, ctx, scene_id):
        if scene_id == "bad":
            raise InputError(f"/data/{scene_id}", "broken on purpose")
        return {"scene": scene_id}

    def compute(self, ctx, scene_id):
        seed = sum(map(ord, scene_id)) + ctx.cfg.fuse.border
        values = np.random.default_rng(seed).normal(size=(1000, 4)).astype(np.float32)
        return StageOutput({"values": values}, {"rows": 1000})
