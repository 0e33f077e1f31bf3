"""Readers (ScanNet, generic, point cloud), PLY helpers and normals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.normals import estimate_normals, mesh_vertex_normals, scene_normals
from geopurify.pipeline.ply import read_ply, write_ply
from geopurify.pipeline.readers import DatasetConfig, list_scenes, read_scene, source_files
from geopurify.pipeline.readers.generic import GenericReader
from geopurify.pipeline.readers.pointcloud import PointCloudReader
from geopurify.pipeline.readers.scannet import ScanNetReader
from geopurify.pipeline.synthetic import generate_scene, write_generic

DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SCANS = DATA / "scannet" / "scans"
GEOMETRY = DATA / "scannet_geometry"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scannet")
    generate_scene(root, "synth0000_00", seed=0, num_frames=6, inf_pose_frames=(4,))
    return root


# ---- ScanNet layout --------------------------------------------------------------------------
def test_check_images_false_skips_only_the_image_decoding(tmp_path):
    """fuse reads scenes without decoding every frame (it decodes them itself and skips bad ones);
    the pose and file checks still run."""
    generate_scene(tmp_path, "s", seed=0, num_frames=3)
    (tmp_path / "s" / "color" / "1.jpg").write_bytes(b"not a jpeg")
    ds = DatasetConfig("scannet", str(tmp_path))
    with pytest.raises(InputError, match="1.jpg"):
        read_scene(ds, "s")
    assert len(read_scene(ds, "s", check_images=False).frames) == 3
    (tmp_path / "s" / "pose" / "1.txt").write_text("garbage")
    with pytest.raises(InputError, match="1.txt"):
        read_scene(ds, "s", check_images=False)


def test_scannet_reader_on_a_synthetic_scene(synth_root):
    reader = ScanNetReader()
    assert reader.list_scenes(synth_root) == ["synth0000_00"]
    scene = reader.read(synth_root, "synth0000_00")
    mesh = read_ply(synth_root / "synth0000_00" / "synth0000_00_vh_clean_2.ply")
    np.testing.assert_array_equal(scene.xyz, mesh.xyz)
    np.testing.assert_array_equal(scene.faces, mesh.faces)
    assert scene.xyz.dtype == np.float32 and scene.rgb.dtype == np.uint8
    assert scene.labels.dtype == np.int16 and scene.labels.shape == (scene.num_points,)
    assert [f.name for f in scene.frames] == ["0", "1", "2", "3", "5"]  # frame 4: -inf pose
    assert scene.skipped_frames == 1
    assert scene.color_intrinsic.shape == scene.depth_intrinsic.shape == (3, 3)
    assert scene.depth_scale == 1000.0
    assert not np.allclose(scene.axis_alignment, np.eye(4))
    frame = scene.frames[0]
    assert frame.color_path.name == "0.jpg" and frame.depth_path.name == "0.png"
    assert frame.pose.shape == (4, 4) and frame.pose.dtype == np.float64


def test_scannet_source_files_are_every_file_read(synth_root):
    listed = sorted(ScanNetReader().source_files(synth_root, "synth0000_00"))
    on_disk = sorted(p for p in (synth_root / "synth0000_00").rglob("*") if p.is_file())
    assert listed == on_disk  # the synthetic scene holds only files the reader uses
    assert sorted(read_scene(DatasetConfig("scannet", str(synth_root)), "synth0000_00").source_files) == listed


def test_frames_in_numeric_order(tmp_path):
    generate_scene(tmp_path, "s", seed=2, num_frames=12, color_size=(64, 48), depth_size=(32, 24))
    scene = ScanNetReader().read(tmp_path, "s")
    assert [f.name for f in scene.frames] == [str(i) for i in range(12)]


def test_registry_functions(synth_root):
    cfg = DatasetConfig(kind="scannet", root=str(synth_root))
    assert list_scenes(cfg) == ["synth0000_00"]
    assert len(source_files(cfg, "synth0000_00")) == 5 + 3 * 6


@pytest.mark.scannet
@pytest.mark.skipif(not SCANS.is_dir(), reason="ScanNet data not present")
@pytest.mark.slow
def test_scannet_reader_on_real_scene0000_00():
    reader = ScanNetReader()
    assert "scene0000_00" in reader.list_scenes(SCANS)
    scene = reader.read(SCANS, "scene0000_00")
    assert scene.num_points == 81369
    assert scene.labels is not None and scene.labels.shape == (81369,)
    assert 0 <= scene.labels.min() and scene.labels.max() <= 40
    assert len(scene.frames) == 300 and scene.skipped_frames == 0
    assert scene.faces is None  # this copy of the data keeps vertices only
    np.testing.assert_allclose(scene.color_intrinsic[0, 0], 584.810547)
    np.testing.assert_allclose(scene.depth_intrinsic[0, 2], 319.158046)
    np.testing.assert_allclose(scene.axis_alignment[0, 3], -5.384390)
    assert len(reader.source_files(SCANS, "scene0000_00")) == 5 + 3 * 300


@pytest.mark.scannet
@pytest.mark.skipif(not (SCANS / "scene0448_01").is_dir(), reason="ScanNet data not present")
def test_scannet_reader_skips_real_inf_poses():
    scene = ScanNetReader().read(SCANS, "scene0448_01")
    assert scene.skipped_frames == 4 and len(scene.frames) == 296
    assert scene.labels is None
    assert "105" not in {f.name for f in scene.frames}


# ---- generic layout ---------------------------------------------------------------------------
def test_generic_reader_matches_the_scannet_reading(synth_root, tmp_path):
    write_generic(synth_root / "synth0000_00", tmp_path)
    gen = GenericReader().read(tmp_path, "synth0000_00")
    ref = ScanNetReader().read(synth_root, "synth0000_00")
    np.testing.assert_array_equal(gen.xyz, ref.xyz)
    np.testing.assert_array_equal(gen.rgb, ref.rgb)
    np.testing.assert_array_equal(gen.labels, ref.labels)
    np.testing.assert_array_equal(gen.faces, ref.faces)
    np.testing.assert_allclose(gen.color_intrinsic, ref.color_intrinsic)
    np.testing.assert_allclose(gen.depth_intrinsic, ref.depth_intrinsic)
    np.testing.assert_array_equal(gen.axis_alignment, ref.axis_alignment)
    assert [f.name for f in gen.frames] == [f.name for f in ref.frames]
    assert gen.skipped_frames == 1
    for a, b in zip(gen.frames, ref.frames):
        np.testing.assert_array_equal(a.pose, b.pose)
        assert a.depth_path.name == f"{a.name}.depth.png"
    listed = sorted(GenericReader().source_files(tmp_path, "synth0000_00"))
    assert listed == sorted(p for p in (tmp_path / "synth0000_00").rglob("*") if p.is_file())


def test_generic_reader_without_depth(synth_root, tmp_path):
    write_generic(synth_root / "synth0000_00", tmp_path, with_depth=False)
    scene = GenericReader().read(tmp_path, "synth0000_00")
    assert all(f.depth_path is None for f in scene.frames)
    assert scene.depth_intrinsic is None and len(scene.frames) == 5


# ---- point-cloud layout ---------------------------------------------------------------------------
def test_pointcloud_reader(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.random((500, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (500, 3))
    write_ply(tmp_path / "a.ply", xyz, rgb, label=rng.integers(0, 41, 500))
    write_ply(tmp_path / "b.ply", xyz, rgb)
    reader = PointCloudReader()
    assert reader.list_scenes(tmp_path) == ["a", "b"]
    a, b = reader.read(tmp_path, "a"), reader.read(tmp_path, "b")
    np.testing.assert_array_equal(a.xyz, xyz)
    assert a.labels.dtype == np.int16 and b.labels is None
    assert a.frames == [] and a.faces is None
    assert reader.source_files(tmp_path, "a") == [tmp_path / "a.ply"]


@pytest.mark.scannet
@pytest.mark.skipif(not GEOMETRY.is_dir(), reason="ScanNet geometry data not present")
def test_pointcloud_reader_on_scannet_geometry():
    reader = PointCloudReader()
    scenes = reader.list_scenes(GEOMETRY)
    assert len(scenes) == 20 and "scene0001_00" in scenes
    labelled = reader.read(GEOMETRY, "scene0001_00")
    assert labelled.num_points == 50000 and labelled.labels is not None
    assert reader.read(GEOMETRY, "scene0009_00").labels is None


# ---- PLY -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [False, True])
def test_ply_round_trip(tmp_path, text):
    rng = np.random.default_rng(1)
    xyz = rng.normal(size=(50, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (50, 3)).astype(np.uint8)
    label = rng.integers(0, 41, 50)
    faces = rng.integers(0, 50, (30, 3))
    write_ply(tmp_path / "m.ply", xyz, rgb, label=label, faces=faces, text=text)
    back = read_ply(tmp_path / "m.ply")
    np.testing.assert_array_equal(back.xyz, xyz)
    np.testing.assert_array_equal(back.rgb, rgb)
    np.testing.assert_array_equal(back.label, label)
    np.testing.assert_array_equal(back.faces, faces)


def test_ply_quads_are_refused(tmp_path):
    path = tmp_path / "quad.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
                    "property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
                    "end_header\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    from geopurify.pipeline.errors import InputError

    with pytest.raises(InputError, match="triangles"):
        read_ply(path)


# ---- normals ------------------------------------------------------------------------------------
def test_mesh_normals_are_area_weighted():
    # vertex 0 is shared by a large triangle in the z=0 plane and a small one in the x=0 plane
    xyz = np.array([[0, 0, 0], [4, 0, 0], [0, 4, 0], [0, 0.1, 0], [0, 0, 0.1]], dtype=np.float32)
    faces = np.array([[0, 1, 2], [0, 3, 4]])
    n = mesh_vertex_normals(xyz, faces)
    expected = np.array([0.01 / 2, 0, 16 / 2])  # summed cross products (twice the areas)
    np.testing.assert_allclose(n[0], expected / np.linalg.norm(expected), atol=1e-6)
    np.testing.assert_allclose(n[1], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(n[3], [1, 0, 0], atol=1e-6)


def test_pca_normals_of_a_plane_and_their_orientation():
    rng = np.random.default_rng(0)
    xyz = np.c_[rng.random((2000, 2)) * 4, np.zeros(2000)].astype(np.float32)
    above = estimate_normals(xyz, 16, viewpoints=np.array([[2.0, 2.0, 1.5]]))
    below = estimate_normals(xyz, 16, viewpoints=np.array([[2.0, 2.0, -1.5]]))
    np.testing.assert_allclose(above, np.tile([0, 0, 1], (2000, 1)), atol=1e-4)
    np.testing.assert_allclose(below, np.tile([0, 0, -1], (2000, 1)), atol=1e-4)
    # without viewpoints: towards the centroid (a floor below a box of points faces up)
    box = np.r_[xyz, np.c_[rng.random((500, 2)) * 4, 1 + rng.random(500)]].astype(np.float32)
    n = estimate_normals(box, 16)
    assert np.mean(n[:2000, 2] > 0.99) > 0.95


def test_scene_normals_fill_vertices_on_no_face():
    rng = np.random.default_rng(0)
    xyz = np.c_[rng.random((300, 2)), np.zeros(300)].astype(np.float32)
    faces = np.array([[0, 1, 2]]) if np.cross(xyz[1] - xyz[0], xyz[2] - xyz[0])[2] > 0 else np.array([[0, 2, 1]])
    n = scene_normals(xyz, faces, k=8, viewpoints=np.array([[0.5, 0.5, 1.0]]))
    np.testing.assert_allclose(np.abs(n[:, 2]), 1.0, atol=1e-4)
    assert np.all(n[:, 2] > 0)


def _visible_in_any_frame(scene, tolerance=0.03) -> np.ndarray:
    from PIL import Image

    K = scene.depth_intrinsic
    seen = np.zeros(scene.num_points, dtype=bool)
    for f in scene.frames:
        depth = np.asarray(Image.open(f.depth_path), dtype=np.float64) / scene.depth_scale
        w2c = np.linalg.inv(f.pose)
        p = scene.xyz @ w2c[:3, :3].T + w2c[:3, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.round(K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2])
            v = np.round(K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2])
        ok = (p[:, 2] > 0.05) & (u >= 0) & (v >= 0) & (u < depth.shape[1]) & (v < depth.shape[0])
        d = np.zeros(scene.num_points)
        d[ok] = depth[v[ok].astype(int), u[ok].astype(int)]
        seen |= ok & (np.abs(d - p[:, 2]) < tolerance)
    return seen


def test_face_and_pca_normals_agree_on_the_synthetic_scene(synth_root):
    scene = ScanNetReader().read(synth_root, "synth0000_00")
    from_faces = mesh_vertex_normals(scene.xyz, scene.faces)
    cameras = np.array([f.pose[:3, 3] for f in scene.frames])
    pca = estimate_normals(scene.xyz, 16, viewpoints=cameras)
    dot = np.einsum("ij,ij->i", from_faces, pca)
    # same plane for most points: the rest sit within a couple of grid steps of an edge
    assert np.mean(np.abs(dot) > 0.9) > 0.75
    # where the plane agrees and a camera saw the point, the side agrees too
    seen = _visible_in_any_frame(scene)
    same_plane = seen & (np.abs(dot) > 0.9)
    assert seen.mean() > 0.4 and np.mean(dot[same_plane] > 0) > 0.93
