"""Distill training on small synthetic stores: it learns, it resumes exactly, it refuses bad inputs."""

import signal
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np
import pytest
import torch

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    DONE, FEAT, FUSED, LABEL, NORMAL, POINTS, RGB, SKIPPED, XYZ, model_group, scene_folder,
    scene_group,
)
from affinity_purity import affinity_purity
from geopurify.stages.distill.config import DistillConfig
from geopurify.stages.distill.infer import load_student_file, read_student, scene_embeddings
from geopurify.stages.distill.train import distill

from distill_fixtures import make_store, synthetic_scene, write_scene


# one thread: tiny matrices run faster without OpenMP, and a shared machine stays responsive
TINY = dict(width=16, blocks=1, anchors=512, neighbours=32, lr=3e-3, threads=1)


def _purity(store, scene, feats):
    pts = scene_group(scene, POINTS)
    return affinity_purity(feats, store.read(pts, XYZ), store.read(pts, LABEL))


@pytest.mark.slow
def test_loss_falls_and_student_beats_its_fused_input(tmp_path):
    store = make_store(tmp_path / "s", {"a": 1, "b": 2, "held_out": 3}, n=3000)
    out = distill(str(tmp_path / "s"), ["a", "b"], DistillConfig(epochs=6, **TINY), progress=False)
    assert out["status"] == DONE and out["steps"] == 12
    loss = out["epoch_loss"]
    assert loss[-1] < 0.8 * loss[0], loss
    model, attrs = read_student(str(tmp_path / "s"))
    assert attrs["scenes"] == ["a", "b"] and set(attrs["inputs"]["a"]) == {POINTS, FUSED, "teacher"}
    for scene in ("a", "b", "held_out"):
        _, p2v, z = scene_embeddings(store, scene, model)
        assert np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
        fused = store.read(scene_group(scene, FUSED), FEAT)
        student, lifted = _purity(store, scene, z[p2v]), _purity(store, scene, fused)
        assert student > lifted + 0.03, (scene, student, lifted)


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_weights(tmp_path):
    cfg = DistillConfig(epochs=4, seed=7, **{**TINY, "width": 8, "anchors": 256})
    scenes = {"a": 1, "b": 2}
    make_store(tmp_path / "whole", scenes, n=1500)
    make_store(tmp_path / "killed", scenes, n=1500)
    whole = distill(str(tmp_path / "whole"), ["a", "b"], cfg, progress=False)

    # a real kill: train in another process, SIGKILL it once the first checkpoint is on disk
    script = (f"from geopurify.stages.distill.config import DistillConfig\n"
              f"from geopurify.stages.distill.train import distill\n"
              f"distill({str(tmp_path / 'killed')!r}, ['a', 'b'], DistillConfig(**{asdict(cfg)!r}), progress=False)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoints = tmp_path / "killed" / "models" / "checkpoints"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("*/epoch_*.pt")):
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed = Store(tmp_path / "killed")
    assert not killed.attrs(model_group()).get("complete")  # nothing claims to be the student

    resumed = distill(str(tmp_path / "killed"), ["a", "b"], cfg, progress=False,
                      out=tmp_path / "student.pt")
    assert 1 <= resumed["resumed_from_epoch"] < 4
    assert resumed["steps"] == whole["steps"] == 8
    assert resumed["epoch_loss"] == whole["epoch_loss"]
    a, b = Store(tmp_path / "whole").group(model_group()), killed.group(model_group())
    assert sorted(a.array_keys()) == sorted(b.array_keys())
    for name in a.array_keys():
        assert np.array_equal(a[name][...], b[name][...]), name

    # from scratch (checkpoints cleared, the finished student ignored): the same run again
    again = distill(str(tmp_path / "whole"), ["a", "b"], cfg, progress=False, resume=False, force=True)
    assert again["resumed_from_epoch"] == 0 and again["epoch_loss"] == whole["epoch_loss"]

    # done: a second call trains nothing; the exported file holds the same network
    again = distill(str(tmp_path / "killed"), ["a", "b"], cfg, progress=False)
    assert again["status"] == SKIPPED
    from_store, _ = read_student(str(tmp_path / "killed"))
    from_file, record = load_student_file(tmp_path / "student.pt")
    assert record["fingerprint"] == resumed["fingerprint"]
    _, _, z1 = scene_embeddings(killed, "a", from_store)
    _, _, z2 = scene_embeddings(killed, "a", from_file)
    assert np.array_equal(z1, z2)


def test_refuses_missing_and_stale_groups_naming_the_scene(tmp_path):
    store = make_store(tmp_path / "s", {"good": 1, "bad": 2}, n=500)
    cfg = DistillConfig(epochs=1, **TINY)
    # stale: the points were re-ingested after the fused group was made
    data = synthetic_scene(2, n=500)
    store.write_group(scene_group("bad", POINTS), {k: data[k] for k in (XYZ, RGB, NORMAL, LABEL)},
                      {"fingerprint": "changed", "inputs": {}})
    with pytest.raises(StoreError, match=r"'bad'.*stale fused"):
        distill(str(tmp_path / "s"), ["good", "bad"], cfg, progress=False)
    # stale against the fingerprint the current config would give
    with pytest.raises(StoreError, match=r"'good'.*stale teacher"):
        distill(str(tmp_path / "s"), ["good"], cfg, progress=False, expected={"good": {"teacher": "x"}})
    # missing
    write_scene(store, "bad", data)
    store.root[scene_folder("bad")].__delitem__("teacher")
    with pytest.raises(StoreError, match=r"'bad' has no complete teacher group \(missing\)"):
        distill(str(tmp_path / "s"), ["good", "bad"], cfg, progress=False)
    assert store.group(model_group()) is None


def test_augmentation_keeps_neighbours_and_inference_is_deterministic(tmp_path):
    from geopurify.pipeline.geometry import knn
    from geopurify.stages.distill.inputs import augment

    d = synthetic_scene(4, n=800)
    xyz, normal = augment(d[XYZ], d[NORMAL], np.random.default_rng(0))
    _, before = knn(d[XYZ], d[XYZ], 8)
    _, after = knn(xyz, xyz, 8)
    assert (before[:, 1:4] == after[:, 1:4]).mean() > 0.99  # a similarity transform (float rounding aside)
    assert np.allclose(np.linalg.norm(normal, axis=1), np.linalg.norm(d[NORMAL], axis=1), atol=1e-5)

    from geopurify.stages.distill.infer import student_embeddings
    from geopurify.stages.distill.network import build_student

    torch.manual_seed(0)
    net = build_student({"fused_dim": 32, "in_channels": 38, "width": 8, "blocks": 1, "out_dim": 16,
                         "norm": "batch", "voxel_size": 0.02})
    net.net_cfg = {"voxel_size": 0.02, "fused_dim": 32}
    net.train()  # even a model left in training mode embeds deterministically (eval inside)
    runs = [student_embeddings(net, d[XYZ], d[RGB], d[NORMAL], d[FUSED]) for _ in range(2)]
    assert np.array_equal(runs[0][2], runs[1][2]) and net.training


def test_current_fingerprints_refuse_a_fused_group_made_with_another_config(tmp_path):
    """Real ingest, fuse and teacher stages on one small synthetic scene; then the fuse config
    changes and distill's check, given the current fingerprints, names the stale group."""
    import dataclasses

    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.pipeline.synthetic import generate_scene
    from geopurify.stages.distill.scenes import check_training_scene, current_fingerprints
    from geopurify.workflows.config import load_run_config
    from geopurify.workflows.registry import scene_stage

    generate_scene(tmp_path / "data", "syn", seed=3, num_frames=4)
    cfg = load_run_config(None, [f"store={str(tmp_path / 's.zarr')!r}", "dataset.kind='scannet'",
                                 f"dataset.root={str(tmp_path / 'data')!r}", "teacher.kind='geometric'",
                                 "fuse.source='simulated'"],
                          search_cwd=False)
    ctx = StageContext(cfg.store, cfg)
    for command in ("ingest", "fuse", "teacher"):
        stage = scene_stage(command)
        stage.prepare(ctx, ["syn"])
        outcome = run_scene(stage, ctx, "syn")
        assert outcome.status == DONE, outcome.error + outcome.detail
    store = Store(cfg.store)
    check_training_scene(store, "syn", current_fingerprints(cfg, cfg.store, ["syn"]))  # current: fine

    changed = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, depth_tolerance=0.1))
    with pytest.raises(StoreError, match=r"'syn' has a stale fused group"):
        check_training_scene(store, "syn", current_fingerprints(changed, cfg.store, ["syn"]))
