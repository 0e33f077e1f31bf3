"""Teacher pretraining: seeded, resumable after SIGKILL to the same loss curve, files only at --out."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.stages.teacher.augment import AugmentConfig, make_view
from geopurify.stages.teacher.network import load_teacher
from geopurify.stages.teacher.pretrain import info_nce, matched_pairs, output_paths, pretrain_teacher

from teacher_fixtures import box_room, tiny_recipe, write_scans

TESTS = Path(__file__).resolve().parent

_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from teacher_fixtures import tiny_recipe
from geopurify.stages.teacher.pretrain import pretrain_teacher
pretrain_teacher([Path({scans!r})], Path({out!r}), recipe=tiny_recipe({epochs}), seed=3, progress=False)
"""


def _history(out: Path) -> list[float]:
    return json.loads(output_paths(out)["loss_json"].read_text())["loss"]


def test_sigkill_then_resume_gives_the_same_loss_curve(tmp_path):
    scans = write_scans(tmp_path / "scans")
    epochs = 4
    whole = pretrain_teacher([scans], tmp_path / "whole" / "t.pt", recipe=tiny_recipe(epochs), seed=3,
                             progress=False)

    out = tmp_path / "killed" / "t.pt"
    state = output_paths(out)["state"]
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(tests=str(TESTS), scans=str(scans),
                                                                   out=str(out), epochs=epochs)])
    try:
        deadline = time.time() + 120
        while not state.exists() and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert state.exists(), "the child never finished an epoch"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()  # killed before the end: no final checkpoint claims to exist
    done_before = torch.load(state, weights_only=False)["epoch"]
    assert 1 <= done_before < epochs

    resumed = pretrain_teacher([scans], out, recipe=tiny_recipe(epochs), seed=3, progress=False)
    a, b = _history(whole), _history(resumed)
    assert len(a) == len(b) == epochs * 3
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    wa, wb = load_teacher(whole).state_dict(), load_teacher(resumed).state_dict()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5)
    # the loss falls, and the run wrote exactly its four files next to --out
    assert np.mean(a[-3:]) < np.mean(a[:3])
    names = sorted(p.name for p in whole.parent.iterdir())
    assert names == ["t.loss.json", "t.loss.png", "t.pt", "t.state.pt"]


def test_a_finished_run_is_not_redone_and_other_recipes_are_refused(tmp_path):
    scans = write_scans(tmp_path / "scans", count=2)
    out = pretrain_teacher([scans], tmp_path / "t.pt", recipe=tiny_recipe(1), seed=0, progress=False)
    stamp = out.stat().st_mtime_ns
    assert pretrain_teacher([scans], out, recipe=tiny_recipe(1), seed=0, progress=False) == out
    assert out.stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="another recipe"):
        pretrain_teacher([scans], out, recipe=tiny_recipe(1), seed=1, progress=False)
    pretrain_teacher([scans], out, recipe=tiny_recipe(1), seed=1, progress=False, resume=False)
    assert out.stat().st_mtime_ns != stamp


def test_refuses_the_repository_and_the_evaluation_scene(tmp_path):
    scans = write_scans(tmp_path / "scans", count=1)
    repo = Path(__file__).resolve().parents[1]
    with pytest.raises(ConfigError, match="inside the geopurify repository"):
        pretrain_teacher([scans], repo / "teacher.pt", recipe=tiny_recipe(1), progress=False)
    (scans / "scan0.ply").rename(scans / "scene0000_00.ply")
    with pytest.raises(InputError, match="no pretraining scans left"):
        pretrain_teacher([scans], tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False)


