"""Honest results: no simulated default; each affinity in its own group; fingerprints that hold
what a result depends on and nothing else."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geopurify.pipeline.config import fingerprinted_dict
from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FUSED, PURIFIED, purified_group, scene_group
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.fuse.stage import check_config as check_fuse
from geopurify.stages.purify.config import PurifyConfig
from geopurify.workflows.run_stage import run_stage

from conftest import SCANNET_SCANS, needs_scannet
from workflow_fixtures import small_config, write_scenes


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "geopurify.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def replace(cfg, **changes):
    return dataclasses.replace(cfg, **changes)


# ---- 1. no simulated default ---------------------------------------------------------------------
def test_the_default_source_is_openclip_and_needs_weights():
    cfg = FuseConfig()
    assert cfg.source == "openclip"
    with pytest.raises(ConfigError, match=r"--checkpoint.*fuse\.openclip\.checkpoint.*--source"):
        check_fuse(cfg)
    check_fuse(replace(cfg, source="simulated"))  # named: runs


def _bare_fuse_refused(store: Path, scene: str) -> None:
    proc = cli("fuse", "--store", str(store), "--scenes", scene)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "--checkpoint" in lines[0], proc.stderr
    assert Store(store, create=False).group(scene_group(scene, FUSED)) is None


@pytest.mark.slow
def test_a_bare_fuse_after_ingest_is_refused_and_writes_nothing(tmp_path):
    write_scenes(tmp_path / "data")
    cfg = small_config(tmp_path, tmp_path / "data")
    cfg = replace(cfg, dataset=replace(cfg.dataset, scenes=["wf_eval"]))
    assert not run_stage("ingest", cfg).failed
    _bare_fuse_refused(Path(cfg.store), "wf_eval")


@needs_scannet
@pytest.mark.slow
def test_a_bare_fuse_on_scannet_is_refused(tmp_path):
    store = tmp_path / "scannet.zarr"
    proc = cli("ingest", "--store", str(store), "--dataset", "scannet", "--root", str(SCANNET_SCANS),
               "--scenes", "scene0000_00")
    assert proc.returncode == 0, proc.stderr
    _bare_fuse_refused(store, "scene0000_00")


def test_the_shipped_configs_name_the_simulated_source():
    import tomllib

    for name in ("demo.toml", "scannet.toml"):
        data = tomllib.loads((Path(__file__).resolve().parents[1] / "configs" / name).read_text())
        assert data["fuse"]["source"] == "simulated", name


# ---- 3. each affinity writes its own group ----------------------------------------------------------
@pytest.mark.slow
def test_purify_with_an_affinity_writes_that_affinitys_group(tmp_path):
    write_scenes(tmp_path / "data")
    cfg = small_config(tmp_path, tmp_path / "data")
    cfg = replace(cfg, dataset=replace(cfg.dataset, scenes=["wf_eval"]),
                  fuse=replace(cfg.fuse, source="simulated"))
    for command in ("ingest", "fuse", "teacher"):
        assert not run_stage(command, cfg).failed
    geometric = replace(cfg, purify=replace(cfg.purify, affinity="geometric"))
    assert not run_stage("purify", geometric).failed
    store = Store(cfg.store, create=False)
    assert store.group(scene_group("wf_eval", purified_group("geometric"))) is not None
    assert store.group(scene_group("wf_eval", PURIFIED)) is None
    assert store.attrs(scene_group("wf_eval", purified_group("geometric")))["affinity"] == "geometric"


# ---- 4. fingerprints: what a result depends on, and only that ----------------------------------------
def test_a_simulated_fingerprint_ignores_openclip_and_the_other_way():
    sim = FuseConfig(source="simulated")
    assert "openclip" not in fingerprinted_dict(sim)
    changed = replace(sim, openclip=replace(sim.openclip, model="ViT-L-14", checkpoint="x.pt"))
    assert fingerprinted_dict(changed) == fingerprinted_dict(sim)
    clip = FuseConfig(source="openclip")
    assert "simulated" not in fingerprinted_dict(clip)
    reseeded = replace(clip, simulated=replace(clip.simulated, seed=7, preset="swaps"))
    assert fingerprinted_dict(reseeded) == fingerprinted_dict(clip)
    assert fingerprinted_dict(replace(sim, simulated=replace(sim.simulated, seed=7))) != fingerprinted_dict(sim)


def test_student_pooling_ignores_the_geometric_scales():
    student = PurifyConfig(affinity="student")
    assert fingerprinted_dict(replace(student, geo_position_scale=1.0)) == fingerprinted_dict(student)
    geometric = PurifyConfig(affinity="geometric")
    assert fingerprinted_dict(replace(geometric, geo_position_scale=1.0)) != fingerprinted_dict(geometric)
    assert fingerprinted_dict(replace(geometric, student_position_scale=0.5)) == fingerprinted_dict(geometric)


def test_an_openclip_run_has_one_store_whatever_the_seeds(tmp_path):
    from geopurify.workflows.run_all import evaluation_seeds

    cfg = small_config(tmp_path, tmp_path)
    cfg = replace(cfg, evaluation=replace(cfg.evaluation, seeds=[0, 1, 2]))
    assert evaluation_seeds(replace(cfg, fuse=replace(cfg.fuse, source="simulated"))) == [0, 1, 2]
    assert len(evaluation_seeds(replace(cfg, fuse=replace(cfg.fuse, source="openclip")))) == 1


def test_each_teacher_kind_is_fingerprinted_on_its_own_settings():
    from geopurify.stages.teacher.config import TeacherConfig

    ssl = TeacherConfig(kind="ssl", checkpoint="t.pt")
    assert fingerprinted_dict(replace(ssl, geometric_weights=[1, 1, 1, 1, 1])) == fingerprinted_dict(ssl)
    assert fingerprinted_dict(replace(ssl, ssl_position_weight=0.0)) != fingerprinted_dict(ssl)
    geometric = TeacherConfig(kind="geometric")
    assert fingerprinted_dict(replace(geometric, ssl_position_weight=0.0)) == fingerprinted_dict(geometric)
    assert fingerprinted_dict(replace(geometric, geometric_neighbours=8)) != fingerprinted_dict(geometric)
    ptv3 = TeacherConfig(kind="ptv3", checkpoint="sonata.pth")
    assert fingerprinted_dict(replace(ptv3, voxel_size=0.05)) == fingerprinted_dict(ptv3)
    assert fingerprinted_dict(replace(ptv3, ptv3_levels=1)) != fingerprinted_dict(ptv3)
