"""The teacher stage with ``kind = "ptv3"``: float16 features of the configured levels, cached until
the checkpoint's content or the levels change; bad settings and inputs fail in one line and write
nothing."""

from __future__ import annotations

import numpy as np
import pytest

from geopurify.pipeline.fingerprint import digest
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, FEAT, LABEL, NORMAL, POINTS, RGB, SKIPPED, TEACHER, XYZ, scene_group,
)
from geopurify.stages.teacher.config import TeacherConfig
from geopurify.stages.teacher.stage import TeacherStage
from geopurify.workflows.config import RunConfig

from teacher_fixtures import box_room
from teacher_ptv3_fixtures import TINY_DIM, write_tiny_checkpoint


def _store(path, normal_scale: float = 1.0):
    store = Store(path)
    xyz, rgb, normal, label = box_room(2, 3000)
    store.write_group(scene_group("room", POINTS),
                      {XYZ: xyz, RGB: rgb, NORMAL: normal * normal_scale, LABEL: label},
                      {"stage": POINTS, "fingerprint": digest(["room", POINTS, normal_scale])})
    return store, len(xyz)


def _ctx(store, **teacher):
    cfg = RunConfig(store=store.path, teacher=TeacherConfig(kind="ptv3", **teacher))
    return StageContext(store.path, cfg)


def test_ptv3_features_are_cached_until_checkpoint_or_levels_change(tmp_path):
    store, n = _store(tmp_path / "s")
    checkpoint = write_tiny_checkpoint(tmp_path / "t.pth", seed=0)
    stage = TeacherStage()
    assert run_scene(stage, _ctx(store, checkpoint=checkpoint), "room").status == DONE
    attrs = store.attrs(scene_group("room", TEACHER))
    assert attrs["kind"] == "ptv3" and attrs["dim"] == TINY_DIM
    assert set(attrs["inputs"]) == {POINTS, "checkpoint"}
    arr = store.group(scene_group("room", TEACHER))[FEAT]
    assert arr.dtype == np.float16 and arr.shape == (n, TINY_DIM) and arr.chunks[1] == TINY_DIM
    first = store.read(scene_group("room", TEACHER), FEAT)
    assert np.isfinite(first).all() and first.astype(np.float32).std() > 0
    assert run_scene(stage, _ctx(store, checkpoint=checkpoint), "room").status == SKIPPED

    assert run_scene(stage, _ctx(store, checkpoint=checkpoint, ptv3_levels=0), "room").status == DONE
    assert store.read(scene_group("room", TEACHER), FEAT).shape == (n, 16)  # the deepest level alone

    write_tiny_checkpoint(tmp_path / "t.pth", seed=1)
    assert run_scene(stage, _ctx(store, checkpoint=checkpoint), "room").status == DONE
    assert not np.array_equal(store.read(scene_group("room", TEACHER), FEAT), first)


@pytest.mark.parametrize("teacher, message", [
    ({"checkpoint": ""}, "teacher.kind = 'ptv3' needs teacher.checkpoint"),
    ({"checkpoint": "/nonexistent/sonata.pth"}, "/nonexistent/sonata.pth: ptv3 teacher checkpoint not found"),
    ({"checkpoint": "CKPT", "ptv3_levels": -1}, "teacher.ptv3_levels = -1: expected >= 0"),
    ({"checkpoint": "CKPT", "ptv3_levels": 3}, "teacher.ptv3_levels = 3: this checkpoint's encoder has 2"),
])
def test_bad_settings_fail_in_one_line_and_write_nothing(tmp_path, teacher, message):
    store, _ = _store(tmp_path / "s")
    if teacher["checkpoint"] == "CKPT":
        teacher = {**teacher, "checkpoint": write_tiny_checkpoint(tmp_path / "t.pth")}
    outcome = run_scene(TeacherStage(), _ctx(store, **teacher), "room")
    assert outcome.status == FAILED and message in outcome.error and "\n" not in outcome.error
    assert store.group(scene_group("room", TEACHER)) is None


def test_zero_normals_name_the_points_group(tmp_path):
    store, _ = _store(tmp_path / "s", normal_scale=0.0)
    outcome = run_scene(TeacherStage(), _ctx(store, checkpoint=write_tiny_checkpoint(tmp_path / "t.pth")),
                        "room")
    assert outcome.status == FAILED and "\n" not in outcome.error
    assert f"{store.path}/scenes/room/points: 3000 of 3000 normals are zero" in outcome.error
    assert store.group(scene_group("room", TEACHER)) is None
