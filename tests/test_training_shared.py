"""What pretraining and distill share (stages/training), and safe loading of every file a user
hands in: teacher and student checkpoints and training state are read as tensors and plain data
only, and one holding a pickled object is refused in one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.fingerprint import cached_content_hash, file_content_hash
from geopurify.stages.training.augment import random_rotation, random_similarity
from geopurify.stages.training.curve import plot_loss_curve
from geopurify.stages.training.files import atomic_save, load_checkpoint
from geopurify.stages.training.schedule import warmup_cosine
from geopurify.stages.training.threads import torch_threads


class Trap:
    """Any class: unpickling it would let the file choose what code runs."""


def test_warmup_then_cosine_decay():
    f = [warmup_cosine(s, 100, 10, 0.01) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[-1] == pytest.approx(0.01, abs=1e-3)


def test_random_rotation_is_a_small_tilt_of_a_turn_and_seeded():
    r = random_rotation(np.random.default_rng(3), 3.0)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    assert np.degrees(np.arccos(r[2, 2])) <= 3.0 * np.sqrt(2) + 1e-9  # up stays within the tilt
    again, scale = random_similarity(np.random.default_rng(3), 0.9, 1.1, 3.0)
    np.testing.assert_array_equal(again, r)
    assert 0.9 <= scale <= 1.1


def test_atomic_save_round_trips_and_leaves_no_temp_file(tmp_path):
    path = atomic_save({"w": torch.arange(3), "note": "x"}, tmp_path / "a.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
    got = load_checkpoint(path, "test file")
    assert got["note"] == "x" and torch.equal(got["w"], torch.arange(3))


def test_load_checkpoint_refuses_missing_junk_pickled_and_non_dict_files(tmp_path):
    with pytest.raises(InputError, match="test file not found"):
        load_checkpoint(tmp_path / "missing.pt", "test file")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable test file"):
        load_checkpoint(tmp_path / "junk.pt", "test file")
    torch.save({"ok": torch.zeros(1), "trap": Trap()}, tmp_path / "trap.pt")
    with pytest.raises(InputError, match=r"trap\.pt: test file holds a pickled Python object \(.*Trap\)"):
        load_checkpoint(tmp_path / "trap.pt", "test file", "make it again")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="holds a list, not a dict"):
        load_checkpoint(tmp_path / "list.pt", "test file")


def test_a_teacher_checkpoint_holding_a_pickled_object_is_refused_in_one_line(tmp_path):
    from geopurify.stages.teacher.network import NetworkConfig, build_network, load_teacher
    from geopurify.stages.teacher.pretrain_files import save_checkpoint

    model = build_network(NetworkConfig(channels=[8, 16], out_channels=8))
    save_checkpoint(model, tmp_path / "good.pt", {"test": 1})
    load_teacher(tmp_path / "good.pt")  # plain data and tensors: fine
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    payload["made_by"] = Trap()
    torch.save(payload, tmp_path / "teacher.pt")
    with pytest.raises(InputError, match=r"teacher\.pt: teacher checkpoint holds a pickled Python object") as err:
        load_teacher(tmp_path / "teacher.pt")
    assert "\n" not in str(err.value)


def test_a_student_file_holding_a_pickled_object_is_refused_in_one_line(tmp_path):
    from geopurify.stages.distill.network import build_student
    from geopurify.stages.distill.weights import export_student, load_student_file

    net_cfg = {"fused_dim": 4, "in_channels": 10, "width": 8, "blocks": 1, "out_dim": 4, "norm": "batch",
               "voxel_size": 0.02}
    export_student(tmp_path / "good.pt", build_student(net_cfg), {"network": net_cfg, "fingerprint": "f"})
    load_student_file(tmp_path / "good.pt")
    export_student(tmp_path / "student.pt", build_student(net_cfg), {"network": net_cfg, "config": Trap()})
    with pytest.raises(InputError, match=r"student\.pt: student weights file holds a pickled Python object") as err:
        load_student_file(tmp_path / "student.pt")
    assert "\n" not in str(err.value)


def test_a_distill_training_checkpoint_holding_a_pickled_object_is_refused(tmp_path):
    from geopurify.stages.distill import checkpoints

    file = checkpoints.save(tmp_path, 1, {"epoch": 1, "trap": Trap()})
    with pytest.raises(InputError, match=r"epoch_0001\.pt: training checkpoint holds a pickled Python object"):
        checkpoints.load(file)


def test_torch_threads_sets_the_count_for_the_block_and_restores_it():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError):
        with torch_threads(0):
            pass


def test_cached_content_hash_follows_the_file(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"one")
    first = cached_content_hash(f)
    assert first == file_content_hash(f)
    f.write_bytes(b"two!")  # another size: hashed again
    assert cached_content_hash(f) == file_content_hash(f) != first
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a").write_bytes(b"x")
    assert cached_content_hash(folder) == file_content_hash(folder)
    st = os.stat(folder / "a")
    (folder / "a").write_bytes(b"y")  # same size: the new modification time invalidates the cache
    os.utime(folder / "a", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert cached_content_hash(folder) == file_content_hash(folder)


def test_loss_curve_png_is_written_whole(tmp_path):
    out = plot_loss_curve([3.0, 2.5, 2.0, 1.8], [0, 0, 1, 1], tmp_path / "c" / "loss.png", "test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["loss.png"]
