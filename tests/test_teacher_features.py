"""Teacher features: deterministic ssl inference, geometric descriptors, raw baseline."""

import numpy as np
import pytest
import torch

from geopurify.pipeline.errors import InputError
from affinity_purity import affinity_purity
from geopurify.stages.teacher.geometric import geometric_features, raw_features, srgb_to_lab
from geopurify.stages.teacher.network import NetworkConfig, build_network, embed_points, load_teacher
from geopurify.stages.teacher.pretrain_files import save_checkpoint

from teacher_fixtures import box_room


def _tiny_checkpoint(path, seed=0):
    torch.manual_seed(seed)
    model = build_network(NetworkConfig(channels=[8, 16, 16], out_channels=8))
    save_checkpoint(model, path, {"test": seed})
    return path


def test_ssl_features_are_deterministic_and_unit_length(tmp_path):
    xyz, rgb, normal, _ = box_room(1)
    path = _tiny_checkpoint(tmp_path / "t.pt")
    a = embed_points(load_teacher(path), xyz, rgb, normal)
    b = embed_points(load_teacher(path), xyz, rgb, normal)
    c = embed_points(load_teacher(path), xyz, rgb, normal)
    assert a.shape == (len(xyz), 8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_points_of_one_voxel_share_the_feature(tmp_path):
    xyz, rgb, normal, _ = box_room(2)
    model = load_teacher(_tiny_checkpoint(tmp_path / "t.pt"))
    twin = np.vstack([xyz, xyz[:10] + 1e-4])  # 0.1 mm away: the same 2 cm voxel (almost surely)
    feats = embed_points(model, twin, np.vstack([rgb, rgb[:10]]), np.vstack([normal, normal[:10]]))
    same_voxel = np.all(np.floor(twin[:10] / 0.02) == np.floor(twin[-10:] / 0.02), axis=1)
    np.testing.assert_array_equal(feats[:10][same_voxel], feats[-10:][same_voxel])


def test_load_teacher_rejects_other_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_teacher(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable"):
        load_teacher(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a geopurify teacher"):
        load_teacher(tmp_path / "other.pt")


def test_lab_of_known_colours():
    lab = srgb_to_lab(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(lab[1], [53.24, 80.09, 67.20], atol=0.1)
    np.testing.assert_allclose(lab[2], [0.0, 0.0, 0.0], atol=1e-6)


@pytest.mark.slow
def test_geometric_features_are_deterministic_unit_and_follow_labels():
    xyz, rgb, normal, label = box_room(3, n=4000)
    a = geometric_features(xyz, rgb, normal)
    np.testing.assert_array_equal(a, geometric_features(xyz, rgb, normal))
    assert a.shape == (len(xyz), 44) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # the box top and the floor differ in colour and height: their descriptors differ far more
    # than two points of the floor do
    floor, top = np.flatnonzero(label == 1), np.flatnonzero(label == 3)
    assert float(a[floor[0]] @ a[floor[1]]) > float(a[floor[0]] @ a[top[0]]) + 0.2
    assert affinity_purity(a, xyz, label, pool="ball") > affinity_purity(np.ones((len(xyz), 1)), xyz,
                                                                        label, pool="ball")


def test_raw_features_are_standardised_blocks():
    xyz, rgb, normal, _ = box_room(4)
    f = raw_features(xyz, rgb, normal)
    assert f.shape == (len(xyz), 9)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)


def test_ssl_position_block_makes_nearer_points_more_similar():
    from geopurify.stages.teacher.blocks import standardise
    from geopurify.stages.teacher.stage import ssl_features

    rng = np.random.default_rng(0)
    xyz = rng.uniform(0, 4, (500, 3)).astype(np.float32)
    embedding = np.tile(np.eye(8, dtype=np.float32)[:1], (500, 1))
    embedding[250:] = np.eye(8, dtype=np.float32)[1]  # two surfaces, told apart by the embedding
    assert ssl_features(embedding, xyz, 0.0) is embedding  # weight 0: the embedding, untouched
    f = ssl_features(embedding, xyz, 1.5)
    assert f.shape == (500, 11)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    # equal weights of standardised blocks: the position part holds 1.5 / (1.5 + 1) of the mass
    np.testing.assert_allclose((f[:, :3] ** 2).sum(1).mean() / (f ** 2).sum(1).mean(),
                               np.mean(1.5 ** 2 * (standardise(xyz) ** 2).sum(1)
                                       / (1.5 ** 2 * (standardise(xyz) ** 2).sum(1)
                                          + (standardise(embedding) ** 2).sum(1))), rtol=1e-4)
    # same surface: the nearer point is the more similar one; across surfaces the embedding still counts
    sims = f[0] @ f[1:250].T
    dist = np.linalg.norm(xyz[1:250] - xyz[0], axis=1)
    assert np.corrcoef(sims, dist)[0, 1] < -0.9
    nearest_other = 250 + np.argmin(np.linalg.norm(xyz[250:] - xyz[0], axis=1))
    same_at_that_distance = 1 + np.argmin(np.abs(dist - np.linalg.norm(xyz[nearest_other] - xyz[0])))
    assert f[0] @ f[same_at_that_distance] > f[0] @ f[nearest_other]
