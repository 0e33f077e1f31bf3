"""The ingest stage: arrays and attrs, skip-if-done, staleness, schedulers, crash safety."""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.schedule import run_stage_over_scenes
from geopurify.pipeline.swap import staging_dir
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_dataset, generate_scene, write_generic
from geopurify.pipeline.ply import read_ply, write_ply
from geopurify.pipeline.vocabulary import (
    DONE, FACES, LABEL, NORMAL, POINTS, RGB, SKIPPED, STATE_MISSING, STATE_STALE, XYZ, scene_group,
)
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import RunConfig

SCENES = ["synth0000_00", "synth0001_00", "synth0002_00"]


def make_cfg(root: Path, kind: str = "scannet", **ingest) -> RunConfig:
    cfg = RunConfig()
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, kind=kind, root=str(root)),
                               ingest=dataclasses.replace(cfg.ingest, **ingest))


def new_ctx(store_path: Path, cfg: RunConfig) -> StageContext:
    """Create the store once before any task opens it, as the workflows do (concurrent first opens
    of a store that does not exist yet race on creating its root groups)."""
    Store(store_path)
    return StageContext(str(store_path), cfg)


def group_arrays(store_path: Path | str, scene: str) -> dict[str, np.ndarray]:
    store = Store(store_path, create=False)
    group = store.group(scene_group(scene, POINTS))
    return {name: group[name][...] for name in group.array_keys()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate_dataset(root, len(SCENES), seed=0, num_frames=4)
    return root


@pytest.fixture
def data(dataset, tmp_path) -> Path:
    """A private copy of the dataset (tests touch files)."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    return copy


def test_ingest_writes_the_points_group(data, tmp_path):
    ctx = StageContext(str(tmp_path / "s.zarr"), make_cfg(data))
    out = run_scene(IngestStage(), ctx, SCENES[0])
    assert out.status == DONE, out.error
    arrays = group_arrays(tmp_path / "s.zarr", SCENES[0])
    n = arrays[XYZ].shape[0]
    mesh = read_ply(data / SCENES[0] / f"{SCENES[0]}_vh_clean_2.ply")
    assert {k: (v.dtype, v.shape) for k, v in arrays.items()} == {
        XYZ: (np.float32, (n, 3)), RGB: (np.uint8, (n, 3)), NORMAL: (np.float32, (n, 3)),
        LABEL: (np.int16, (n,)), FACES: (np.int32, (len(mesh.faces), 3))}
    assert np.array_equal(arrays[FACES], mesh.faces)  # the mesh's faces, kept as they are
    np.testing.assert_allclose(np.linalg.norm(arrays[NORMAL], axis=1), 1.0, atol=1e-5)
    attrs = ctx.store.attrs(scene_group(SCENES[0], POINTS))
    assert attrs["complete"] and attrs["num_points"] == n
    assert attrs["num_frames"] == 4 and attrs["skipped_frames"] == 0
    assert attrs["has_faces"] and attrs["has_labels"] and attrs["normals_from"] == "faces"
    assert attrs["has_color"] and attrs["num_faces"] == len(mesh.faces) and attrs["reconstruction"] is None
    assert attrs["dataset_kind"] == "scannet"
    assert np.array(attrs["axis_alignment"]).shape == (4, 4)
    assert "frames" not in attrs


def test_second_run_does_no_work(data, tmp_path):
    ctx = StageContext(str(tmp_path / "s.zarr"), make_cfg(data))
    assert run_scene(IngestStage(), ctx, SCENES[0]).status == DONE
    assert run_scene(IngestStage(), ctx, SCENES[0]).status == SKIPPED


def test_touching_one_pose_makes_only_that_scene_stale(data, tmp_path):
    stage = IngestStage()
    ctx = new_ctx(tmp_path / "s.zarr", make_cfg(data))
    assert [o.status for o in run_stage_over_scenes(stage, ctx, SCENES)] == [DONE] * 3
    pose = data / SCENES[1] / "pose" / "2.txt"
    st = pose.stat()
    os.utime(pose, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    states = [ctx.store.state(stage.group_path(s), stage.fingerprint(ctx, s)) for s in SCENES]
    assert states == [DONE, STATE_STALE, DONE]
    assert [o.status for o in run_stage_over_scenes(stage, ctx, SCENES)] == [SKIPPED, DONE, SKIPPED]


def test_config_change_makes_scenes_stale(data, tmp_path):
    stage = IngestStage()
    ctx = StageContext(str(tmp_path / "s.zarr"), make_cfg(data))
    run_scene(stage, ctx, SCENES[0])
    other = StageContext(ctx.store_path, make_cfg(data, normal_neighbours=8))
    assert other.store.state(stage.group_path(SCENES[0]), stage.fingerprint(other, SCENES[0])) == STATE_STALE
    moved = StageContext(ctx.store_path, make_cfg(data))  # the dataset root is not fingerprinted
    assert run_scene(stage, moved, SCENES[0]).status == SKIPPED


def test_inf_pose_frames_are_counted(tmp_path):
    generate_scene(tmp_path / "d", "s", seed=1, num_frames=4, inf_pose_frames=(0, 3), color_size=(96, 72),
                   depth_size=(48, 36))
    ctx = StageContext(str(tmp_path / "s.zarr"), make_cfg(tmp_path / "d"))
    assert run_scene(IngestStage(), ctx, "s").status == DONE
    attrs = ctx.store.attrs(scene_group("s", POINTS))
    assert attrs["num_frames"] == 2 and attrs["skipped_frames"] == 2


@pytest.mark.slow
def test_local_cluster_gives_the_same_store_as_threads(data, tmp_path):
    stage = IngestStage()
    a = new_ctx(tmp_path / "threads.zarr", make_cfg(data))
    b = new_ctx(tmp_path / "cluster.zarr", make_cfg(data))
    out_a = run_stage_over_scenes(stage, a, SCENES, scheduler="threads", workers=2)
    out_b = run_stage_over_scenes(stage, b, SCENES, scheduler="local-cluster", workers=2)
    assert [o.status for o in out_a] == [o.status for o in out_b] == [DONE] * 3
    for scene in SCENES:
        arrays_a, arrays_b = group_arrays(a.store_path, scene), group_arrays(b.store_path, scene)
        assert arrays_a.keys() == arrays_b.keys()
        for name in arrays_a:
            np.testing.assert_array_equal(arrays_a[name], arrays_b[name])
        path = scene_group(scene, POINTS)
        assert a.store.attrs(path)["fingerprint"] == Store(b.store_path).attrs(path)["fingerprint"]


def test_other_layouts_ingest(data, tmp_path):
    write_generic(data / SCENES[0], tmp_path / "generic")
    gen = StageContext(str(tmp_path / "g.zarr"), make_cfg(tmp_path / "generic", kind="generic"))
    assert run_scene(IngestStage(), gen, SCENES[0]).status == DONE
    ref = StageContext(str(tmp_path / "r.zarr"), make_cfg(data))
    run_scene(IngestStage(), ref, SCENES[0])
    for name, arr in group_arrays(ref.store_path, SCENES[0]).items():
        np.testing.assert_array_equal(group_arrays(gen.store_path, SCENES[0])[name], arr)

    rng = np.random.default_rng(0)
    (tmp_path / "pc").mkdir()
    xyz = np.c_[rng.random((400, 2)) * 3, np.zeros(400)]
    xyz = np.r_[xyz, np.c_[rng.random((200, 2)) * 3, np.full(200, 2.0)]]  # floor and a ceiling
    write_ply(tmp_path / "pc" / "room.ply", xyz, rng.integers(0, 256, (600, 3)))
    pc = StageContext(str(tmp_path / "p.zarr"), make_cfg(tmp_path / "pc", kind="pointcloud"))
    assert run_scene(IngestStage(), pc, "room").status == DONE
    attrs = pc.store.attrs(scene_group("room", POINTS))
    assert attrs["normals_from"] == "pca" and not attrs["has_labels"] and attrs["num_frames"] == 0
    normal = group_arrays(pc.store_path, "room")[NORMAL]
    # oriented towards the centroid: the floor faces up, the ceiling down
    assert np.mean(normal[:400, 2] > 0.99) > 0.95 and np.mean(normal[400:, 2] < -0.99) > 0.95
    assert LABEL not in group_arrays(pc.store_path, "room")


# ---- crash safety ----------------------------------------------------------------------------
KILLED_WRITER = r"""
import dataclasses, sys, time
import zarr
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import RunConfig

original = zarr.Array.__setitem__

def slow_write(self, key, value):
    original(self, key, value)
    print("wrote", self.path, flush=True)
    time.sleep(120)  # the test kills us here, one array into the group

zarr.Array.__setitem__ = slow_write
store, root, scene = sys.argv[1:4]
cfg = RunConfig()
cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, root=root))
print(run_scene(IngestStage(), StageContext(store, cfg), scene), flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_write_leaves_no_group_and_a_rerun_completes_and_clears_the_staging(data, tmp_path):
    store = tmp_path / "s.zarr"
    scene = SCENES[0]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(store), str(data), scene],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    line = ""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if line.startswith("wrote") or not line:
                    break
            if proc.poll() is not None:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert line.startswith("wrote"), f"writer never started: {line!r} {proc.stderr.read()}"
    assert proc.returncode == -signal.SIGKILL

    stage = IngestStage()
    ctx = StageContext(str(store), make_cfg(data))
    fp = stage.fingerprint(ctx, scene)
    # the group was being written in the staging folder: nothing was swapped in
    assert ctx.store.state(stage.group_path(scene), fp) == STATE_MISSING
    assert list(staging_dir(str(store)).iterdir())
    assert run_scene(stage, ctx, scene).status == DONE
    assert ctx.store.state(stage.group_path(scene), fp) == DONE
    assert not list(staging_dir(str(store)).iterdir())  # the killed writer's folder is removed

    clean = StageContext(str(tmp_path / "clean.zarr"), make_cfg(data))
    assert run_scene(stage, clean, scene).status == DONE
    resumed, reference = group_arrays(store, scene), group_arrays(clean.store_path, scene)
    assert resumed.keys() == reference.keys()
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name])
