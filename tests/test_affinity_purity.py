import numpy as np
import pytest

from affinity_purity import affinity_purity, approximation_note, purity_per_anchor


def _brute_force(features, xyz, labels, k, radius, ignore_label=0):
    """Exact definition: the whole ball, ties to the nearer point."""
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
    lab_idx = np.flatnonzero(labels != ignore_label)
    shares = []
    for a in lab_idx:
        d = np.linalg.norm(xyz[lab_idx] - xyz[a], axis=1)
        cand = lab_idx[(d <= radius) & (lab_idx != a)]
        if cand.size == 0:
            continue
        dist = np.linalg.norm(xyz[cand] - xyz[a], axis=1)
        cand = cand[np.argsort(dist, kind="stable")]
        sims = unit[cand] @ unit[a]
        top = cand[np.argsort(-sims, kind="stable")[:k]]
        shares.append(np.mean(labels[top] == labels[a]))
    return float(np.mean(shares))


def _scene(seed=0, n=400):
    rng = np.random.default_rng(seed)
    xyz = rng.random((n, 3)).astype(np.float32) * np.array([2.0, 2.0, 1.0], np.float32)
    labels = np.where(xyz[:, 0] < 1.0, 3, 5).astype(np.int16)
    labels[rng.random(n) < 0.1] = 0
    return rng, xyz, labels


def test_matches_brute_force_when_the_pool_covers_the_ball():
    rng, xyz, labels = _scene()
    feats = rng.normal(size=(len(xyz), 8)).astype(np.float32)
    feats[:, 0] += 1.5 * (labels == 3)  # weakly informative features
    got = affinity_purity(feats, xyz, labels, k=16, radius=0.5, candidates=len(xyz))
    assert got == pytest.approx(_brute_force(feats, xyz, labels, 16, 0.5), abs=1e-6)
    ball = affinity_purity(feats, xyz, labels, k=16, radius=0.5, candidates=len(xyz), pool="ball",
                           max_ball=len(xyz))
    assert ball == pytest.approx(got, abs=1e-6)


def test_exact_pool_is_the_definition_however_full_the_ball():
    rng, xyz, labels = _scene(2, 2500)  # about 300 points per 0.5 m ball: more than 128 candidates
    feats = rng.normal(size=(len(xyz), 8)).astype(np.float32)
    feats[:, 0] += 1.0 * (labels == 3)
    exact = affinity_purity(feats, xyz, labels, k=16, radius=0.5, pool="exact")
    assert exact == pytest.approx(_brute_force(feats, xyz, labels, 16, 0.5), abs=1e-6)
    # the bounded local pool ranks fewer, nearer points: a different number on this scene
    assert affinity_purity(feats, xyz, labels, k=16, radius=0.5) != pytest.approx(exact, abs=1e-3)


def test_label_features_are_pure_and_random_ones_are_not():
    rng, xyz, labels = _scene(1, 1500)
    onehot = np.eye(8, dtype=np.float32)[labels]
    assert affinity_purity(onehot, xyz, labels) == pytest.approx(1.0)
    noise = rng.normal(size=(len(xyz), 8)).astype(np.float32)
    assert affinity_purity(noise, xyz, labels) < 0.95


def test_too_few_neighbours_and_isolated_points():
    xyz = np.array([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0], [5, 5, 5]], np.float32)
    labels = np.array([1, 1, 2, 1], np.int16)
    feats = np.ones((4, 2), np.float32)
    anchors, shares = purity_per_anchor(feats, xyz, labels, k=16, radius=0.5)
    # the isolated point (index 3) has no candidate and is left out; the others use the 2 they have
    assert anchors.tolist() == [0, 1, 2]
    assert shares.tolist() == pytest.approx([0.5, 0.5, 0.0])


def test_ties_go_to_the_nearer_point():
    xyz = np.array([[0, 0, 0], [0.1, 0, 0], [0.3, 0, 0]], np.float32)
    labels = np.array([1, 1, 2], np.int16)
    feats = np.ones((3, 4), np.float32)  # every similarity ties
    _, shares = purity_per_anchor(feats, xyz, labels, k=1, radius=0.5)
    assert shares.tolist() == [1.0, 1.0, 0.0]


def test_ignored_points_are_neither_anchors_nor_candidates():
    rng, xyz, labels = _scene(2)
    feats = rng.normal(size=(len(xyz), 4)).astype(np.float32)
    anchors, _ = purity_per_anchor(feats, xyz, labels)
    assert (labels[anchors] != 0).all()
    kept = labels != 0
    assert affinity_purity(feats, xyz, labels) == pytest.approx(
        affinity_purity(feats[kept], xyz[kept], labels[kept]), abs=1e-6)


def test_sampling_is_seeded():
    rng, xyz, labels = _scene(3, 2000)
    feats = rng.normal(size=(len(xyz), 4)).astype(np.float32)
    a = affinity_purity(feats, xyz, labels, sample=300, seed=7, pool="ball")
    assert a == affinity_purity(feats, xyz, labels, sample=300, seed=7, pool="ball")
    assert len(purity_per_anchor(feats, xyz, labels, sample=300)[0]) == 300


def test_rejects_mismatched_inputs_and_names_the_approximation():
    with pytest.raises(ValueError):
        affinity_purity(np.zeros((3, 2)), np.zeros((4, 3)), np.ones(4))
    assert "128 nearest" in approximation_note()
