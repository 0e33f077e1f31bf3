"""The runs people use: all, reprocess, report, export — on small synthetic scenes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import zarr
from plyfile import PlyData

from geopurify.pipeline.vocabulary import (
    DONE, FUSED, LABEL, POINTS, PURIFIED, STATE_STALE, XYZ, model_group, purified_group,
    scene_folder, scene_group,
)
from geopurify.workflows.export import export_scene
from geopurify.workflows.report import write_report
from geopurify.workflows.run_all import run_all
from geopurify.workflows.status import store_status, student_state

from workflow_fixtures import small_config, small_overrides, write_scenes


def arrays(store_path) -> dict:
    root = zarr.open_group(str(store_path), mode="r")
    out = {}
    for scene in root["scenes"].group_keys():
        for stage in root[scene_folder(scene)].group_keys():
            g = root[scene_group(scene, stage)]
            for name in g.array_keys():
                out[f"{scene}/{stage}/{name}"] = g[name][...]
    model = root[model_group()]
    for name in model.array_keys():
        out[f"student/{name}"] = model[name][...]
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wf")
    write_scenes(tmp / "data")
    cfg = small_config(tmp, tmp / "data")
    result = run_all(cfg)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    return tmp, cfg, result


@pytest.mark.slow
def test_all_runs_every_stage_and_status_is_done(finished_run):
    tmp, cfg, result = finished_run
    stages = {o.stage for o in result.outcomes if o.status == DONE}
    assert {POINTS, FUSED, "teacher", "distill_student", PURIFIED, purified_group("geometric"),
            purified_group("oracle")} <= stages
    table = store_status(cfg.store, cfg)
    assert set(table) == {"wf_eval", "wf_train0", "wf_train1"}
    for scene, row in table.items():
        for command in ("ingest", "fuse", "teacher"):
            assert row[command].state == DONE, (scene, command, row[command])
    assert table["wf_eval"]["purify"].state == DONE


@pytest.mark.slow
def test_second_run_does_no_work_and_a_fuse_change_reaches_only_its_dependants(finished_run):
    tmp, cfg, _ = finished_run
    again = run_all(cfg)
    assert [o for o in again.outcomes if o.status == DONE] == []
    changed = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, border=4))
    table = store_status(cfg.store, changed)
    for row in table.values():
        assert row["ingest"].state == DONE and row["teacher"].state == DONE
        assert row["fuse"].state == STATE_STALE
    assert table["wf_eval"]["purify"].state == STATE_STALE
    assert student_state(cfg.store, table, changed).state == STATE_STALE  # distill is stale too
    assert student_state(cfg.store, store_status(cfg.store, cfg), cfg).state == DONE


@pytest.mark.slow
def test_report_and_export(finished_run, tmp_path):
    _, cfg, result = finished_run
    report = write_report(result.stores, tmp_path / "rep", None, "scannet19")
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"lift-only", "geometric pooling", "student pooling", "oracle pooling"}
    for png in ("confusion.png", "per_class_iou.png", "topdown.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 1000
    assert "student pooling" in report.read_text()
    ply = export_scene(cfg.store, "wf_eval", PURIFIED, tmp_path / "x.ply")
    vertex = PlyData.read(str(ply))["vertex"]
    n = zarr.open_group(cfg.store, mode="r")[f"{scene_group('wf_eval', POINTS)}/{XYZ}"].shape[0]
    assert vertex.count == n and {"red", "green", "blue", LABEL} <= set(vertex.data.dtype.names)


@pytest.mark.slow
def test_local_cluster_gives_the_same_stores_as_threads(finished_run, tmp_path):
    tmp, cfg, _ = finished_run
    other = dataclasses.replace(cfg, store=str(tmp_path / "cluster.zarr"),
                                run=dataclasses.replace(cfg.run, scheduler="local-cluster", workers=2))
    result = run_all(other)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    a, b = arrays(cfg.store), arrays(other.store)
    assert set(a) == set(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.slow
def test_cli_check_and_json_on_a_finished_run(finished_run, tmp_path):
    from typer.testing import CliRunner

    from geopurify.cli import app

    def invoke(*args):
        return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})

    tmp, cfg, _ = finished_run
    sets = [a for o in small_overrides(tmp, tmp / "data") for a in ("--set", o)]
    status = invoke("status", *sets, "--check", "--json")
    assert status.exit_code == 0, status.output
    table = json.loads(status.stdout)["scene_states"]
    assert table["wf_eval"]["purify"]["state"] == "done"
    assert table["wf_train0"]["purify"]["state"] == "not needed"  # training scenes are never purified
    assert invoke("status", *sets, "--set", "fuse.border=4", "--check").exit_code == 1
    again = invoke("-q", "all", *sets, "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["counts"] == {"done": 0, "skipped": len(summary["outcomes"]), "failed": 0}
    assert summary["stores"] == [cfg.store]
    chosen = invoke("select", "--store", cfg.store, "--k", "1", "--json")
    assert chosen.exit_code == 0, chosen.output
    assert len(json.loads(chosen.stdout)) == 1
    query = invoke("query", "chair", "--scene", "wf_eval", "--of", "fused", "--store", cfg.store,
                   "--out", tmp_path / "q.ply", "--json")
    assert query.exit_code == 0, query.output
    assert [p["prompt"] for p in json.loads(query.stdout)["prompts"]] == ["chair"]
