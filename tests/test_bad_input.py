"""Bad input fails with one line naming the file, before anything is written to the store.

Each case: ingest two good scenes, break the second one, ingest again. The run must fail for that
scene with ``<file>: <problem>`` and leave every byte of the store as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.ply import read_ply, write_ply
from geopurify.pipeline.readers.generic import GenericReader
from geopurify.pipeline.readers.pointcloud import PointCloudReader
from geopurify.pipeline.readers.scannet import ScanNetReader
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.synthetic import generate_scene, write_generic, write_matrix
from geopurify.pipeline.vocabulary import DONE, FAILED, SKIPPED
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import RunConfig

GOOD, BAD = "good0000_00", "bad0000_00"


def make_cfg(root: Path, kind: str = "scannet") -> RunConfig:
    cfg = RunConfig()
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, kind=kind, root=str(root)))


def snapshot(store: Path) -> dict[str, str]:
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template")
    for sid, seed in ((GOOD, 0), (BAD, 1)):
        generate_scene(root, sid, seed=seed, num_frames=4)
    return root


@pytest.fixture
def world(template, tmp_path):
    """(data root, store path, ctx) with both scenes ingested into the store."""
    data = tmp_path / "data"
    shutil.copytree(template, data)
    store = tmp_path / "store.zarr"
    ctx = StageContext(str(store), make_cfg(data))
    for sid in (GOOD, BAD):
        assert run_scene(IngestStage(), ctx, sid).status == DONE
    return data, store, ctx


def expect_failure(ctx: StageContext, store: Path, scene: str, bad_file: Path, problem: str) -> None:
    before = snapshot(store)
    out = run_scene(IngestStage(), ctx, scene)
    assert out.status == FAILED
    assert out.error.startswith(f"{bad_file}: "), out.error
    assert problem in out.error
    assert "\n" not in out.error and out.detail == ""  # one line, no traceback
    assert snapshot(store) == before


# ---- the cases: (break the scene -> (bad file, words of the problem)) -------------------------------
def missing_scene_folder(scene: Path):
    shutil.rmtree(scene)
    return scene, "scene folder not found"


def missing_intrinsics(scene: Path):
    path = scene / "intrinsic" / "intrinsic_depth.txt"
    path.unlink()
    return path, "intrinsics not found"


def unreadable_colour_image(scene: Path):
    path = scene / "color" / "2.jpg"
    path.write_bytes(b"this is not a jpeg")
    return path, "unreadable"


def truncated_colour_image(scene: Path):
    path = scene / "color" / "1.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "truncated"


def truncated_depth_image(scene: Path):
    path = scene / "depth" / "3.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path, "truncated"


def nan_pose(scene: Path):
    path = scene / "pose" / "1.txt"
    m = np.loadtxt(path)
    m[0, 1] = np.nan
    write_matrix(path, m)
    return path, "NaN"


def partly_infinite_pose(scene: Path):
    path = scene / "pose" / "0.txt"
    m = np.loadtxt(path)
    m[:3, 3] = -np.inf  # not the all -inf marker
    write_matrix(path, m)
    return path, "NaN or infinite"


def garbled_pose(scene: Path):
    path = scene / "pose" / "2.txt"
    path.write_text("1 0 0 0\n0 1 0 0\n")
    return path, "expected 16 numbers"


def depth_image_of_another_size(scene: Path):
    path = scene / "depth" / "2.png"
    Image.fromarray(np.full((60, 80), 1000, dtype=np.uint16)).save(path)
    return path, "depth image is 80x60"


def every_depth_image_of_another_size(scene: Path):
    for i in range(4):  # consistent with each other, but not with the depth intrinsics
        Image.fromarray(np.full((240, 320), 1000, dtype=np.uint16)).save(scene / "depth" / f"{i}.png")
    return scene / "depth" / "0.png", "principal point"


def eight_bit_depth(scene: Path):
    path = scene / "depth" / "1.png"
    Image.fromarray(np.zeros((120, 160), dtype=np.uint8)).save(path)
    return path, "16-bit"


def missing_depth_image(scene: Path):
    path = scene / "depth" / "3.png"
    path.unlink()
    return path, "not found"


def missing_pose_file(scene: Path):
    path = scene / "pose" / "0.txt"
    path.unlink()
    return path, "not found"


def empty_point_cloud(scene: Path):
    mesh = scene / f"{BAD}_vh_clean_2.ply"
    write_ply(mesh, np.zeros((0, 3)), np.zeros((0, 3)))
    return mesh, "empty point cloud"


def truncated_mesh(scene: Path):
    mesh = scene / f"{BAD}_vh_clean_2.ply"
    data = mesh.read_bytes()
    mesh.write_bytes(data[: len(data) // 2])
    return mesh, "not a readable PLY"


def mesh_without_colour(scene: Path):
    mesh = scene / f"{BAD}_vh_clean_2.ply"
    ply = read_ply(mesh)
    write_ply(mesh, ply.xyz, faces=ply.faces)
    return mesh, "no colour"


def labels_out_of_range(scene: Path):
    path = scene / f"{BAD}_vh_clean_2.labels.ply"
    ply = read_ply(path)
    label = ply.label.copy()
    label[7] = 41
    write_ply(path, ply.xyz, label=label)
    return path, "label 41 outside the NYU40 ids"


def labels_of_another_mesh(scene: Path):
    path = scene / f"{BAD}_vh_clean_2.labels.ply"
    ply = read_ply(path)
    write_ply(path, ply.xyz[:-5], label=ply.label[:-5])
    return path, "vertices, but the mesh"


def no_valid_pose(scene: Path):
    for i in range(4):
        write_matrix(scene / "pose" / f"{i}.txt", np.full((4, 4), -np.inf))
    return scene / "pose", "no frame has a valid pose"


CASES: list[Callable] = [
    missing_scene_folder, missing_intrinsics, unreadable_colour_image, truncated_colour_image,
    truncated_depth_image, nan_pose, partly_infinite_pose, garbled_pose, depth_image_of_another_size,
    every_depth_image_of_another_size, eight_bit_depth, missing_depth_image, missing_pose_file,
    empty_point_cloud, truncated_mesh, mesh_without_colour, labels_out_of_range,
    labels_of_another_mesh, no_valid_pose,
]


@pytest.mark.parametrize("breaker", CASES, ids=[c.__name__ for c in CASES])
def test_bad_scannet_scene_fails_cleanly(world, breaker):
    data, store, ctx = world
    bad_file, problem = breaker(data / BAD)
    expect_failure(ctx, store, BAD, bad_file, problem)
    with pytest.raises(InputError) as err:  # the reader itself names the same file
        ScanNetReader().read(data, BAD)
    assert err.value.path == str(bad_file)
    assert run_scene(IngestStage(), ctx, GOOD).status == SKIPPED  # the good scene is untouched


def test_unknown_scene_name(world):
    data, store, ctx = world
    expect_failure(ctx, store, "scene9999_00", data / "scene9999_00", "scene folder not found")
    expect_failure(ctx, store, "../elsewhere", data / "../elsewhere", "not a valid scene name")


def test_unknown_point_cloud_scene(world, tmp_path):
    _, store, _ = world
    pc = tmp_path / "pc"
    pc.mkdir()
    write_ply(pc / "room.ply", np.random.default_rng(0).random((50, 3)), np.zeros((50, 3)))
    ctx = StageContext(str(store), make_cfg(pc, kind="pointcloud"))
    expect_failure(ctx, store, "rooom", pc / "rooom.ply", "unknown scene 'rooom'")
    with pytest.raises(InputError, match="1 scenes here"):
        PointCloudReader().read(pc, "rooom")


def test_point_cloud_with_bad_labels(world, tmp_path):
    _, store, _ = world
    pc = tmp_path / "pc"
    pc.mkdir()
    write_ply(pc / "room.ply", np.random.default_rng(0).random((50, 3)), np.zeros((50, 3)),
              label=np.full(50, 200))
    ctx = StageContext(str(store), make_cfg(pc, kind="pointcloud"))
    expect_failure(ctx, store, "room", pc / "room.ply", "label 200 outside")


@pytest.mark.parametrize("case", ["bad_json", "missing_fx", "size_mismatch", "missing_depth"])
def test_bad_generic_scene(world, tmp_path, case):
    data, store, _ = world
    gen = tmp_path / "generic"
    scene = write_generic(data / GOOD, gen)
    ctx = StageContext(str(store), make_cfg(gen, kind="generic"))
    if case == "bad_json":
        (scene / "camera.json").write_text("{not json")
        bad, problem = scene / "camera.json", "not valid JSON"
    elif case == "missing_fx":
        text = (scene / "camera.json").read_text().replace('"fx"', '"f_x"', 1)
        (scene / "camera.json").write_text(text)
        bad, problem = scene / "camera.json", "color.fx must be a number"
    elif case == "size_mismatch":
        Image.fromarray(np.zeros((242, 320, 3), dtype=np.uint8)).save(scene / "frames" / "1.jpg")
        bad, problem = scene / "frames" / "1.jpg", "colour image is 320x242"
    else:
        (scene / "frames" / "2.depth.png").unlink()
        bad, problem = scene / "frames" / "2.depth.png", "every frame or none"
    expect_failure(ctx, store, GOOD, bad, problem)
    with pytest.raises(InputError) as err:
        GenericReader().read(gen, GOOD)
    assert err.value.path == str(bad)
