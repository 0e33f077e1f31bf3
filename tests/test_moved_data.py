"""A dataset moved to a new root is read from there: the config says where the data is now, and the
fingerprints never held the root, so what was done stays done."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.vocabulary import DONE, FAILED, SKIPPED, STATE_DONE
from geopurify.workflows.registry import scene_stage
from geopurify.workflows.status import store_status

from workflow_fixtures import small_config, write_scenes

SCENE = "wf_eval"


def _at(cfg, root):
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, root=str(root)),
                               train_dataset=dataclasses.replace(cfg.train_dataset, root=str(root)))


def _run(command, cfg):
    stage, ctx = scene_stage(command, cfg), StageContext(cfg.store, cfg)
    stage.prepare(ctx, [SCENE])  # fuse: the vocabulary's text embeddings, as every run does first
    return run_scene(stage, ctx, SCENE)


@pytest.mark.slow
def test_fuse_reads_the_moved_data_and_ingest_stays_done(tmp_path):
    write_scenes(tmp_path / "data")
    cfg = small_config(tmp_path, tmp_path / "data")
    assert _run("ingest", cfg).status == DONE
    shutil.move(tmp_path / "data", tmp_path / "moved")

    # the old root is gone: a run that still names it fails in one line naming it
    stale = _run("fuse", cfg)
    assert stale.status == FAILED and str(tmp_path / "data") in stale.error and "\n" not in stale.error

    moved = _at(cfg, tmp_path / "moved")
    assert _run("ingest", moved).status == SKIPPED  # the same data: nothing to redo
    assert _run("fuse", moved).status == DONE  # the frames are read from the new root
    assert _run("fuse", moved).status == SKIPPED
    table = store_status(moved.store, moved)[SCENE]
    assert table["ingest"].state == STATE_DONE and table["fuse"].state == STATE_DONE, table


@pytest.mark.slow
def test_without_a_configured_root_the_ingest_root_is_used(tmp_path):
    write_scenes(tmp_path / "data")
    cfg = small_config(tmp_path, tmp_path / "data")
    assert _run("ingest", cfg).status == DONE
    bare = _at(cfg, "")  # `fuse` after `ingest --root`: no root in the config
    assert _run("fuse", bare).status == DONE


@pytest.mark.slow
def test_a_scene_under_no_configured_root_is_named(tmp_path):
    write_scenes(tmp_path / "data")
    cfg = small_config(tmp_path, tmp_path / "data")
    assert _run("ingest", cfg).status == DONE
    (tmp_path / "elsewhere").mkdir()
    outcome = _run("fuse", _at(cfg, tmp_path / "elsewhere"))
    assert outcome.status == FAILED
    assert outcome.error == (f"{tmp_path / 'elsewhere'}: scene 'wf_eval' is not here; set dataset.root "
                             "(or train_dataset.root) to where its files are now")
