"""The distill loss against a hand computation, and the mining against hand-picked answers."""

import math

import numpy as np
import pytest
import torch

from geopurify.stages.distill.loss import distill_loss, info_nce
from geopurify.pipeline.rows import unit_rows_tensor as unit_rows
from geopurify.stages.distill.mining import Mined, anchor_count, mine, spatial_neighbours


def test_info_nce_equals_hand_computation():
    za = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    zp = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    zn = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]], dtype=torch.float64)
    t = 0.07
    # -log( e^{0.6/t} / (e^{0.6/t} + e^{0/t} + e^{-1/t}) )
    expected = -math.log(math.exp(0.6 / t) / (math.exp(0.6 / t) + math.exp(0.0) + math.exp(-1.0 / t)))
    assert info_nce(za, zp, zn, t).item() == pytest.approx(expected, rel=1e-9)
    # float32 as in training: the same up to rounding of a small number
    assert info_nce(za.float(), zp.float(), zn.float(), t).item() == pytest.approx(expected, abs=1e-6)


def test_distill_loss_maps_points_to_voxels_and_averages_anchors():
    # three voxels; points 0,1 -> voxel 0, point 2 -> voxel 1, point 3 -> voxel 2
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    p2v = torch.tensor([0, 0, 1, 2])
    mined = Mined(anchors=torch.tensor([0, 2]), positives=torch.tensor([1, 3]),
                  negatives=torch.tensor([[3], [1]]), positive_similarity=torch.zeros(2))
    t = 0.5
    # anchor 0 (voxel 0): positive point 1 is in its own voxel (cos 1), negative point 3 (cos -1)
    l0 = -math.log(math.exp(1 / t) / (math.exp(1 / t) + math.exp(-1 / t)))
    # anchor 2 (voxel 1): positive point 3 (cos 0), negative point 1 (voxel 0, cos 0)
    l1 = -math.log(0.5)
    assert distill_loss(z, p2v, mined, t).item() == pytest.approx((l0 + l1) / 2, rel=1e-6)


def _line_scene():
    """Points 0..8 on the x axis, 1 m apart; 2D teacher features at the given angles."""
    angles = np.radians([0, 10, 170, 30, 150, 60, 120, 90, 179])
    teacher = np.c_[np.cos(angles), np.sin(angles)].astype(np.float32)
    xyz = np.c_[np.arange(9.0), np.zeros(9), np.zeros(9)].astype(np.float32)
    return xyz, unit_rows(teacher)


def test_mining_picks_the_documented_points():
    xyz, teacher = _line_scene()
    m = mine(teacher, xyz, torch.tensor([0]), scene_negatives=2, local_negatives=2, neighbours=4)
    assert m.positives.tolist() == [1]  # 10 deg: the most similar other point
    # scene negatives: least similar first (179, 170 deg); then local: the 4 nearest are 1,2,3,4,
    # of which 170 and 150 deg are least similar
    assert m.negatives.tolist() == [[8, 2, 2, 4]]
    assert m.positive_similarity.item() == pytest.approx(math.cos(math.radians(10)), abs=1e-6)

    # anchor 5 (60 deg) with point 7 given exactly point 3's feature: an exact tie goes to the lower
    # index; its four nearest points are 3, 4, 6, 7, of which 4 (150 deg) is the least similar
    teacher = teacher.clone()
    teacher[7] = teacher[3]
    m = mine(teacher, xyz, torch.tensor([5]), scene_negatives=1, local_negatives=1, neighbours=4)
    assert m.positives.tolist() == [3]
    assert m.negatives.tolist() == [[8, 4]]


def test_outside_voxel_positive_skips_the_anchors_voxel():
    xyz, teacher = _line_scene()
    p2v = np.array([0, 0, 1, 2, 3, 4, 5, 6, 7])  # points 0 and 1 share a voxel
    paper = mine(teacher, xyz, torch.tensor([0, 1]), scene_negatives=1, local_negatives=1,
                 neighbours=3, point_to_voxel=p2v, positive="paper")
    outside = mine(teacher, xyz, torch.tensor([0, 1]), scene_negatives=1, local_negatives=1,
                   neighbours=3, point_to_voxel=p2v, positive="outside-voxel")
    assert paper.positives.tolist() == [1, 0]
    assert outside.positives.tolist() == [3, 3]  # 30 deg is the nearest angle outside voxel 0
    assert torch.equal(paper.negatives, outside.negatives)


def test_outside_voxel_falls_back_when_one_voxel_holds_everything():
    xyz, teacher = _line_scene()
    m = mine(teacher, xyz, torch.tensor([0]), scene_negatives=1, local_negatives=1, neighbours=3,
             point_to_voxel=np.zeros(9, np.int64), positive="outside-voxel")
    assert m.positives.tolist() == [1]


def test_chunked_mining_equals_one_block():
    rng = np.random.default_rng(0)
    xyz = rng.random((500, 3)).astype(np.float32)
    teacher = unit_rows(rng.normal(size=(500, 6)).astype(np.float32))
    p2v = np.floor(xyz / 0.2).astype(np.int64) @ np.array([100, 10, 1])
    anchors = torch.randperm(500, generator=torch.Generator().manual_seed(0))[:160]
    for positive in ("paper", "outside-voxel"):
        one = mine(teacher, xyz, anchors, point_to_voxel=p2v, positive=positive, chunk=10_000)
        many = mine(teacher, xyz, anchors, point_to_voxel=p2v, positive=positive, chunk=7)
        assert torch.equal(one.positives, many.positives)
        assert torch.equal(one.negatives, many.negatives)
        assert one.negatives.shape == (160, 48 + 15)
        # no anchor is its own positive or negative
        assert not (one.positives == anchors).any()
        assert not (one.negatives == anchors[:, None]).any()


def test_spatial_neighbours_exclude_self_even_with_duplicate_points():
    xyz = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [2, 0, 0]], np.float32)
    nb = spatial_neighbours(xyz, np.array([0, 1]), 2)
    assert nb.tolist() == [[1, 2], [0, 2]]


def test_anchor_count_is_min_of_cap_and_third():
    assert anchor_count(30_000, 4096, 1 / 3) == 4096
    assert anchor_count(3000, 4096, 1 / 3) == 1000
    assert anchor_count(2, 4096, 1 / 3) == 1
