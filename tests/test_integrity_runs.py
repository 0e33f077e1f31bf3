"""Nothing wrong is ever "done": non-finite results fail and are recorded, every distill failure is
in the run log whichever command ran it, and ``status`` calls a student failed after a failed retrain."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline import runlog
from geopurify.pipeline.errors import GeopurifyError
from geopurify.pipeline.finite import NonFiniteError, check_arrays
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FUSED, POINTS, PURIFIED, SCORE, TEACHER, model_group, scene_group
from geopurify.workflows.job_log import DISTILL_JOB
from geopurify.workflows.run_all import run_all
from geopurify.workflows.run_stage import run_stage
from geopurify.workflows.status import store_status, student_state

from workflow_fixtures import small_config, write_scenes

pytestmark = pytest.mark.slow  # each test runs stages end to end on a small store: seconds each

EVAL = "wf_eval"


def log_rows(store: str) -> list[dict]:
    return [json.loads(line) for line in runlog.log_path(store).read_text().splitlines()]


def with_section(cfg, name, **changes):
    return dataclasses.replace(cfg, **{name: dataclasses.replace(getattr(cfg, name), **changes)})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(data root, store) of a whole small run (``all``): a student and every group done."""
    tmp = tmp_path_factory.mktemp("integrity")
    write_scenes(tmp / "data")
    cfg = small_config(tmp, tmp / "data")
    result = run_all(cfg)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    return tmp / "data", Path(cfg.store)


@pytest.fixture
def world(finished, tmp_path):
    """A copy of the finished run's store, and a config pointing at it."""
    data, store = finished
    copy = tmp_path / "s.zarr"
    shutil.copytree(store, copy)
    return small_config(tmp_path, data), copy


def test_check_arrays_names_the_array_and_the_settings():
    check_arrays({"ok": np.ones(3, np.float16), "ids": np.arange(3)}, "s/g", ["x.y"])
    with pytest.raises(NonFiniteError) as err:
        check_arrays({"ok": np.ones(3), "feat": np.array([1.0, np.nan, np.inf], np.float16)}, "s/g",
                     ["purify.temperature"])
    assert str(err.value).startswith("s/g/feat: 2 of 3 values are NaN or infinite")
    assert "purify.temperature" in str(err.value)


def test_a_nan_purify_result_fails_is_logged_and_is_never_complete(world, monkeypatch):
    import geopurify.stages.purify.stage as purify_stage

    cfg, store = world
    real = purify_stage.pool_fast

    def nan_pool(*args, **kwargs):  # what a NaN temperature does to the pooled scores
        result = real(*args, **kwargs)
        result.score[:] = np.nan
        return result

    monkeypatch.setattr(purify_stage, "pool_fast", nan_pool)
    run = run_stage("purify", cfg, [EVAL], force=True)
    [outcome] = run.outcomes
    assert outcome.status == "failed"
    assert f"{scene_group(EVAL, PURIFIED)}/{SCORE}: " in outcome.error
    assert "NaN or infinite" in outcome.error and "purify.temperature" in outcome.error
    assert "\n" not in outcome.error and outcome.detail == ""
    row = [r for r in log_rows(str(store)) if r["stage"] == PURIFIED][-1]
    assert row["status"] == "failed" and row["error"] == outcome.error
    # the old group is kept as it was (done, correct); a new one would never be marked complete
    scores = Store(store, create=False).read(scene_group(EVAL, PURIFIED), SCORE)
    assert np.all(np.isfinite(scores.astype(np.float32)))
    shutil.rmtree(store / scene_group(EVAL, PURIFIED))
    run = run_stage("purify", cfg, [EVAL])
    assert run.outcomes[0].status == "failed"
    assert not Store(store, create=False).attrs(scene_group(EVAL, PURIFIED)).get("complete")
    cell = store_status(str(store), cfg)[EVAL]["purify"]
    assert cell.state == "failed" and "purify.temperature" in cell.note


def _nan_loss(monkeypatch):
    import geopurify.stages.distill.train as train

    real = train.train_step

    def step(*args, **kwargs):
        loss, info = real(*args, **kwargs)
        return loss * float("nan"), info

    monkeypatch.setattr(train, "train_step", step)


