"""The synthetic scene generator: ScanNet layout, determinism, and frames that agree with the mesh."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geopurify.pipeline.ply import read_ply
from geopurify.pipeline.readers.checks import read_matrix
from geopurify.pipeline.synthetic import CLASS_COLOURS, generate_dataset, generate_scene

SCANNET20_IDS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39}


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("synth"), "synth0000_00", seed=0)


def project(xyz: np.ndarray, pose: np.ndarray, K: np.ndarray, size: tuple[int, int]):
    """Pixel (u, v), camera depth z and in-image mask of world points."""
    w2c = np.linalg.inv(pose)
    p = xyz.astype(np.float64) @ w2c[:3, :3].T + w2c[:3, 3]
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.round(K[0, 0] * p[:, 0] / z + K[0, 2])
        v = np.round(K[1, 1] * p[:, 1] / z + K[1, 2])
    ok = (z > 0.05) & (u >= 0) & (v >= 0) & (u < size[0]) & (v < size[1])
    return np.where(ok, u, 0).astype(int), np.where(ok, v, 0).astype(int), z, ok


def test_writes_exactly_the_scannet_layout(scene):
    sid = scene.name
    files = set(tree_digest(scene))
    expected = {f"{sid}_vh_clean_2.ply", f"{sid}_vh_clean_2.labels.ply", f"{sid}.txt",
                "intrinsic/intrinsic_color.txt", "intrinsic/intrinsic_depth.txt"}
    for i in range(10):
        expected |= {f"color/{i}.jpg", f"depth/{i}.png", f"pose/{i}.txt"}
    assert files == expected
    color = Image.open(scene / "color" / "0.jpg")
    depth = Image.open(scene / "depth" / "0.png")
    assert color.mode == "RGB" and color.size == (324, 242)
    assert depth.mode.startswith("I;16") and depth.size == (160, 120)
    Kc = read_matrix(scene / "intrinsic" / "intrinsic_color.txt")
    Kd = read_matrix(scene / "intrinsic" / "intrinsic_depth.txt")
    assert Kc.shape == Kd.shape == (4, 4) and not np.allclose(Kc, Kd)
    mesh = read_ply(scene / f"{sid}_vh_clean_2.ply")
    assert mesh.faces is not None and 2000 < mesh.num_vertices < 15000
    labels = read_ply(scene / f"{sid}_vh_clean_2.labels.ply").label
    assert len(labels) == mesh.num_vertices
    # every object class, all ScanNet-20 ids
    assert set(np.unique(labels)) == set(CLASS_COLOURS) and set(CLASS_COLOURS) <= SCANNET20_IDS


def test_same_seed_same_bytes_other_seed_other_scene(tmp_path):
    small = dict(num_frames=3, color_size=(96, 72), depth_size=(48, 36))
    a = generate_scene(tmp_path / "a", "s", seed=3, **small)
    b = generate_scene(tmp_path / "b", "s", seed=3, **small)
    c = generate_scene(tmp_path / "c", "s", seed=4, **small)
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a)["s_vh_clean_2.ply"] != tree_digest(c)["s_vh_clean_2.ply"]


def test_generate_dataset_names_and_seeds(tmp_path):
    small = dict(num_frames=2, color_size=(96, 72), depth_size=(48, 36))
    paths = generate_dataset(tmp_path, 2, seed=5, **small)
    assert [p.name for p in paths] == ["synth0000_00", "synth0001_00"]
    again = generate_scene(tmp_path / "again", "synth0001_00", seed=6, **small)
    assert tree_digest(paths[1]) == tree_digest(again)


def test_inf_pose_marker(tmp_path):
    scene = generate_scene(tmp_path, "s", seed=1, num_frames=4, inf_pose_frames=(2,), color_size=(96, 72),
                           depth_size=(48, 36))
    assert np.all(np.isneginf(read_matrix(scene / "pose" / "2.txt")))
    assert np.all(np.isfinite(read_matrix(scene / "pose" / "1.txt")))
    assert (scene / "color" / "2.jpg").is_file() and (scene / "depth" / "2.png").is_file()


def test_axis_alignment_undoes_the_world_placement(scene):
    sid = scene.name
    line = (scene / f"{sid}.txt").read_text().splitlines()[0]
    assert line.startswith("axisAlignment = ")
    align = np.array([float(x) for x in line.split("=")[1].split()]).reshape(4, 4)
    mesh = read_ply(scene / f"{sid}_vh_clean_2.ply")
    labels = read_ply(scene / f"{sid}_vh_clean_2.labels.ply").label
    aligned = mesh.xyz @ align[:3, :3].T + align[:3, 3]
    assert not np.allclose(align[:3, :3], np.eye(3), atol=1e-2)  # raw scan frame is turned
    np.testing.assert_allclose(aligned[labels == 2, 2], 0.0, atol=1e-4)  # floor at z = 0
    np.testing.assert_allclose(aligned.min(axis=0), 0.0, atol=1e-4)      # room corner at the origin
    walls = aligned[labels == 1]
    room = aligned.max(axis=0)
    on_a_wall = (np.isclose(walls[:, 0], 0, atol=1e-4) | np.isclose(walls[:, 0], room[0], atol=1e-4)
                 | np.isclose(walls[:, 1], 0, atol=1e-4) | np.isclose(walls[:, 1], room[1], atol=1e-4))
    assert on_a_wall.all()


def test_mesh_faces_point_to_the_seen_side(scene):
    from geopurify.pipeline.normals import mesh_vertex_normals

    sid = scene.name
    mesh = read_ply(scene / f"{sid}_vh_clean_2.ply")
    labels = read_ply(scene / f"{sid}_vh_clean_2.labels.ply").label
    n = mesh_vertex_normals(mesh.xyz, mesh.faces)
    floor = n[labels == 2]
    np.testing.assert_allclose(floor[:, 2], 1.0, atol=1e-5)  # z stays up under the world placement
    walls = mesh.xyz[labels == 1]
    centre = mesh.xyz.mean(axis=0)
    inward = np.einsum("ij,ij->i", n[labels == 1][:, :2], (centre - walls)[:, :2])
    assert np.all(inward > 0)


def test_depth_and_colour_frames_agree_with_the_mesh_and_occlude(scene):
    sid = scene.name
    mesh = read_ply(scene / f"{sid}_vh_clean_2.ply")
    Kd = read_matrix(scene / "intrinsic" / "intrinsic_depth.txt")[:3, :3]
    Kc = read_matrix(scene / "intrinsic" / "intrinsic_color.txt")[:3, :3]
    near = occluded = in_view = 0
    colour_err, random_err = [], []
    rng = np.random.default_rng(0)
    for i in range(10):
        pose = read_matrix(scene / "pose" / f"{i}.txt")
        depth = np.asarray(Image.open(scene / "depth" / f"{i}.png"), dtype=np.float64) / 1000.0
        color = np.asarray(Image.open(scene / "color" / f"{i}.jpg"), dtype=np.float64)
        u, v, z, ok = project(mesh.xyz, pose, Kd, (160, 120))
        d = np.where(ok, depth[v, u], 0)
        seen = ok & (np.abs(d - z) < 0.02)
        in_view += ok.sum()
        near += seen.sum()
        occluded += (ok & (d > 0) & (d < z - 0.2)).sum()  # a surface well in front of the vertex
        uc, vc, _, okc = project(mesh.xyz, pose, Kc, (324, 242))
        both = seen & okc
        colour_err.append(np.abs(color[vc[both], uc[both]] - mesh.rgb[both]).mean(axis=1))
        shuffled = rng.permutation(np.flatnonzero(both))
        random_err.append(np.abs(color[vc[shuffled], uc[shuffled]] - mesh.rgb[both]).mean(axis=1))
    colour_err, random_err = np.concatenate(colour_err), np.concatenate(random_err)
    # most in-view vertices are on the depth surface; a real share is hidden behind other surfaces
    print(f"on surface {near / in_view:.3f}, occluded {occluded / in_view:.3f}, colour error "
          f"{np.median(colour_err):.1f} vs {np.median(random_err):.1f}")
    assert near / in_view > 0.5
    assert occluded / in_view > 0.05
    assert np.median(colour_err) < 20 < np.median(random_err)
