"""Projection and visibility on a tiny hand-made scene (design.md section 3.1-3.2)."""

from __future__ import annotations

import numpy as np
import pytest

from geopurify.stages.fuse.projection import (bilinear_sample, feature_positions, frustum_points, project,
                                              to_camera, visible_points)

K = np.array([[100.0, 0, 50.0], [0, 100.0, 50.0], [0, 0, 1]])  # a 100 x 100 image


def depth_image() -> np.ndarray:
    """A wall at z = 2 m, an occluder at z = 1 m around the centre pixel, a hole with no reading."""
    depth = np.full((100, 100), 2.0, dtype=np.float32)
    depth[45:56, 45:56] = 1.0
    depth[20:25, 20:25] = 0.0
    return depth


def world(points_cam: list, pose: np.ndarray) -> np.ndarray:
    """Camera-frame points -> world points under camera-to-world ``pose``."""
    p = np.asarray(points_cam, dtype=np.float64)
    return (p @ pose[:3, :3].T + pose[:3, 3]).astype(np.float32)


def random_pose(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    pose = np.eye(4)
    pose[:3, :3] = q * np.sign(np.linalg.det(q))
    pose[:3, 3] = rng.uniform(-3, 3, 3)
    return pose


def test_to_camera_inverts_the_pose():
    pose = random_pose(1)
    cam = np.array([[0.1, -0.2, 2.0], [1.0, 0.5, 3.0]])
    np.testing.assert_allclose(to_camera(world(cam, pose), pose), cam, atol=1e-5)


@pytest.fixture
def scene_points():
    pose = random_pose(2)
    cam = {
        "hidden": [0.0, 0.0, 2.0],            # pixel (50, 50): behind the occluder at 1 m
        "occluder": [0.0, 0.0, 1.02],         # on the occluder surface
        "wall": [0.5, 0.0, 2.0],              # pixel (75, 50) on the wall
        "wall_in_tol": [0.52, 0.0, 2.08],     # |z - d| = 0.08 <= 0.05 * 2
        "wall_out_tol": [0.5375, 0.0, 2.15],  # pixel (75, 50), |z - d| = 0.15 > 0.1
        "hole": [-0.55, -0.55, 2.0],          # pixel (22.5, 22.5): depth 0, no reading
        "border_out": [0.82, 0.0, 2.0],       # pixel (91, 50): inside the image, inside the 10 px border
        "border_in": [0.78, 0.0, 2.0],        # pixel (89, 50)
        "behind": [0.0, 0.0, -2.0],
        "outside": [3.0, 0.0, 2.0],           # pixel (200, 50)
    }
    names = list(cam)
    return names, world([cam[n] for n in names], pose), pose


def test_depth_visibility(scene_points):
    names, xyz, pose = scene_points
    idx = visible_points(to_camera(xyz, pose), K, depth_image(), border=10, tolerance=0.05)
    assert sorted(names[i] for i in idx) == sorted(["occluder", "wall", "wall_in_tol", "border_in"])


def test_depth_tolerance_and_border_are_parameters(scene_points):
    names, xyz, pose = scene_points
    cam = to_camera(xyz, pose)
    loose = {names[i] for i in visible_points(cam, K, depth_image(), border=0, tolerance=0.25)}
    assert {"wall_out_tol", "border_out"} <= loose
    assert "hidden" not in loose and "hole" not in loose and "behind" not in loose


def test_frustum_only_ignores_occlusion(scene_points):
    names, xyz, pose = scene_points
    idx = frustum_points(to_camera(xyz, pose), K, (100, 100), border=10)
    assert sorted(names[i] for i in idx) == sorted(
        ["hidden", "occluder", "wall", "wall_in_tol", "wall_out_tol", "hole", "border_in"])


def test_depth_lookup_uses_the_depth_intrinsics_and_image_size():
    # depth image half the colour resolution: its own intrinsics and its own size decide
    k_depth = np.array([[50.0, 0, 25.0], [0, 50.0, 25.0], [0, 0, 1]])
    depth = np.full((50, 50), 2.0, dtype=np.float32)
    depth[:, 40:] = 0.0
    cam = np.array([[0.0, 0.0, 2.0], [0.7, 0.0, 2.0]], dtype=np.float32)  # u = 25 and u = 42.5
    assert visible_points(cam, k_depth, depth, border=2, tolerance=0.05).tolist() == [0]


def test_feature_positions_scale_the_colour_intrinsics():
    k_color = np.array([[200.0, 0, 100.0], [0, 200.0, 50.0], [0, 0, 1]])  # a 200 x 100 colour image
    # pixel (104.5, 54.5) is the centre of cell (5, 10) of a 10 x 20 map
    u, v = 104.5, 54.5
    cam = np.array([[(u - 100.0) / 200.0 * 2.0, (v - 50.0) / 200.0 * 2.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(np.stack(project(cam, k_color), 1), [[u, v]], atol=1e-4)
    row, col = feature_positions(cam, k_color, (100, 200), (10, 20))
    np.testing.assert_allclose([row[0], col[0]], [5.0, 10.0], atol=1e-4)
    # the image's left edge (u = -0.5) is the map's left edge (col = -0.5)
    cam_edge = np.array([[(-0.5 - 100.0) / 200.0, 0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(feature_positions(cam_edge, k_color, (100, 200), (10, 20))[1], [-0.5], atol=1e-5)


def test_bilinear_sampling_is_exact_on_linear_maps_and_clamps():
    h, w = 4, 6
    r, c = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    fmap = np.stack([r, c, 2 * r + 3 * c + 1], axis=-1)
    rows = np.array([1.25, 0.0, 3.0, -3.0, 2.5], dtype=np.float32)
    cols = np.array([2.5, 0.0, 5.0, 100.0, 4.75], dtype=np.float32)
    out = bilinear_sample(fmap, rows, cols)
    rc = np.clip(rows, 0, h - 1)
    cc = np.clip(cols, 0, w - 1)
    np.testing.assert_allclose(out, np.stack([rc, cc, 2 * rc + 3 * cc + 1], 1), atol=1e-5)
    assert out.dtype == np.float32


def test_bilinear_sampling_mixes_the_four_neighbours():
    fmap = np.zeros((2, 2, 1), dtype=np.float32)
    fmap[1, 1, 0] = 1.0  # a single bump: bilinear weight = (row frac) * (col frac)
    out = bilinear_sample(fmap, np.array([0.25], np.float32), np.array([0.5], np.float32))
    assert out[0, 0] == pytest.approx(0.125)