def test_a_nan_distill_loss_fails_in_the_distill_command_and_status_says_failed(world, monkeypatch):
    from geopurify.workflows.distill_run import run_distill

    cfg, store = world
    student = Store(store, create=False).attrs(model_group())
    assert student_state(str(store), store_status(str(store), cfg), cfg).state == "done"
    _nan_loss(monkeypatch)
    cfg = with_section(cfg, "distill", seed=5)  # another student: a retrain
    with pytest.raises(NonFiniteError, match=r"distill epoch 1 step 0 .*the loss is nan.*distill\.lr"):
        run_distill(cfg, None)
    row = [r for r in log_rows(str(store)) if r["stage"] == DISTILL_JOB][-1]
    assert row["status"] == "failed" and "the loss is nan" in row["error"]
    kept = Store(store, create=False).attrs(model_group())
    assert kept["fingerprint"] == student["fingerprint"]  # the old student is not replaced...
    state = student_state(str(store), store_status(str(store), cfg), cfg)
    assert state.state == "failed" and "the loss is nan" in state.note  # ...nor called done
    assert "still holds the student" in state.note


def test_an_unexpected_distill_failure_is_one_line_naming_its_traceback(world, monkeypatch):
    import geopurify.stages.distill.train as train
    from geopurify.workflows.distill_run import run_distill

    cfg, store = world

    def broken(*args, **kwargs):
        raise OverflowError("simulated overflow")

    monkeypatch.setattr(train, "train_step", broken)
    with pytest.raises(GeopurifyError) as err:
        run_distill(with_section(cfg, "distill", seed=6), None)
    assert "OverflowError: simulated overflow" in str(err.value) and "traceback in" in str(err.value)
    row = [r for r in log_rows(str(store)) if r["stage"] == DISTILL_JOB][-1]
    assert row["status"] == "failed" and "OverflowError" in Path(row["traceback"]).read_text()
    assert student_state(str(store), store_status(str(store), cfg), cfg).state == "failed"


def test_a_nan_distill_loss_in_all_is_recorded_and_no_student_is_complete(world, monkeypatch):
    cfg, store = world
    shutil.rmtree(store / model_group())
    cfg = with_section(cfg, "distill", seed=7)  # not the student whose finished checkpoints are kept
    _nan_loss(monkeypatch)
    result = run_all(cfg)
    failed = {(o.stage, o.scene): o.error for o in result.failed}
    assert "the loss is nan" in failed[(DISTILL_JOB, "*")]
    assert not Store(store, create=False).attrs(model_group()).get("complete")
    assert student_state(str(store), store_status(str(store), cfg), cfg).state == "failed"
    assert [r for r in log_rows(str(store)) if r["stage"] == DISTILL_JOB][-1]["status"] == "failed"


def test_a_successful_distill_after_a_failure_is_done_again(world, monkeypatch):
    from geopurify.workflows.distill_run import run_distill

    cfg, store = world
    import geopurify.stages.distill.train as train

    monkeypatch.setattr(train, "train_step", lambda *a, **k: (_ for _ in ()).throw(GeopurifyError("boom")))
    with pytest.raises(GeopurifyError, match="boom"):
        run_distill(cfg, None, force=True, restart=True)
    assert student_state(str(store), store_status(str(store), cfg), cfg).state == "failed"
    monkeypatch.undo()
    assert run_distill(cfg, None)["status"] == "skipped"  # the config's student is there: done again
    assert student_state(str(store), store_status(str(store), cfg), cfg).state == "done"


def test_an_infinite_pretraining_lr_stops_pretraining_and_is_recorded(tmp_path, monkeypatch):
    import geopurify.workflows.pretrain_teacher as workflow
    from geopurify.stages.teacher.pretrain import pretrain_teacher
    from geopurify.workflows.config import load_run_config
    from geopurify.workflows.job_log import PRETRAIN_JOB

    from teacher_fixtures import tiny_recipe, write_scans

    scans = write_scans(tmp_path / "scans", count=2)
    bad = dataclasses.replace(tiny_recipe(1), lr=float("inf"))
    with pytest.raises(NonFiniteError, match=r"pretrain epoch 1 step 0 \(scan\d\): weight .* NaN or infinite"):
        pretrain_teacher([scans], tmp_path / "out" / "t.pt", recipe=bad, progress=False)
    assert not (tmp_path / "out" / "t.pt").exists()
    # from the command, with a config naming a store: the failure is in that store's run log
    Store(tmp_path / "s.zarr")
    monkeypatch.setattr(workflow, "pretrain_teacher", lambda *a, **k: pretrain_teacher(*a, **{**k, "recipe": bad}))
    cfg = load_run_config(None, [f"store={str(tmp_path / 's.zarr')!r}"], search_cwd=False)
    with pytest.raises(NonFiniteError):
        workflow.pretrain_cli(cfg, [str(scans)], tmp_path / "out" / "t.pt")
    [row] = [r for r in log_rows(str(tmp_path / "s.zarr")) if r["stage"] == PRETRAIN_JOB]
    assert row["status"] == "failed" and "NaN or infinite" in row["error"]