def test_views_are_seeded_and_matched_pairs_are_the_same_points():
    xyz, rgb, normal, _ = box_room(0)
    cfg = AugmentConfig(crop_size=(1.5, 2.0))
    centre = xyz[0]
    a1 = make_view(xyz, rgb, normal, centre, cfg, np.random.default_rng(5))
    a2 = make_view(xyz, rgb, normal, centre, cfg, np.random.default_rng(5))
    np.testing.assert_array_equal(a1.xyz, a2.xyz)
    b = make_view(xyz, rgb, normal, centre, cfg, np.random.default_rng(6))
    # rotation, mirror and scale keep distances up to scale: normals stay unit (or masked to zero)
    lengths = np.linalg.norm(a1.normal, axis=1)
    assert np.all((np.abs(lengths - 1) < 1e-5) | (lengths == 0))
    vox_a = np.arange(len(a1.index))  # one voxel per point
    vox_b = np.arange(len(b.index))
    ra, rb, points = matched_pairs(a1, b, vox_a, vox_b, 100, np.random.default_rng(0))
    assert len(ra) == 100
    np.testing.assert_array_equal(a1.index[ra], points)
    np.testing.assert_array_equal(b.index[rb], points)


def test_info_nce_is_low_for_matching_embeddings_and_masks_excluded_negatives():
    z = torch.nn.functional.normalize(torch.randn(64, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    matched = info_nce(z, z, 0.1)
    shuffled = info_nce(z, z[torch.randperm(64, generator=torch.Generator().manual_seed(1))], 0.1)
    assert matched < shuffled
    # with every negative excluded only the positive is left: loss 0
    everything = ~torch.eye(64, dtype=torch.bool)
    assert float(info_nce(z, z, 0.1, exclude=everything)) == pytest.approx(0.0, abs=1e-6)


def test_pretrains_from_a_store_and_picks_its_scenes(tmp_path):
    from geopurify.pipeline.errors import ConfigError
    from geopurify.pipeline.fingerprint import digest
    from geopurify.pipeline.store import Store
    from geopurify.stages.teacher.data import StoreScenes
    from geopurify.stages.teacher.pretrain import geometry_sources

    store = Store(tmp_path / "s")
    for i, name in enumerate(["room_a", "room_b", "scene0000_00"]):
        xyz, rgb, normal, label = box_room(i, 1500)
        store.write_group(Store.scene_group_path(name, "points"),
                          {"xyz": xyz, "rgb": rgb, "normal": normal, "label": label},
                          {"fingerprint": digest(name)})
    picked = geometry_sources([str(tmp_path / "s")], ["room_*"])
    assert isinstance(picked, StoreScenes) and picked.scenes == ["room_a", "room_b"]
    with pytest.raises(ConfigError):
        geometry_sources([str(tmp_path / "s"), str(tmp_path)], None)
    every = geometry_sources([str(tmp_path / "s")], None)
    assert every.scenes == ["room_a", "room_b", "scene0000_00"]
    out = pretrain_teacher(every, tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False)
    # the evaluation scene is left out by default: two steps in the one epoch
    assert len(_history(out)) == 2
    assert torch.load(out, weights_only=False)["made_by"]["scans"] == ["room_a", "room_b"]


def test_sinkhorn_spreads_mass_evenly_and_the_optional_losses_train(tmp_path):
    from dataclasses import replace

    from geopurify.stages.teacher.pretrain import sinkhorn

    scores = torch.rand(256, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    scores[:, 0] += 0.5  # cosine-like scores: every point prefers prototype 0 ...
    q = sinkhorn(scores, iterations=10)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(256), rtol=1e-3, atol=1e-3)
    # ... yet each prototype ends up with about an eighth of the mass
    torch.testing.assert_close(q.sum(dim=0) / 256, torch.full((8,), 1 / 8), rtol=0.05, atol=0.01)

    scans = write_scans(tmp_path / "scans", count=2)
    recipe = replace(tiny_recipe(2), point_weight=0.5, negative_exclusion=0.1, cluster_weight=0.5,
                     reconstruct_weight=1.0)
    out = pretrain_teacher([scans], tmp_path / "t.pt", recipe=recipe, progress=False)
    loss = _history(out)
    assert len(loss) == 4 and np.all(np.isfinite(loss))
    state = torch.load(output_paths(out)["state"], weights_only=False)
    assert set(state) >= {"model", "protos", "recon", "optim", "history"}
