"""The ptv3 teacher end to end on a store: ``geopurify-run teacher --teacher ptv3 --checkpoint F`` on
synthetic scenes, then distill and purify on its features; a second run (in this process) gives the
same bytes; a checkpoint whose content changes makes the teacher stale, a copy of it does not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import zarr

from geopurify.pipeline.vocabulary import (
    DONE, POINTS, STATE_STALE, TEACHER, model_group, scene_folder, scene_group,
)
from geopurify.workflows.config import load_run_config
from geopurify.workflows.joins import distill_student
from geopurify.workflows.run_stage import run_stage
from geopurify.workflows.status import store_status, student_state

from teacher_ptv3_fixtures import TINY_DIM, write_tiny_checkpoint
from workflow_fixtures import write_scenes


TRAIN = "wf_train*"


def _overrides(store, data) -> list[str]:
    return [f"store={str(store)!r}", "dataset.kind='scannet'", f"dataset.root={str(data)!r}",
            "dataset.scenes=['wf_*']", "fuse.source='simulated'", "distill.epochs=2", "distill.width=16",
            "distill.anchors=512"]


def _teacher(checkpoint) -> list[str]:
    return ["teacher.kind='ptv3'", f"teacher.checkpoint={str(checkpoint)!r}"]


def _config(store, data, checkpoint):
    return load_run_config(None, _overrides(store, data) + _teacher(checkpoint), search_cwd=False)


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "geopurify.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _arrays(store) -> dict[str, np.ndarray]:
    root = zarr.open_group(str(store), mode="r")
    out = {}
    for scene in root["scenes"].group_keys():
        for group in root[scene_folder(scene)].group_keys():
            for name in root[scene_group(scene, group)].array_keys():
                out[f"{scene}/{group}/{name}"] = root[f"{scene_group(scene, group)}/{name}"][...]
    for name in root[model_group()].array_keys():
        out[f"student/{name}"] = root[f"{model_group()}/{name}"][...]
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ptv3")
    write_scenes(tmp / "data")
    checkpoint = write_tiny_checkpoint(tmp / "tiny_sonata.pth", seed=0)
    by_cli = tmp / "cli.zarr"
    sets = [a for o in _overrides(by_cli, tmp / "data") for a in ("--set", o)]
    _cli("ingest", *sets)
    _cli("fuse", *sets)
    out = _cli("teacher", *sets, "--teacher", "ptv3", "--checkpoint", checkpoint)
    assert "3 computed" in out
    sets += [a for o in _teacher(checkpoint) for a in ("--set", o)]  # distill checks the teacher groups
    _cli("distill", *sets, "--train-scenes", TRAIN)
    _cli("purify", *sets)

    cfg = _config(tmp / "again.zarr", tmp / "data", checkpoint)
    for command in ("ingest", "fuse", "teacher"):
        assert not run_stage(command, cfg).failed
    distill_student(cfg, ["wf_train0", "wf_train1"], force=False, upstream=[])
    assert not run_stage("purify", cfg).failed
    return tmp, checkpoint, by_cli, cfg


@pytest.mark.slow
def test_cli_run_and_second_run_are_bit_identical(two_runs):
    _, _, by_cli, cfg = two_runs
    a, b = _arrays(by_cli), _arrays(cfg.store)
    assert set(a) == set(b) and "wf_eval/purified/label" in a and any(k.startswith("student/") for k in a)
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    feat = a["wf_eval/teacher/feat"]
    assert feat.dtype == np.float16 and feat.shape == (len(a["wf_eval/points/xyz"]), TINY_DIM)
    attrs = zarr.open_group(str(by_cli), mode="r")[scene_group("wf_eval", TEACHER)].attrs
    assert attrs["kind"] == "ptv3" and set(attrs["inputs"]) == {POINTS, "checkpoint"}


@pytest.mark.slow
def test_status_marks_the_teacher_stale_when_the_checkpoint_content_changes(two_runs):
    tmp, checkpoint, _, cfg = two_runs
    table = store_status(cfg.store, cfg)
    assert all(row["teacher"].state == DONE for row in table.values())
    copy = shutil.copy(checkpoint, tmp / "moved.pth")  # the same bytes elsewhere: the same teacher
    moved = _config(cfg.store, cfg.dataset.root, copy)
    assert all(row["teacher"].state == DONE for row in store_status(cfg.store, moved).values())

    saved = tmp / "saved.pth"
    shutil.copy(checkpoint, saved)
    try:
        write_tiny_checkpoint(tmp / "tiny_sonata.pth", seed=1)  # retrained weights, same path
        table = store_status(cfg.store, cfg)
        for scene, row in table.items():
            assert row["ingest"].state == DONE and row["fuse"].state == DONE, scene
            assert row["teacher"].state == STATE_STALE, (scene, row["teacher"])
        # purify reads the student, not the teacher: it stays done, and the student it used is stale
        assert table["wf_eval"]["purify"].state == DONE
        assert student_state(cfg.store, table, cfg).state == STATE_STALE
    finally:
        shutil.copy(saved, checkpoint)
