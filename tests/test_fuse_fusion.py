"""Both fusion modes against hand-computed values, and the unseen-point fill (design.md section 3.3-3.4)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError
from geopurify.stages.fuse.fusion import ConsensusFusion, MeanFusion, fill_unseen, make_fusion, seen_counts


def const_map(vec, h=1, w=1) -> np.ndarray:
    """A feature map whose every cell holds ``vec``: bilinear sampling returns ``vec`` anywhere."""
    return np.broadcast_to(np.asarray(vec, dtype=np.float32), (h, w, len(vec))).copy()


def add(fuser, idx, vec):
    idx = np.asarray(idx, dtype=np.int64)
    zeros = np.zeros(len(idx), dtype=np.float32)
    fuser.add_view(idx, const_map(vec), zeros, zeros)


TEXT = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)


def test_mean_averages_the_visible_views():
    f = MeanFusion(3, 2)
    add(f, [0, 1], [1.0, 0.0])
    add(f, [0], [0.0, 1.0])
    add(f, [], [5.0, 5.0])  # a view that sees nothing changes nothing
    feat, count = f.finish()
    np.testing.assert_allclose(feat, [[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]])
    assert count.tolist() == [2, 1, 0]


def test_consensus_matches_hand_computed_values(tmp_path):
    f = ConsensusFusion(3, 2, TEXT, logit_scale=10.0, topk=2, cache_dir=tmp_path)
    # point 0 in three views: cosines (1, 0), (0.6, 0.8), (0, 1) -> logits x10
    add(f, [0, 1], [1.0, 0.0])
    add(f, [0], [0.6, 0.8])
    add(f, [0, 2], [0.0, 2.0])
    feat, count = f.finish()
    f.close()
    # point 0: summed logits (16, 18) -> c* = 1; its c* logits 0, 8, 10 -> keep views 3 (10), 2 (8)
    w3 = math.exp(10) / (math.exp(10) + math.exp(8))
    w2 = 1.0 - w3
    expected0 = w3 * np.array([0.0, 2.0]) + w2 * np.array([0.6, 0.8])
    np.testing.assert_allclose(feat[0], expected0, rtol=1e-5)
    np.testing.assert_allclose(feat[1], [1.0, 0.0], rtol=1e-6)  # one view: weight 1
    np.testing.assert_allclose(feat[2], [0.0, 2.0], rtol=1e-6)  # raw feature, not normalised
    assert count.tolist() == [3, 1, 1]


def test_consensus_class_comes_from_the_mean_not_the_best_view(tmp_path):
    # c* is the argmax of the summed logits; top-1 then keeps the view with the highest c* logit,
    # which need not be the view with the highest logit overall
    f = ConsensusFusion(1, 2, TEXT, logit_scale=10.0, topk=1, cache_dir=tmp_path)
    add(f, [0], [1.0, 0.0])   # logits (10, 0)
    add(f, [0], [0.6, 0.8])   # (6, 8)
    add(f, [0], [0.5, 0.866])  # (5, 8.66)
    feat, _ = f.finish()
    f.close()
    # sums (21, 16.66) -> c* = 0 -> best class-0 logit is view A
    np.testing.assert_allclose(feat[0], [1.0, 0.0], rtol=1e-6)

    g = ConsensusFusion(1, 2, TEXT, logit_scale=10.0, topk=1, cache_dir=tmp_path)
    add(g, [0], [0.8, 0.6])   # (8, 6)
    add(g, [0], [0.0, 1.0])   # (0, 10)
    add(g, [0], [0.6, 0.8])   # (6, 8)
    feat, _ = g.finish()
    g.close()
    # sums (14, 24) -> c* = 1 -> view 2 (class-1 logit 10), although view 1 prefers class 0
    np.testing.assert_allclose(feat[0], [0.0, 1.0], rtol=1e-6)


def test_consensus_without_scale_and_with_all_views_is_the_mean(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 50, 8
    text = rng.standard_normal((5, d)).astype(np.float32)
    mean = MeanFusion(n, d)
    cons = ConsensusFusion(n, d, text, logit_scale=0.0, topk=100, cache_dir=tmp_path)
    for _ in range(6):
        idx = np.sort(rng.choice(n, 30, replace=False))
        fmap = rng.standard_normal((4, 5, d)).astype(np.float32)
        row = rng.uniform(0, 3, len(idx)).astype(np.float32)
        col = rng.uniform(0, 4, len(idx)).astype(np.float32)
        mean.add_view(idx, fmap, row, col)
        cons.add_view(idx, fmap, row, col)
    a, ca = mean.finish()
    b, cb = cons.finish()
    cons.close()
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert ca.tolist() == cb.tolist()


def test_consensus_reads_back_the_map_of_each_chosen_view(tmp_path):
    # maps with distinct values per cell: pass 2 must sample the right cached map at the right place
    f = ConsensusFusion(2, 2, TEXT, logit_scale=10.0, topk=1, cache_dir=tmp_path)
    m1 = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)  # (1, 2, 2)
    m2 = np.array([[[0.0, 3.0], [3.0, 0.0]]], dtype=np.float32)
    z = np.zeros(2, np.float32)
    f.add_view(np.array([0, 1]), m1, z, np.array([0.0, 1.0], np.float32))  # p0 (1,0), p1 (0,1)
    f.add_view(np.array([0, 1]), m2, z, np.array([1.0, 0.0], np.float32))  # p0 (3,0), p1 (0,3)
    feat, _ = f.finish()
    f.close()
    # equal cosines per point: the tie goes to the earlier view
    np.testing.assert_allclose(feat, [[1.0, 0.0], [0.0, 1.0]])


def test_consensus_cache_is_removed(tmp_path):
    f = ConsensusFusion(2, 2, TEXT, logit_scale=10.0, topk=3, cache_dir=tmp_path)
    add(f, [0], [1.0, 0.0])
    assert len(list(Path(tmp_path).iterdir())) == 1
    f.finish()
    f.close()
    assert list(Path(tmp_path).iterdir()) == []


def test_fill_unseen_copies_the_nearest_seen_point():
    feat = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    count = np.array([2, 0, 1, 0])
    xyz = np.array([[0, 0, 0], [0.1, 0, 0], [5, 0, 0], [4.0, 0, 0]], dtype=np.float32)
    assert fill_unseen(feat, count, xyz) == 2
    np.testing.assert_allclose(feat, [[1, 0], [1, 0], [0, 1], [0, 1]])
    assert seen_counts(np.array([0, 3, 70000])).tolist() == [0, 3, 65535]


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="fuse.mode"):
        make_fusion("median", 3, 2, TEXT, 100.0, 3)


def test_pair_logits_equal_sampling_then_cosine():
    from geopurify.stages.fuse.fusion import pair_logits
    from geopurify.stages.fuse.projection import bilinear_sample

    rng = np.random.default_rng(3)
    for h, w in [(5, 7), (1, 6), (4, 1), (1, 1)]:
        fmap = rng.standard_normal((h, w, 16)).astype(np.float32)
        text = rng.standard_normal((6, 16)).astype(np.float32)
        text /= np.linalg.norm(text, axis=1, keepdims=True)
        # interior, exact cell centres, edges and beyond
        row = np.r_[rng.uniform(-1, h, 200), np.arange(h), [h - 1, -5]].astype(np.float32)
        col = np.r_[rng.uniform(-1, w, 200), np.zeros(h), [w - 1, w + 3]].astype(np.float32)
        f = bilinear_sample(fmap, row, col)
        direct = 7.0 * (f / np.linalg.norm(f, axis=1, keepdims=True)) @ text.T
        np.testing.assert_allclose(pair_logits(fmap, row, col, text.T, 7.0), direct, atol=2e-5)
