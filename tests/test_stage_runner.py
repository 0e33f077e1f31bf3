import dataclasses

import numpy as np
import pytest

from geopurify.pipeline.lock import store_lock
from geopurify.pipeline.schedule import run_stage_over_scenes
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, FAILED, SKIPPED, scene_group
from geopurify.workflows.config import RunConfig

from toy_stage import ToyStage


def _ctx(tmp_path, **fuse):
    cfg = RunConfig()
    cfg = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, **fuse))
    return StageContext(str(tmp_path / "s.zarr"), cfg)


def test_done_groups_are_skipped_and_config_changes_make_them_stale(tmp_path):
    ctx = _ctx(tmp_path)
    assert run_scene(ToyStage(), ctx, "a").status == DONE
    assert run_scene(ToyStage(), ctx, "a").status == SKIPPED
    attrs = ctx.store.attrs(scene_group("a", "toy"))
    assert attrs["stage"] == "toy" and attrs["config"]["fuse"]["border"] == 10 and attrs["complete"]
    assert "compute_s" in attrs["timings"] and attrs["rows"] == 1000
    # a fingerprinted key changes the result: stale, recomputed
    assert run_scene(ToyStage(), _ctx(tmp_path, border=3), "a").status == DONE
    # a key that is not fingerprinted (batch size) does not
    assert run_scene(ToyStage(), _ctx(tmp_path, border=3, batch_frames=99), "a").status == SKIPPED


def test_failure_is_an_outcome_and_leaves_the_store_alone(tmp_path):
    ctx = _ctx(tmp_path)
    out = run_stage_over_scenes(ToyStage(), ctx, ["a", "bad", "b"])
    assert [o.status for o in out] == [DONE, FAILED, DONE]
    assert out[1].error == "/data/bad: broken on purpose"
    assert Store(ctx.store_path).scene_ids() == ["a", "b"]


@pytest.mark.parametrize("scheduler", ["processes"])
def test_results_do_not_depend_on_the_scheduler(tmp_path, scheduler):
    threaded = _ctx(tmp_path / "t")
    other = _ctx(tmp_path / "p")
    run_stage_over_scenes(ToyStage(), threaded, ["a", "b", "c"], "threads")
    run_stage_over_scenes(ToyStage(), other, ["a", "b", "c"], scheduler)
    for sid in "abc":
        assert np.array_equal(threaded.store.read(scene_group(sid, "toy"), "values"),
                              other.store.read(scene_group(sid, "toy"), "values"))


def test_store_lock_refuses_a_second_holder(tmp_path):
    Store(tmp_path / "s.zarr")
    with store_lock(str(tmp_path / "s.zarr")):
        import subprocess, sys
        code = ("from geopurify.pipeline.lock import store_lock\n"
                f"with store_lock({str(tmp_path / 's.zarr')!r}): pass\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0 and "locked by pid" in proc.stderr
    with store_lock(str(tmp_path / "s.zarr")):  # released: free again
        pass
