"""Cluster faults are recorded: a distill whose workers are killed until Dask gives up is a failed
run in ``runs.jsonl`` and in ``status``; a cluster that fails to start is one line; groups that a
run computed before its workers were lost are logged as computed, not as skipped."""

from __future__ import annotations

import dataclasses
import json

import dask
import pytest

from geopurify.pipeline import runlog
from geopurify.pipeline.schedule import ClusterError, compute_graph
from geopurify.workflows.job_log import DISTILL_JOB
from geopurify.workflows.run_all import run_all
from geopurify.workflows.status import store_status, student_state

from workflow_fixtures import small_config, write_scenes

KILLER = '''"""Worker preload (test only): any distill step kills the worker process, as an OOM kill would."""
import os

import geopurify.stages.distill.train as train


def _killed(*args, **kwargs):
    os._exit(1)


train.train_step = _killed
'''


@pytest.mark.slow
def test_a_distill_whose_workers_are_killed_is_recorded_failed(tmp_path):
    write_scenes(tmp_path / "data")
    preload = tmp_path / "kill_in_distill.py"
    preload.write_text(KILLER)
    cfg = small_config(tmp_path, tmp_path / "data")
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, scheduler="local-cluster", workers=2))
    with dask.config.set({"distributed.worker.preload": [str(preload)],
                          "distributed.scheduler.allowed-failures": 1}):
        result = run_all(cfg)
    failed = {(o.stage, o.scene): o.error for o in result.failed}
    assert "lost to killed workers" in failed[(DISTILL_JOB, "*")], failed
    assert "allowed-failures" in failed[(DISTILL_JOB, "*")]
    # what needs the student failed with it; everything else finished, and was computed by this run
    assert "killed workers" in failed[("purified", "wf_eval")]
    others = [o for o in result.outcomes if o.stage not in (DISTILL_JOB, "purified") and o.scene != "*"]
    assert others and all(o.status == "done" for o in others), \
        [(o.stage, o.scene, o.status, o.error) for o in others if o.status != "done"]
    rows = [json.loads(line) for line in runlog.log_path(cfg.store).read_text().splitlines()]
    [row] = [r for r in rows if r["stage"] == DISTILL_JOB]
    assert row["status"] == "failed" and "lost to killed workers" in row["error"]
    assert not any(r["status"] == "skipped" for r in rows if r["scene"] != "*")
    state = student_state(cfg.store, store_status(cfg.store, cfg), cfg)
    assert state.state == "failed" and "killed workers" in state.note


def test_a_cluster_that_cannot_start_is_one_line(monkeypatch):
    import distributed

    def refuse(*args, **kwargs):
        raise RuntimeError("Nanny failed to start.\nTraceback (most recent call last):\n  ...")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    with pytest.raises(ClusterError) as err:
        compute_graph([dask.delayed(sum)([1, 2])], "local-cluster", 1)
    assert str(err.value) == ("--scheduler local-cluster: the Dask cluster failed to start "
                              "(RuntimeError: Nanny failed to start.)")
