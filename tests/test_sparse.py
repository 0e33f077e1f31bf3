"""spconv on CPU against dense torch convolutions on a tiny grid (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geopurify.stages import sparse


def _tiny_grid(seed=0, shape=(6, 5, 7), occupancy=0.3, channels=3):
    rng = np.random.default_rng(seed)
    occupied = rng.random(shape) < occupancy
    coords = np.argwhere(occupied).astype(np.int32)
    feats = torch.from_numpy(rng.normal(size=(len(coords), channels)))
    return coords, feats, shape


def _dense(coords, feats, shape):
    grid = torch.zeros((1, feats.shape[1]) + tuple(shape), dtype=feats.dtype)
    c = torch.as_tensor(coords, dtype=torch.long)
    grid[0, :, c[:, 0], c[:, 1], c[:, 2]] = feats.T
    return grid


def _dense_weight(conv):
    # spconv keeps weights as (out, kx, ky, kz, in)
    return conv.weight.permute(0, 4, 1, 2, 3)


def test_conv_algo_for_picks_native_on_cpu():
    from spconv.core import ConvAlgo

    assert sparse.conv_algo_for(torch.zeros(1)) == ConvAlgo.Native
    assert sparse.conv_algo_for("cpu") == ConvAlgo.Native
    assert sparse.conv_algo_for(torch.device("cuda")) is None


def test_subm_block_equals_dense_conv_at_active_sites():
    coords, feats, shape = _tiny_grid()
    algo = sparse.conv_algo_for(feats)
    block = sparse.SubMConvBlock(3, 4, algo, norm="none", activation=False).double()
    out = block(sparse.sparse_tensor(coords, feats, spatial_shape=shape))
    ref = F.conv3d(_dense(coords, feats, shape), _dense_weight(block.conv), block.conv.bias, padding=1)
    c = torch.as_tensor(coords, dtype=torch.long)
    expected = ref[0, :, c[:, 0], c[:, 1], c[:, 2]].T
    # submanifold: output rows stay on the input voxels, in the input order
    assert torch.equal(out.indices[:, 1:].long(), c)
    assert torch.allclose(out.features, expected, atol=1e-10)


def test_residual_block_equals_dense_reference():
    coords, feats, shape = _tiny_grid(seed=1)
    algo = sparse.conv_algo_for(feats)
    block = sparse.ResidualBlock(3, 5, algo, norm="none").double()
    out = block(sparse.sparse_tensor(coords, feats, spatial_shape=shape))
    dense = _dense(coords, feats, shape)
    mask = (dense.abs().sum(1, keepdim=True) > 0).double()  # submanifold: zero off the active sites
    h = torch.relu(F.conv3d(dense, _dense_weight(block.conv1.conv), block.conv1.conv.bias, padding=1)) * mask
    h = F.conv3d(h, _dense_weight(block.conv2.conv), block.conv2.conv.bias, padding=1) * mask
    skip = F.conv3d(dense, block.shortcut.weight[:, :, None, None, None])
    ref = torch.relu(h + skip)
    c = torch.as_tensor(coords, dtype=torch.long)
    assert torch.allclose(out.features, ref[0, :, c[:, 0], c[:, 1], c[:, 2]].T, atol=1e-10)


def test_down_block_equals_strided_dense_conv():
    coords, feats, shape = _tiny_grid(seed=2, shape=(6, 4, 8))
    algo = sparse.conv_algo_for(feats)
    block = sparse.DownBlock(3, 2, algo, indice_key="d1", norm="none").double()
    out = block(sparse.sparse_tensor(coords, feats, spatial_shape=shape))
    ref = torch.relu(F.conv3d(_dense(coords, feats, shape), _dense_weight(block.conv), block.conv.bias,
                              stride=2))
    oc = out.indices[:, 1:].long()
    # output voxels: exactly the 2x2x2 cells holding at least one input voxel
    assert set(map(tuple, oc.tolist())) == set(map(tuple, (coords // 2).tolist()))
    assert torch.allclose(out.features, ref[0, :, oc[:, 0], oc[:, 1], oc[:, 2]].T, atol=1e-10)


def test_up_block_restores_the_fine_voxels():
    coords, feats, shape = _tiny_grid(seed=3, shape=(6, 4, 8))
    algo = sparse.conv_algo_for(feats)
    down = sparse.DownBlock(3, 4, algo, indice_key="k").double()
    up = sparse.UpBlock(4, 3, algo, indice_key="k").double()
    x = sparse.sparse_tensor(coords, feats, spatial_shape=shape)
    y = up(down(x))
    assert torch.equal(y.indices, x.indices)
    assert y.features.shape == (len(coords), 3)


def test_backward_runs_on_cpu_and_batches_keep_scenes_apart():
    c1, f1, _ = _tiny_grid(seed=4)
    c2, f2, _ = _tiny_grid(seed=5)
    algo = sparse.conv_algo_for(f1)
    block = sparse.SubMConvBlock(3, 4, algo, norm="none", activation=False).double()
    batched = block(sparse.batch_sparse_tensor([(c1, f1), (c2, f2)]))
    alone = block(sparse.sparse_tensor(c2, f2))
    # scene 2 alone equals its rows in the batch: no convolution across scenes
    assert torch.allclose(batched.features[len(c1):], alone.features, atol=1e-10)
    batched.features.sum().backward()
    assert block.conv.weight.grad is not None and torch.isfinite(block.conv.weight.grad).all()


def test_sparse_tensor_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        sparse.sparse_tensor(np.zeros((4, 3), np.int32), torch.zeros(5, 2))
