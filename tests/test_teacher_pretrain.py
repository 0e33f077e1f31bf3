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
from geopurify.pipeline.vocabulary import LABEL, NORMAL, POINTS, RGB, XYZ, scene_group
from geopurify.stages.teacher.augment import AugmentConfig, make_view
from geopurify.stages.teacher.network import load_teacher
from geopurify.stages.teacher.pretrain import pretrain_teacher
from geopurify.stages.teacher.pretrain_files import output_paths
from geopurify.stages.teacher.pretrain_loss import matched_pairs

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


@pytest.mark.slow
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
    done_before = torch.load(state, weights_only=True)["epoch"]
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


@pytest.mark.slow
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


def test_refuses_the_repository_and_the_evaluation_scenes(tmp_path):
    scans = write_scans(tmp_path / "scans", count=2)
    repo = Path(__file__).resolve().parents[1]
    with pytest.raises(ConfigError, match="inside the geopurify repository"):
        pretrain_teacher([scans], repo / "teacher.pt", recipe=tiny_recipe(1), progress=False)
    (scans / "scan1.ply").rename(scans / "room_eval.ply")
    # the configured evaluation scenes (names or globs), not a fixed name, are refused by name
    with pytest.raises(InputError, match=r"room_eval\.ply: scan room_eval is an evaluation scene") as err:
        pretrain_teacher([scans], tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False,
                         evaluation_scenes=("other", "room_*"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "t.pt").exists() and not output_paths(tmp_path / "t.pt")["state"].exists()
    # scene0000_00 is nothing special: without evaluation scenes nothing is refused
    out = pretrain_teacher([scans], tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False,
                           evaluation_scenes=("scene0000_00",))
    assert len(_history(out)) == 2


def test_the_workflow_takes_the_evaluation_scenes_from_the_run_config(tmp_path):
    from geopurify.workflows.config import load_run_config
    from geopurify.workflows.pretrain_teacher import pretrain_cli

    scans = write_scans(tmp_path / "scans", count=2)
    (scans / "scan0.ply").rename(scans / "scene0707_00.ply")
    cfg = load_run_config(None, ["dataset.scenes=['scene07*']"], search_cwd=False)
    with pytest.raises(InputError, match="scan scene0707_00 is an evaluation scene"):
        pretrain_cli(cfg, [str(scans)], tmp_path / "t.pt", epochs=1)


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


@pytest.mark.slow
def test_pretrains_from_a_store_and_picks_its_scenes(tmp_path):
    from geopurify.pipeline.errors import ConfigError
    from geopurify.pipeline.fingerprint import digest
    from geopurify.pipeline.store import Store
    from geopurify.stages.teacher.data import StoreScenes
    from geopurify.workflows.pretrain_teacher import geometry_sources

    store = Store(tmp_path / "s")
    for i, name in enumerate(["room_a", "room_b", "scene0000_00"]):
        xyz, rgb, normal, label = box_room(i, 1500)
        store.write_group(scene_group(name, POINTS),
                          {XYZ: xyz, RGB: rgb, NORMAL: normal, LABEL: label},
                          {"fingerprint": digest(name)})
    picked = geometry_sources([str(tmp_path / "s")], ["room_*"])
    assert isinstance(picked, StoreScenes) and picked.scenes == ["room_a", "room_b"]
    with pytest.raises(ConfigError):
        geometry_sources([str(tmp_path / "s"), str(tmp_path)], None)
    every = geometry_sources([str(tmp_path / "s")], None)
    assert every.scenes == ["room_a", "room_b", "scene0000_00"]
    with pytest.raises(InputError, match=r"s/scenes/scene0000_00: scan scene0000_00 is an evaluation"):
        pretrain_teacher(every, tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False,
                         evaluation_scenes=("scene0000_00",))
    out = pretrain_teacher(picked, tmp_path / "t.pt", recipe=tiny_recipe(1), progress=False,
                           evaluation_scenes=("scene0000_00",))
    assert len(_history(out)) == 2  # one step per scan in the one epoch
    assert torch.load(out, weights_only=True)["made_by"]["scans"] == ["room_a", "room_b"]


def test_a_state_file_holding_pickled_objects_is_refused_in_one_line(tmp_path):
    scans = write_scans(tmp_path / "scans", count=1)
    out = tmp_path / "t.pt"
    torch.save({"identity": "x", "epoch": 1, "trap": _Pickled()}, output_paths(out)["state"])
    with pytest.raises(InputError, match=r"t\.state\.pt: pretraining state holds a pickled Python object") as err:
        pretrain_teacher([scans], out, recipe=tiny_recipe(1), progress=False)
    assert "\n" not in str(err.value)


class _Pickled:
    """Any class: loading it would run code from the file."""
