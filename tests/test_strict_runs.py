"""Strict and robust runs: the config checked before work starts, faults as one line, nothing lost."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline import runlog
from geopurify.pipeline.errors import ConfigError, InputError, StoreError
from geopurify.pipeline.lock import store_lock
from geopurify.pipeline.stage import Outcome
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene, write_generic
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, FUSED, POINTS, STATE_INCOMPLETE, XYZ, purified_group, scene_group,
)
from geopurify.workflows.run_all import run_all
from geopurify.workflows.run_stage import run_stage
from geopurify.workflows.status import store_status, student_state

from workflow_fixtures import small_config, write_scenes


REPO = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "geopurify.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})})


def one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("strict") / "data"
    write_scenes(root)
    return root


def with_section(cfg, name, **changes):
    return dataclasses.replace(cfg, **{name: dataclasses.replace(getattr(cfg, name), **changes)})


# ---- 1. the whole config checked up front -------------------------------------------------------
@pytest.mark.parametrize("section, changes, key", [
    ("purify", {"k": 0}, "purify.k"),
    ("distill", {"epochs": 0}, "distill.epochs"),
    ("fuse", {"mode": "median"}, "fuse.mode"),
    ("evaluation", {"affinities": ["student", "magic"]}, "evaluation.affinities"),
    ("teacher", {"kind": "ssl", "checkpoint": "/nowhere/teacher.pt"}, "/nowhere/teacher.pt"),
    ("score", {"protocol": "scannet21"}, "scannet21"),
])
def test_all_refuses_a_bad_config_before_writing_anything(tmp_path, data, section, changes, key):
    cfg = with_section(small_config(tmp_path, data), section, **changes)
    with pytest.raises((ConfigError, InputError), match=key.replace(".", r"\.")):
        run_all(cfg)
    assert not Path(cfg.store).exists()


@pytest.mark.slow
def test_cli_all_with_the_demo_config_and_k_0_fails_in_seconds_naming_the_key(tmp_path):
    configs = REPO / "configs"
    before = sorted(p.name for p in configs.iterdir())
    started = time.monotonic()
    proc = cli("all", "--config", str(configs / "demo.toml"), "--set", "purify.k=0", cwd=tmp_path)
    assert proc.returncode == 2 and "purify.k" in one_line(proc)
    assert time.monotonic() - started < 30
    assert sorted(p.name for p in configs.iterdir()) == before and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_wrong_type_names_the_key(tmp_path):
    proc = cli("all", "--config", str(REPO / "configs" / "demo.toml"), "--set", "purify.k='many'")
    assert proc.returncode == 2 and "purify.k" in one_line(proc)


def test_evaluation_replacing_stage_keys_is_said_once(tmp_path, data):
    from geopurify.workflows.validate import validate

    cfg = with_section(small_config(tmp_path, data), "fuse", source="simulated")
    assert validate(cfg, "all") == []  # the defaults replace nothing a user set
    cfg = with_section(cfg, "evaluation", seeds=[3, 4])
    cfg = with_section(cfg, "purify", affinity="geometric")
    notes = validate(cfg, "all")
    assert any("evaluation.seeds" in n and "fuse.simulated.seed" in n for n in notes)
    assert any("evaluation.affinities" in n and "purify.affinity" in n for n in notes)
    other = with_section(cfg, "fuse", source="openclip", openclip=dataclasses.replace(cfg.fuse.openclip,
                                                                                       checkpoint="random"))
    assert any("ignored" in n for n in validate(other, "all"))


# ---- 2. failures are recorded, not lost -----------------------------------------------------------
@pytest.mark.slow
def test_a_failing_distill_is_logged_with_its_traceback_and_the_rest_finishes(tmp_path, data, monkeypatch):
    import geopurify.stages.distill.train as train

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug in training")

    monkeypatch.setattr(train, "distill", broken)
    cfg = small_config(tmp_path, data)
    result = run_all(cfg)
    failed = {(o.stage, o.scene) for o in result.failed}
    assert ("distill_student", "*") in failed
    done = {(o.stage, o.scene) for o in result.outcomes if o.status == DONE}
    assert (purified_group("geometric"), "wf_eval") in done and (purified_group("oracle"), "wf_eval") in done
    row = runlog.last_outcomes(cfg.store)[("*", "distill_student")]
    assert "simulated bug in training" in row["error"]
    assert "RuntimeError" in Path(row["traceback"]).read_text()
    table = store_status(cfg.store, cfg)
    assert student_state(cfg.store, table, cfg).state == FAILED
    assert table["wf_eval"]["purify"].state in (FAILED, "missing")


def test_a_permission_error_is_raised_with_the_path_and_deletes_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.zarr")
    store.write_group(scene_group("a", POINTS), {XYZ: np.zeros((4, 3), np.float32)}, {"fingerprint": "f"})
    files = sorted(p for p in (tmp_path / "s.zarr").rglob("*"))

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "s.zarr" / path / "zarr.json"))

    monkeypatch.setattr(store, "group", denied)
    with pytest.raises(StoreError, match="scenes/a/points.*Permission denied"):
        store.attrs(scene_group("a", POINTS))
    with pytest.raises(StoreError):
        store.write_group(scene_group("a", POINTS), {XYZ: np.ones((4, 3), np.float32)}, {"fingerprint": "g"})
    assert sorted(p for p in (tmp_path / "s.zarr").rglob("*")) == files


def test_only_undecodable_metadata_makes_a_group_unreadable(tmp_path):
    store = Store(tmp_path / "s.zarr")
    store.write_group(scene_group("a", POINTS), {XYZ: np.zeros((4, 3), np.float32)}, {"fingerprint": "f"})
    (tmp_path / "s.zarr" / "scenes/a/points/zarr.json").write_text('{"zarr_format": 3, "node_ty')
    assert store.attrs(scene_group("a", POINTS)).get("unreadable")


def test_all_takes_the_store_lock(tmp_path, data):
    cfg = small_config(tmp_path, data)
    Store(cfg.store)
    with store_lock(cfg.store):
        with pytest.raises(StoreError, match="locked by"):
            run_all(cfg)


# ---- 3. no quiet data loss in fuse ---------------------------------------------------------------
def _ingested_with_a_broken_frame(tmp_path):
    root = tmp_path / "data"
    generate_scene(root, "frames_a", seed=5, num_frames=6)
    cfg = small_config(tmp_path, root)
    cfg = with_section(cfg, "dataset", scenes=["frames_a"])
    cfg = with_section(cfg, "fuse", source="simulated", hashed_dim=32)
    assert not run_stage("ingest", cfg).failed
    broken = sorted((root / "frames_a" / "color").iterdir())[2]
    broken.write_bytes(b"not a jpeg")
    return cfg, broken


def test_more_unreadable_frames_than_allowed_fail_naming_the_first(tmp_path):
    cfg, broken = _ingested_with_a_broken_frame(tmp_path)  # 1 of 6 frames: more than 0.1
    run = run_stage("fuse", cfg)
    assert run.failed and str(broken) in run.failed[0].error
    assert "fuse.max_unreadable_frames" in run.failed[0].error
    assert Store(cfg.store).group(scene_group("frames_a", FUSED)) is None


def test_fewer_unreadable_frames_are_counted_and_shown(tmp_path):
    cfg, _ = _ingested_with_a_broken_frame(tmp_path)
    cfg = with_section(cfg, "fuse", max_unreadable_frames=0.2)
    assert not run_stage("fuse", cfg).failed
    assert Store(cfg.store).attrs(scene_group("frames_a", FUSED))["unreadable_frames"] == 1
    cell = store_status(cfg.store, cfg)["frames_a"]["fuse"]
    assert "1 unreadable frame" in cell.note  # stale too: a frame changed after ingest


# ---- 5. a folder that is not a store is never adopted --------------------------------------------
@pytest.mark.slow
def test_a_folder_that_is_not_a_store_is_refused_and_left_as_it_was(tmp_path, data):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"x")
    for create in (True, False):
        with pytest.raises(StoreError, match="not a geopurify store"):
            Store(folder, create=create)
    proc = cli("ingest", "--store", str(folder), "--root", str(data), "--scenes", "wf_eval",
               "--set", "dataset.kind='scannet'")
    assert proc.returncode == 2 and str(folder) in one_line(proc)
    proc = cli("status", "--store", str(folder))
    assert proc.returncode == 2
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]


@pytest.mark.slow
def test_status_never_writes(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("status", "--store", str(empty)).returncode == 2
    assert not list(empty.iterdir())
    store = Store(tmp_path / "s.zarr")
    store.write_group(scene_group("a", POINTS), {XYZ: np.zeros((2, 3), np.float32)}, {"fingerprint": "f"})
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "s.zarr").rglob("*")}
    assert cli("status", "--store", str(tmp_path / "s.zarr")).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "s.zarr").rglob("*")} == stamp


# ---- 6. full disks, unreachable schedulers, corrupt metadata, cut-short logs ----------------------
def test_a_full_disk_is_one_line_naming_the_file(tmp_path, data, monkeypatch):
    from typer.testing import CliRunner

    from geopurify.cli import app

    target = str(tmp_path / "s.zarr" / "scenes" / "wf_eval" / POINTS / XYZ / "c" / "0")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", target)

    monkeypatch.setattr(Store, "write_group", full)
    result = CliRunner().invoke(app, ["ingest", "--store", str(tmp_path / "s.zarr"), "--root", str(data),
                                      "--scenes", "wf_eval", "--set", "dataset.kind='scannet'"])
    text = result.output
    assert result.exit_code == 1 and "No space left on device" in text and target in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line(tmp_path, data):
    proc = cli("ingest", "--store", str(tmp_path / "s.zarr"), "--root", str(data), "--scenes", "wf_eval",
               "--set", "dataset.kind='scannet'", "--scheduler", "tcp://127.0.0.1:9",
               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert proc.returncode == 2 and "127.0.0.1:9" in one_line(proc)


def test_a_corrupt_scene_metadata_file_shows_in_status_and_ingest_repairs_it(tmp_path, data):
    cfg = with_section(small_config(tmp_path, data), "dataset", scenes=["wf_eval"])
    assert not run_stage("ingest", cfg).failed
    meta = Path(cfg.store) / "scenes" / "wf_eval" / "zarr.json"
    meta.write_text('{"zarr_format": 3, "node')
    cell = store_status(cfg.store, cfg)["wf_eval"]["ingest"]
    assert cell.state == STATE_INCOMPLETE and str(meta) in cell.note
    assert [o.status for o in run_stage("ingest", cfg).outcomes] == [DONE]
    assert json.loads(meta.read_text())["node_type"] == "group"
    assert store_status(cfg.store, cfg)["wf_eval"]["ingest"].state == DONE


def test_a_log_line_cut_short_never_swallows_the_next_record(tmp_path):
    store = tmp_path / "s.zarr"
    Store(store)
    runlog.append(str(store), [Outcome("a", POINTS, DONE)], "r1")
    with open(runlog.log_path(str(store)), "a") as fh:
        fh.write('{"time": "2026-01-01", "run": "r2", "scene": "b", "sta')  # the disk filled up here
    runlog.append(str(store), [Outcome("b", POINTS, FAILED, error="bad file")], "r3")
    latest = runlog.last_outcomes(str(store))
    assert latest[("b", POINTS)]["run"] == "r3" and latest[("a", POINTS)]["status"] == DONE


def test_a_failed_ingest_into_a_new_store_shows_in_status(tmp_path):
    root = tmp_path / "data"
    generate_scene(root, "bad_a", seed=4, num_frames=4)
    (root / "bad_a" / "bad_a_vh_clean_2.ply").write_bytes(b"ply\nformat nonsense\n")
    cfg = with_section(small_config(tmp_path, root), "dataset", scenes=["bad_a"])
    assert run_stage("ingest", cfg).failed
    cell = store_status(cfg.store, cfg)["bad_a"]["ingest"]
    assert cell.state == FAILED and "bad_a_vh_clean_2.ply" in cell.note


# ---- 7. generic layout: camera.json against the frames -------------------------------------------
def test_a_camera_json_of_another_size_is_named_with_both_sizes(tmp_path):
    from geopurify.pipeline.readers.generic import GenericReader

    generate_scene(tmp_path / "scannet", "gen_a", seed=6, num_frames=4)
    folder = write_generic(tmp_path / "scannet" / "gen_a", tmp_path / "generic")
    camera = json.loads((folder / "camera.json").read_text())
    w, h = camera["color"]["width"], camera["color"]["height"]
    camera["color"]["width"], camera["color"]["height"] = w * 2, h * 2
    (folder / "camera.json").write_text(json.dumps(camera))
    with pytest.raises(InputError) as err:
        GenericReader().read(tmp_path / "generic", folder.name)
    message = str(err.value)
    assert message.startswith(str(folder / "camera.json"))
    assert f"{w * 2}x{h * 2}" in message and f"{w}x{h}" in message
