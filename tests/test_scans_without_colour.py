"""Clouds without colour: the ``pointcloud`` layout reads them with colour recorded as absent (no
``rgb`` array, ``has_color: false``, never black); the geometric teacher leaves its colour block out,
the ptv3 teacher refuses them unless ``teacher.ptv3_missing = ["color"]`` feeds zeros, the student is
fed zeros; each says so in its group, and the provenance says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.ply import read_ply, write_ply
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.vocabulary import FEAT, POINTS, RGB, TEACHER, XYZ, NORMAL, scene_group
from geopurify.stages.teacher.geometric import GeometricWeights, geometric_features
from geopurify.stages.teacher.stage import TeacherStage
from geopurify.workflows.config import load_run_config
from geopurify.workflows.joins import distill_student
from geopurify.workflows.provenance import describe, run_provenance
from geopurify.workflows.run_stage import run_stage

from teacher_ptv3_fixtures import TINY_DIM, write_tiny_checkpoint

SCENES = {"lidar_eval": 11, "lidar_train0": 12, "lidar_train1": 13}


@pytest.fixture(scope="module")
def clouds(tmp_path_factory) -> Path:
    """Labelled synthetic rooms as PLY clouds without red/green/blue (a LiDAR scan), with faces."""
    tmp = tmp_path_factory.mktemp("lidar")
    for scene, seed in SCENES.items():
        folder = generate_scene(tmp / "rendered", scene, seed=seed, num_frames=2)
        mesh = read_ply(folder / f"{scene}_vh_clean_2.ply")
        labels = read_ply(folder / f"{scene}_vh_clean_2.labels.ply").label
        write_ply(tmp / "clouds" / f"{scene}.ply", mesh.xyz, label=labels, faces=mesh.faces)
    return tmp / "clouds"


def config(tmp: Path, clouds: Path, *extra: str):
    overrides = [f"store={str(tmp / 's.zarr')!r}", "dataset.kind='pointcloud'", f"dataset.root={str(clouds)!r}",
                 "dataset.scenes=['lidar_*']", "fuse.source='simulated'", "fuse.simulated.virtual_views=12",
                 "distill.epochs=1", "distill.width=16", "distill.anchors=256", *extra]
    return load_run_config(None, overrides, search_cwd=False)


def test_colour_recorded_as_absent(clouds, tmp_path):
    cfg = config(tmp_path, clouds)
    assert not run_stage("ingest", cfg).failed
    store = Store(cfg.store, create=False)
    group = store.group(scene_group("lidar_eval", POINTS))
    assert RGB not in group and XYZ in group
    attrs = store.attrs(scene_group("lidar_eval", POINTS))
    assert attrs["has_color"] is False and attrs["has_faces"]


def test_geometric_teacher_leaves_the_colour_block_out(clouds, tmp_path):
    cfg = config(tmp_path, clouds, "teacher.kind='geometric'")
    for command in ("ingest", "teacher"):
        assert not run_stage(command, cfg).failed
    store = Store(cfg.store, create=False)
    attrs = store.attrs(scene_group("lidar_eval", TEACHER))
    assert attrs["has_color"] is False and attrs["without_color"] == "colour block left out (zeros)"
    pts = scene_group("lidar_eval", POINTS)
    xyz, normal = store.read(pts, XYZ), store.read(pts, NORMAL)
    feat = store.read(scene_group("lidar_eval", TEACHER), FEAT)
    # the same as a teacher whose colour weight is 0, whatever colour it is shown
    grey = np.full((len(xyz), 3), 90, np.uint8)
    expected = geometric_features(xyz, grey, normal, weights=GeometricWeights(colour=0.0))
    assert np.array_equal(feat, expected.astype(np.float16))
    assert feat.shape[1] == 44


def _ptv3_store(tmp: Path, rgb: np.ndarray | None):
    """A one-scene store whose points carry ``rgb`` (None: colour absent)."""
    xyz = np.random.default_rng(0).uniform(0, 3, (4000, 3)).astype(np.float32)
    normal = np.tile(np.array([[0, 0, 1]], np.float32), (len(xyz), 1))
    arrays = {XYZ: xyz, NORMAL: normal, **({RGB: rgb} if rgb is not None else {})}
    store = Store(tmp)
    store.write_group(scene_group("room", POINTS), arrays,
                      {"stage": POINTS, "fingerprint": f"pts-{rgb is None}", "has_color": rgb is not None,
                       "normals_from": "faces"})
    return store


def _ptv3_ctx(store, checkpoint, missing=()):
    cfg = load_run_config(None, [f"store={store.path!r}", "teacher.kind='ptv3'",
                                 f"teacher.checkpoint={checkpoint!r}", f"teacher.ptv3_missing={list(missing)!r}"],
                          search_cwd=False)
    return StageContext(store.path, cfg)


def test_ptv3_refuses_without_the_setting_and_feeds_zeros_with_it(tmp_path):
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny_sonata_2025.pth", seed=0)
    store = _ptv3_store(tmp_path / "absent.zarr", None)
    refused = run_scene(TeacherStage(), _ptv3_ctx(store, checkpoint), "room")
    assert refused.status == "failed"
    assert 'teacher.ptv3_missing = ["color"]' in refused.error and "no colour" in refused.error
    assert store.group(scene_group("room", TEACHER)) is None  # nothing written

    fed = run_scene(TeacherStage(), _ptv3_ctx(store, checkpoint, ["color"]), "room")
    assert fed.status == "done", fed.error
    attrs = store.attrs(scene_group("room", TEACHER))
    assert attrs["zeros_fed"] == ["color"] and attrs["has_color"] is False and attrs["dim"] == TINY_DIM
    feat = store.read(scene_group("room", TEACHER), FEAT)
    # zeros were fed: the features of the same points with black colour, bit for bit
    black = _ptv3_store(tmp_path / "black.zarr", np.zeros((4000, 3), np.uint8))
    assert run_scene(TeacherStage(), _ptv3_ctx(black, checkpoint, ["color"]), "room").status == "done"
    assert black.attrs(scene_group("room", TEACHER))["zeros_fed"] == []  # it has colour: nothing zeroed
    assert np.array_equal(feat, black.read(scene_group("room", TEACHER), FEAT))
    assert np.isfinite(feat.astype(np.float32)).all() and feat.astype(np.float32).std() > 0


def test_ptv3_normal_setting_zeroes_estimated_normals(tmp_path):
    from geopurify.stages.teacher.config import TeacherConfig
    from geopurify.stages.teacher.stage import ptv3_zeros

    cfg = TeacherConfig(kind="ptv3", checkpoint="x", ptv3_missing=["color", "normal"])
    assert ptv3_zeros(cfg, colour_absent=True, normals_estimated=True) == ["color", "normal"]
    assert ptv3_zeros(cfg, colour_absent=False, normals_estimated=False) == []
    assert ptv3_zeros(TeacherConfig(kind="ptv3"), True, True) == []
    # the default setting leaves earlier ptv3 fingerprints as they were
    assert "ptv3_missing" in TeacherConfig(kind="ptv3").unused_fields()
    assert "ptv3_missing" not in cfg.unused_fields()


@pytest.mark.slow
def test_student_and_provenance_say_so(clouds, tmp_path):
    """ptv3 teacher fed zeros, student fed zeros, purify without colour: each group and the
    provenance record it."""
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny_sonata_2025.pth", seed=0)
    cfg = config(tmp_path, clouds, "teacher.kind='ptv3'", f"teacher.checkpoint={checkpoint!r}",
                 "teacher.ptv3_missing=['color']")
    for command in ("ingest", "fuse", "teacher"):
        assert not run_stage(command, cfg).failed, command
    distill_student(cfg, ["lidar_train0", "lidar_train1"], force=False, upstream=[])
    assert not run_stage("purify", cfg).failed
    store = Store(cfg.store, create=False)
    record = store.attrs("models/student")
    assert record["training"]["scenes_without_color"] == ["lidar_train0", "lidar_train1"]
    purified = store.attrs(scene_group("lidar_eval", "purified"))
    assert purified["has_color"] is False and purified["without_color"] == "zeros fed to the student for colour"
    prov = run_provenance([cfg.store], ["lidar_eval"], ["fused", "purified"], "scannet20")
    assert prov["teacher"]["kind"] == "ptv3" and prov["teacher"]["zeros_fed"] == ["color"]
    assert prov["scans"] == {"lidar_eval": {"color": "absent"}}
    words = "\n".join(describe(prov))
    assert "Fed zeros for what the scans lack: color (teacher.ptv3_missing)" in words
    assert "lidar_eval: no colour (absent, not black" in words
