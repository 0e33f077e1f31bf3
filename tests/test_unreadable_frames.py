"""Unreadable frames, one rule: ingest tolerates and counts what ``fuse.max_unreadable_frames``
lets fuse skip, and fuse never writes on top of an ingest made from other files; after the ingest is
redone, the scene becomes done again."""

from __future__ import annotations

import dataclasses

import pytest

from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.vocabulary import FUSED, POINTS, scene_group
from geopurify.workflows.run_stage import run_stage
from geopurify.workflows.status import store_status

from workflow_fixtures import small_config

SCENE = "wf_eval"  # small_config's evaluation scene


def damage(data, frame: int) -> str:
    path = data / SCENE / "color" / f"{frame}.jpg"
    path.write_bytes(path.read_bytes()[:200])  # truncated: the header survives, the data does not
    return str(path)


@pytest.fixture
def scene(tmp_path):
    data = tmp_path / "data"
    generate_scene(data, SCENE, seed=7, num_frames=12, color_size=(160, 120), depth_size=(80, 60))
    return data, small_config(tmp_path, data)


def states(cfg) -> dict[str, str]:
    row = store_status(cfg.store, cfg)[SCENE]
    return {c: row[c].state for c in ("ingest", "fuse")}


def test_ingest_tolerates_what_fuse_tolerates_and_counts_it(scene):
    data, cfg = scene
    damage(data, 5)  # 1 of 12, under fuse.max_unreadable_frames = 0.1
    ingest = run_stage("ingest", cfg, [SCENE])
    assert ingest.outcomes[0].status == "done", ingest.outcomes[0].error
    store = Store(cfg.store, create=False)
    assert store.attrs(scene_group(SCENE, POINTS))["unreadable_frames"] == 1
    fuse = run_stage("fuse", cfg, [SCENE])
    assert fuse.outcomes[0].status == "done", fuse.outcomes[0].error
    assert store.attrs(scene_group(SCENE, FUSED))["unreadable_frames"] == 1
    assert states(cfg) == {"ingest": "done", "fuse": "done"}
    assert "1 unreadable frame(s)" in store_status(cfg.store, cfg)[SCENE]["ingest"].note


def test_more_unreadable_frames_than_allowed_fail_ingest_naming_the_first(scene):
    data, cfg = scene
    first = damage(data, 3)
    damage(data, 8)  # 2 of 12 > 0.1
    [outcome] = run_stage("ingest", cfg, [SCENE]).outcomes
    assert outcome.status == "failed"
    assert outcome.error.startswith(f"{first}: ") and "2 of the scene's 12 frames" in outcome.error
    assert "fuse.max_unreadable_frames = 0.1" in outcome.error
    strict = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, max_unreadable_frames=0.0))
    damage_one = run_stage("ingest", strict, [SCENE]).outcomes[0]
    assert damage_one.status == "failed" and damage_one.error.startswith(f"{first}: ")


@pytest.mark.slow
def test_fuse_refuses_a_stale_ingest_and_the_scene_becomes_done_again(scene):
    data, cfg = scene
    assert run_stage("ingest", cfg, [SCENE]).outcomes[0].status == "done"
    assert run_stage("fuse", cfg, [SCENE]).outcomes[0].status == "done"
    store = Store(cfg.store, create=False)
    fused_before = store.attrs(scene_group(SCENE, FUSED))
    damage(data, 5)  # damaged after ingest
    assert states(cfg)["ingest"] == "stale"
    [outcome] = run_stage("fuse", cfg, [SCENE], force=True).outcomes
    assert outcome.status == "failed"
    assert f"{scene_group(SCENE, POINTS)}: stale" in outcome.error and "rerun ingest" in outcome.error
    assert store.attrs(scene_group(SCENE, FUSED)) == fused_before  # nothing written on top
    assert run_stage("ingest", cfg, [SCENE]).outcomes[0].status == "done"  # 1 of 12 tolerated
    assert run_stage("fuse", cfg, [SCENE]).outcomes[0].status == "done"
    assert store.attrs(scene_group(SCENE, FUSED))["unreadable_frames"] == 1
    assert states(cfg) == {"ingest": "done", "fuse": "done"}
