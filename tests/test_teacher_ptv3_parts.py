"""Parts of the ptv3 encoder on hand-made inputs: serialisation codes, patch padding, pooling order,
the positional conv's bias in eval mode, the input transform, and order-independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.vocabulary import FEAT, POINTS, scene_group
from geopurify.stages import sparse
from geopurify.stages.teacher.ptv3 import build, point_features
from geopurify.stages.teacher.ptv3.blocks import positional_conv
from geopurify.stages.teacher.ptv3.features import run_batch
from geopurify.stages.teacher.ptv3.inputs import scan_inputs
from geopurify.stages.teacher.ptv3.level import make_level, padded_patches
from geopurify.stages.teacher.ptv3.pooling import GridPooling
from geopurify.stages.teacher.ptv3.serialization import ORDERS, curve_depth, order_code, serialize

from teacher_fixtures import box_room
from teacher_ptv3_fixtures import TINY_CONFIG, TINY_DIM, tiny_state_dict


def _cube(depth: int) -> torch.Tensor:
    side = torch.arange(1 << depth)
    return torch.cartesian_prod(side, side, side)


def test_z_order_interleaves_x_y_z_and_puts_the_batch_above():
    cells = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 0, 0], [0, 0, 2]])
    zero = torch.zeros(5, dtype=torch.long)
    assert order_code(cells, zero, "z", 2).tolist() == [4, 2, 1, 36, 8]
    assert order_code(cells, zero, "z-trans", 2).tolist() == [2, 4, 1, 18, 8]
    one = torch.ones(5, dtype=torch.long)
    assert order_code(cells, one, "z", 2).tolist() == [64 + c for c in [4, 2, 1, 36, 8]]
    # the reference's depth: the bit length of (largest coordinate + 1), one bit more at 2**k - 1
    assert curve_depth(torch.tensor([[2, 0, 0]])) == 2 and curve_depth(cells) == 3


@pytest.mark.parametrize("order", ["hilbert", "hilbert-trans"])
def test_hilbert_visits_every_cell_once_in_unit_steps(order):
    depth = 3
    cells = _cube(depth)
    code = order_code(cells, torch.zeros(len(cells), dtype=torch.long), order, depth)
    assert sorted(code.tolist()) == list(range(len(cells)))
    path = cells[torch.argsort(code)]
    assert torch.all((path[1:] - path[:-1]).abs().sum(dim=1) == 1)
    assert path[0].tolist() == [0, 0, 0]


def test_serialize_sorts_each_cloud_contiguously_and_inverts():
    cells = torch.randint(0, 40, (300, 3), generator=torch.Generator().manual_seed(0))
    batch = torch.repeat_interleave(torch.arange(2), torch.tensor([120, 180]))
    sorted_points, places = serialize(cells, batch, ORDERS, 2)
    assert sorted_points.shape == places.shape == (4, 300)
    for k in range(4):
        assert torch.equal(batch[sorted_points[k]], torch.sort(batch).values)
        assert torch.equal(sorted_points[k][places[k]], torch.arange(300))


def test_padding_repeats_the_previous_patch_of_each_cloud():
    take, slot = padded_patches([5, 7], 3)
    assert take.tolist() == [0, 1, 2, 3, 4, 2, 5, 6, 7, 8, 9, 10, 11, 9, 10]
    assert slot.tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]
    take, slot = padded_patches([6], 3)
    assert take.tolist() == slot.tolist() == list(range(6))


def test_pooling_lists_cells_by_cloud_then_x_y_z_and_takes_the_max():
    grid = torch.tensor([[3, 0, 0], [2, 1, 1], [0, 5, 0], [1, 4, 1], [0, 0, 0]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    feat = torch.arange(5, dtype=torch.float32)[:, None].repeat(1, 4)
    coord = grid.float() * 0.02
    level = make_level(feat, coord, grid, batch, [3, 2], ("z",))
    pool = GridPooling(4, 4, 2)
    with torch.no_grad():
        pool.proj.weight.copy_(torch.eye(4))
        pool.proj.bias.zero_()
    coarse, inverse = pool(level, ("z",))
    # cells (cloud, x, y, z): (0,1,0,0) holds points 0, 1; (0,0,2,0) point 2; (1,0,2,0) point 3;
    # (1,0,0,0) point 4
    assert coarse.grid_coord.tolist() == [[0, 2, 0], [1, 0, 0], [0, 0, 0], [0, 2, 0]]
    assert coarse.batch.tolist() == [0, 0, 1, 1] and coarse.counts == [2, 2]
    assert inverse.tolist() == [1, 1, 0, 3, 2]
    assert torch.allclose(coarse.coord[1], (coord[0] + coord[1]) / 2)
    normed = torch.nn.functional.gelu(pool.norm(torch.tensor([[1.0, 1, 1, 1]])))  # max of rows 0, 1
    assert torch.allclose(coarse.feat[1], normed[0])


def test_positional_conv_adds_its_bias_in_eval_mode_as_spconv_does_in_train_mode():
    sp = sparse.spconv()
    algo = sparse.conv_algo_for("cpu")
    cells = torch.unique(torch.randint(0, 12, (400, 3), generator=torch.Generator().manual_seed(1)), dim=0)
    feat = torch.randn(len(cells), 6, generator=torch.Generator().manual_seed(2))
    ours = positional_conv(6, "k", algo).eval()
    theirs = sp.SubMConv3d(6, 6, 3, bias=True, indice_key="k", algo=algo).train()
    with torch.no_grad():
        torch.nn.init.normal_(ours.bias)
        theirs.load_state_dict(ours.state_dict())
        a = ours(sparse.sparse_tensor(cells, feat)).features
        b = theirs(sparse.sparse_tensor(cells, feat)).features
    assert torch.allclose(a, b, atol=1e-6) and not torch.allclose(a, a - ours.bias)


def _tiny_model():
    model = build(TINY_CONFIG)
    model.load_state_dict(tiny_state_dict(5))
    return model


def test_features_do_not_depend_on_the_order_of_the_points():
    model = _tiny_model()
    xyz, rgb, normal, _ = box_room(3, 4000)
    scan = scan_inputs(xyz, rgb, normal, "room")
    inputs = {FEAT: scan.feat, "coord": scan.coord, "grid_coord": scan.grid_coord,
              "offset": [len(scan.feat)]}
    base = run_batch(model, inputs).levels[0].feat
    perm = np.random.default_rng(0).permutation(len(scan.feat))
    shuffled = {k: (v[perm] if k != "offset" else v) for k, v in inputs.items()}
    again = run_batch(model, shuffled).levels[0].feat
    assert torch.allclose(base[perm], again, atol=1e-5)


def test_input_transform_is_the_published_one_made_deterministic():
    xyz = np.array([[1.0, 2.0, 0.5], [1.005, 2.005, 0.505], [3.0, 4.0, 1.5]], np.float32)
    rgb = np.array([[255, 0, 51], [0, 0, 0], [10, 20, 30]], np.uint8)
    normal = np.array([[0, 0, 2.0], [1, 0, 0], [0, 1, 0]], np.float32)
    scan = scan_inputs(xyz, rgb, normal, "s")
    # shifted to the box centre in x, y and the minimum in z; points 0 and 1 share a 2 cm cell
    assert np.allclose(scan.coord, [[-1, -1, 0], [1, 1, 1]])
    assert scan.cell_of_point.tolist() == [0, 0, 1]
    assert np.allclose(scan.feat[0], [-1, -1, 0, 1.0, 0.0, 0.2, 0, 0, 1])
    assert scan.grid_coord.tolist() == [[0, 0, 0], [100, 100, 50]]
    for bad, words in ((None, "no normals"), (np.zeros((3, 3), np.float32), "3 of 3 normals are zero")):
        with pytest.raises(InputError, match=words) as info:
            scan_inputs(xyz, rgb, bad, scene_group("s", POINTS))
        assert str(info.value).startswith("scenes/s/points: ") and "\n" not in str(info.value)


def test_point_features_reach_every_point_through_its_cell():
    model = _tiny_model()
    xyz, rgb, normal, _ = box_room(4, 3000)
    xyz = np.concatenate([xyz, xyz[:5] + 0.001])  # five more points, each in a cell already taken
    rgb, normal = np.concatenate([rgb, rgb[:5]]), np.concatenate([normal, normal[:5]])
    feat = point_features(model, xyz, rgb, normal, 2)
    assert feat.shape == (len(xyz), TINY_DIM) and feat.dtype == np.float32 and np.isfinite(feat).all()
    cell = scan_inputs(xyz, rgb, normal, "x").cell_of_point
    cells, first = np.unique(cell, return_index=True)
    assert len(cells) < len(xyz) and np.array_equal(feat, feat[first][cell])  # one row per cell
    assert len(np.unique(feat, axis=0)) == len(cells)
    assert point_features(model, xyz, rgb, normal, 0).shape == (len(xyz), 16)
    with pytest.raises(ConfigError, match="teacher.ptv3_levels = 3"):
        point_features(model, xyz, rgb, normal, 3)
