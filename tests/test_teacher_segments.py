"""Over-segmentation (the pretraining's grouping signal) and the point-to-segment loss."""

import numpy as np
import torch

from geopurify.stages.teacher.pretrain_loss import segment_info_nce, segment_neighbours
from geopurify.stages.teacher.segments import segment_scan

from teacher_fixtures import box_room


def test_segments_follow_surfaces_and_do_not_cross_them():
    xyz, rgb, normal, label = box_room(0, n=4000)
    seg = segment_scan(xyz, rgb, normal, min_size=30)
    assert seg.shape == label.shape and seg.min() == 0
    # four surfaces (floor, two walls, box top), fragmented by colour noise: each segment within one label
    assert 4 <= seg.max() + 1 <= 80
    majority = np.array([np.bincount(label[seg == s]).argmax() for s in range(seg.max() + 1)])
    assert np.mean(majority[seg] == label) > 0.98  # only stray points at the corners cross
    np.testing.assert_array_equal(seg, segment_scan(xyz, rgb, normal, min_size=30))


def test_segment_loss_prefers_embeddings_that_follow_segments():
    rng = np.random.default_rng(0)
    voxel_segment = torch.from_numpy(rng.integers(0, 5, 200))
    point_segment = voxel_segment[:50]
    proto = torch.nn.functional.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    following = proto[voxel_segment]
    noise = torch.nn.functional.normalize(torch.randn(200, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    good = segment_info_nce(following[:50], following, voxel_segment, point_segment, 0.1)
    bad = segment_info_nce(noise[:50], noise, voxel_segment, point_segment, 0.1)
    assert float(good) < float(bad)
    # a point whose segment the other view lacks is left out (here: all of them -> zero loss)
    assert float(segment_info_nce(noise[:3], noise, voxel_segment, torch.tensor([9, 9, 9]), 0.1)) == 0.0


def test_segment_neighbours_are_boxes_within_the_radius():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [1.3, 0, 0], [2, 0, 0], [5, 5, 0], [5, 6, 0]], np.float32)
    segment = np.array([0, 0, 1, 1, 2, 2])
    near = segment_neighbours(xyz, segment, radius=0.5)
    np.testing.assert_array_equal(near, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert segment_neighbours(xyz, segment, radius=10.0).all()


def test_segment_neighbours_measure_the_gap_between_boxes_diagonally():
    # 0.4 m apart along x and along y: each axis alone is within 0.5 m, the gap (0.57 m) is not
    xyz = np.array([[0, 0, 0], [1, 1, 0], [1.4, 1.4, 0], [2, 2, 0]], np.float32)
    segment = np.array([0, 0, 1, 1])
    assert not segment_neighbours(xyz, segment, radius=0.5)[0, 1]
    assert segment_neighbours(xyz, segment, radius=0.6)[0, 1]


def test_local_negatives_leave_far_segments_out_of_the_loss():
    rng = np.random.default_rng(2)
    voxel_segment = torch.from_numpy(rng.integers(0, 4, 120))
    point_segment = voxel_segment[:40]
    z = torch.nn.functional.normalize(torch.randn(120, 8, generator=torch.Generator().manual_seed(3)), dim=1)
    near = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    local = segment_info_nce(z[:40], z, voxel_segment, point_segment, 0.1, near)
    # the same loss by hand: each point against the two segments of its own pair only
    protos = torch.stack([torch.nn.functional.normalize(z[voxel_segment == s].sum(0), dim=0) for s in range(4)])
    logits = z[:40] @ protos.T / 0.1
    pair = (point_segment // 2) * 2
    kept = torch.stack([logits[torch.arange(40), pair], logits[torch.arange(40), pair + 1]], dim=1)
    expected = torch.nn.functional.cross_entropy(kept, point_segment - pair)
    torch.testing.assert_close(local, expected)
    assert not torch.isclose(local, segment_info_nce(z[:40], z, voxel_segment, point_segment, 0.1))
