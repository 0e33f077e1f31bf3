"""The teacher stage: cached float16 features with provenance; reused when nothing changed,
recomputed when the checkpoint's content changes (and only then)."""

import shutil

import numpy as np
import pytest
import torch

from geopurify.pipeline.fingerprint import digest
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, FEAT, LABEL, NORMAL, POINTS, RGB, SKIPPED, TEACHER, XYZ, scene_group,
)
from geopurify.stages.teacher.config import TeacherConfig
from geopurify.stages.teacher.network import NetworkConfig, build_network
from geopurify.stages.teacher.pretrain_files import save_checkpoint
from geopurify.stages.teacher.stage import TeacherStage
from geopurify.workflows.config import RunConfig

from teacher_fixtures import box_room


def _store(path, n=3000):
    store = Store(path)
    xyz, rgb, normal, label = box_room(7, n)
    store.write_group(scene_group("room", POINTS),
                      {XYZ: xyz, RGB: rgb, NORMAL: normal, LABEL: label},
                      {"stage": POINTS, "fingerprint": digest(["room", POINTS])})
    return store, len(xyz)


def _checkpoint(path, seed):
    torch.manual_seed(seed)
    save_checkpoint(build_network(NetworkConfig(channels=[8, 16], out_channels=8)), path, {"seed": seed})
    return str(path)


EMBEDDING_DIM = 8 + 3 * (TeacherConfig().ssl_position_weight > 0)  # + the position block, if on


def _ctx(store, **teacher):
    return StageContext(store.path, RunConfig(store=store.path, teacher=TeacherConfig(**teacher)))


def test_ssl_cache_reused_until_the_checkpoint_changes(tmp_path):
    store, n = _store(tmp_path / "s")
    ckpt = _checkpoint(tmp_path / "a.pt", 0)
    stage = TeacherStage()
    assert run_scene(stage, _ctx(store, kind="ssl", checkpoint=ckpt), "room").status == DONE
    attrs = store.attrs(scene_group("room", TEACHER))
    assert attrs["complete"] and attrs["kind"] == "ssl" and set(attrs["inputs"]) == {POINTS, "checkpoint"}
    arr = store.group(scene_group("room", TEACHER))[FEAT]
    assert arr.dtype == np.float16 and arr.shape == (n, EMBEDDING_DIM) and arr.chunks[1] == EMBEDDING_DIM
    first = store.read(scene_group("room", TEACHER), FEAT)

    # nothing changed: skipped; a byte-identical copy elsewhere is the same teacher
    assert run_scene(stage, _ctx(store, kind="ssl", checkpoint=ckpt), "room").status == SKIPPED
    copy = shutil.copy(ckpt, tmp_path / "copy.pt")
    assert run_scene(stage, _ctx(store, kind="ssl", checkpoint=str(copy)), "room").status == SKIPPED

    # retrained weights at the same path: recomputed
    _checkpoint(tmp_path / "a.pt", 1)
    assert run_scene(stage, _ctx(store, kind="ssl", checkpoint=ckpt), "room").status == DONE
    assert not np.array_equal(store.read(scene_group("room", TEACHER), FEAT), first)
    assert store.attrs(scene_group("room", TEACHER))["inputs"]["checkpoint"] != attrs["inputs"]["checkpoint"]


def test_geometric_teacher_and_switching_kinds(tmp_path):
    store, n = _store(tmp_path / "s")
    stage = TeacherStage()
    assert run_scene(stage, _ctx(store, kind="geometric"), "room").status == DONE
    assert store.read(scene_group("room", TEACHER), FEAT).shape == (n, 44)
    assert run_scene(stage, _ctx(store, kind="geometric"), "room").status == SKIPPED
    ctx = _ctx(store, kind="geometric", geometric_weights=[1.0, 1.0, 1.0, 1.0, 1.0])
    assert run_scene(stage, ctx, "room").status == DONE
    ckpt = _checkpoint(tmp_path / "a.pt", 0)
    assert run_scene(stage, _ctx(store, kind="ssl", checkpoint=ckpt), "room").status == DONE
    assert store.read(scene_group("room", TEACHER), FEAT).shape == (n, EMBEDDING_DIM)
    # the position block is part of the teacher's config: changing its weight recomputes
    for weight, dim in ((0.0, 8), (2.5, 11)):
        ctx = _ctx(store, kind="ssl", checkpoint=ckpt, ssl_position_weight=weight)
        assert run_scene(stage, ctx, "room").status == DONE
        assert store.read(scene_group("room", TEACHER), FEAT).shape == (n, dim)


@pytest.mark.parametrize("teacher, message", [
    ({"kind": "ssl", "checkpoint": ""}, "needs teacher.checkpoint"),
    ({"kind": "ssl", "checkpoint": "/nonexistent/t.pt"}, "teacher checkpoint not found"),
    ({"kind": "dino"}, "expected one of ssl, geometric"),
    ({"kind": "ssl", "checkpoint": "", "ssl_position_weight": -1.0}, "ssl_position_weight = -1.0"),
])
def test_bad_settings_fail_in_one_line_and_write_nothing(tmp_path, teacher, message):
    store, _ = _store(tmp_path / "s")
    outcome = run_scene(TeacherStage(), _ctx(store, **teacher), "room")
    assert outcome.status == FAILED and message in outcome.error and "\n" not in outcome.error
    assert store.group(scene_group("room", TEACHER)) is None


def test_missing_points_is_a_clear_failure(tmp_path):
    store = Store(tmp_path / "empty")
    outcome = run_scene(TeacherStage(), _ctx(store, kind="geometric"), "nowhere")
    assert outcome.status == FAILED and "ingest (points)" in outcome.error
