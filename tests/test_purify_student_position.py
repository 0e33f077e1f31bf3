"""The student affinity's optional position kernel (purify.student_position_scale)."""

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError
from geopurify.stages.purify.config import PurifyConfig
from geopurify.stages.purify.graph import affinity_weights, nearest_voxels
from geopurify.stages.purify.stage import check_config
from geopurify.stages.purify.student import with_position


def _scene(seed=0, voxels=60):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0, 1, (voxels, 3))
    z = rng.normal(size=(voxels, 8))
    return xyz, z / np.linalg.norm(z, axis=1, keepdims=True), np.arange(voxels)


def test_position_kernel_adds_the_gaussian_of_distance_to_the_logit():
    xyz, z, p2v = _scene()
    cfg = PurifyConfig(temperature=0.05, student_position_scale=0.3)
    nbrs = nearest_voxels(xyz, 10)
    got = affinity_weights(with_position(z, xyz, p2v, cfg), nbrs, cfg.temperature)
    logits = np.einsum("ve,vke->vk", z, z[nbrs]) / 0.05
    logits -= ((xyz[:, None] - xyz[nbrs]) ** 2).sum(-1) / (2 * 0.3 ** 2)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, want / want.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-9)


def test_position_kernel_off_by_default_leaves_embeddings_alone():
    xyz, z, p2v = _scene(1)
    assert with_position(z, xyz, p2v, PurifyConfig()) is z


def test_negative_position_scale_is_refused():
    with pytest.raises(ConfigError, match="student_position_scale"):
        check_config(PurifyConfig(student_position_scale=-1.0))
