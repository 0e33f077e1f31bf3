"""A synthetic scene written to disk in the ScanNet layout (and converted to the generic one),
bit-identical for the same arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..ply import read_ply, write_ply
from ..readers.checks import read_axis_alignment, read_matrix
from .camera import _camera_poses, _camera_rays, _intrinsic, _render
from .room import _colour, _decals, _layout, _mesh, _quads, _surface_labels

def format_matrix(m: np.ndarray) -> str:
    """A 4x4 matrix as ScanNet writes it: four lines of four ``%f`` numbers."""
    m = np.round(np.asarray(m, dtype=np.float64).reshape(4, 4), 6) + 0.0  # + 0.0: no "-0.000000"
    return "".join(" ".join(f"{x:f}" for x in row) + "\n" for row in m)


def write_matrix(path: str | Path, m: np.ndarray) -> None:
    Path(path).write_text(format_matrix(m))


def write_inf_pose(scene_dir: str | Path, frame: int | str) -> Path:
    """Overwrite one frame's pose with ScanNet's invalid-pose marker (all ``-inf``)."""
    path = Path(scene_dir) / "pose" / f"{frame}.txt"
    write_matrix(path, np.full((4, 4), -np.inf))
    return path


def generate_scene(out_root: str | Path, scene_id: str, seed: int = 0, num_frames: int = 10,
                   color_size: tuple[int, int] = (324, 242), depth_size: tuple[int, int] = (160, 120),
                   spacing: float = 0.12, inf_pose_frames: Sequence[int] = (), labels: bool = True,
                   jpeg_quality: int = 92) -> Path:
    """Write one synthetic scene in the ScanNet layout under ``out_root/scene_id`` and return that
    folder. ``color_size``/``depth_size`` are (width, height); ``spacing`` is the mesh grid step (m);
    frames listed in ``inf_pose_frames`` get the all ``-inf`` pose marker (their images are still
    written); ``labels=False`` leaves out the ``.labels.ply``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    room, walls, boxes, footprints = _layout(rng)
    quads = _quads(room, boxes)
    decals = _decals(rng, room, walls)
    xyz_room, faces, vert_quad = _mesh(quads, boxes, spacing)
    vert_label = _surface_labels(quads, decals, vert_quad, xyz_room)
    vert_rgb = _colour(xyz_room, vert_label, quads.axis[vert_quad], quads.sign[vert_quad],
                       quads.tint[vert_quad], seed)

    # the raw-scan world frame: the room turned about z and shifted
    angle = rng.uniform(0, 2 * np.pi)
    world_from_room = np.eye(4)
    world_from_room[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    world_from_room[:3, 3] = [rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(-0.1, 0.1)]
    room_from_world = np.linalg.inv(world_from_room)
    xyz_world = (xyz_room @ world_from_room[:3, :3].T + world_from_room[:3, 3]).astype(np.float32)

    K_color = _intrinsic(*color_size, rng)
    K_depth = _intrinsic(*depth_size, rng)
    poses = [np.round(world_from_room @ p, 6) for p in _camera_poses(rng, room, boxes, footprints, num_frames)]

    scene = Path(out_root) / scene_id
    for sub in ("color", "depth", "pose", "intrinsic"):
        (scene / sub).mkdir(parents=True, exist_ok=True)
    write_ply(scene / f"{scene_id}_vh_clean_2.ply", xyz_world, vert_rgb, faces=faces)
    if labels:
        write_ply(scene / f"{scene_id}_vh_clean_2.labels.ply", xyz_world, label=vert_label)
    (scene / f"{scene_id}.txt").write_text(
        "axisAlignment = " + " ".join(f"{x:f}" for x in np.round(room_from_world, 6).ravel() + 0.0) + "\n"
        f"colorHeight = {color_size[1]}\ncolorWidth = {color_size[0]}\n"
        f"depthHeight = {depth_size[1]}\ndepthWidth = {depth_size[0]}\n"
        f"numColorFrames = {num_frames}\nnumDepthFrames = {num_frames}\nsceneType = Synthetic\n")
    write_matrix(scene / "intrinsic" / "intrinsic_color.txt", K_color)
    write_matrix(scene / "intrinsic" / "intrinsic_depth.txt", K_depth)
    color_rays, depth_rays = _camera_rays(K_color, *color_size), _camera_rays(K_depth, *depth_size)
    for i, pose in enumerate(poses):
        cam_to_room = room_from_world @ pose
        rgb = _render(color_rays, *color_size, cam_to_room, quads, decals, seed, colour=True)
        depth = _render(depth_rays, *depth_size, cam_to_room, quads, decals, seed, colour=False)
        Image.fromarray(rgb).save(scene / "color" / f"{i}.jpg", quality=jpeg_quality)
        Image.fromarray(depth).save(scene / "depth" / f"{i}.png")
        if i in inf_pose_frames:
            write_inf_pose(scene, i)
        else:
            write_matrix(scene / "pose" / f"{i}.txt", pose)
    return scene


def generate_dataset(out_root: str | Path, n_scenes: int, seed: int = 0, prefix: str = "synth",
                     **scene_kwargs) -> list[Path]:
    """``n_scenes`` scenes ``<prefix>0000_00``, ``<prefix>0001_00``, ... with seeds ``seed + i``."""
    return [generate_scene(out_root, f"{prefix}{i:04d}_00", seed=seed + i, **scene_kwargs)
            for i in range(n_scenes)]


def write_generic(scannet_scene: str | Path, out_root: str | Path, with_depth: bool = True) -> Path:
    """Copy a scene from the ScanNet layout into the generic layout (docs/generic-layout.md):
    ``points.ply`` (mesh with labels when present), ``camera.json``, ``frames/``. For tests of
    the generic reader and as a worked example of that layout."""
    import json
    import shutil


    src = Path(scannet_scene)
    scene_id = src.name
    dst = Path(out_root) / scene_id
    (dst / "frames").mkdir(parents=True, exist_ok=True)
    mesh = read_ply(src / f"{scene_id}_vh_clean_2.ply")
    labels_path = src / f"{scene_id}_vh_clean_2.labels.ply"
    label = read_ply(labels_path, want_faces=False).label if labels_path.is_file() else None
    write_ply(dst / "points.ply", mesh.xyz, mesh.rgb, label=label, faces=mesh.faces)

    from PIL import Image

    def camera(kind: str, image: Path) -> dict:
        K = read_matrix(src / "intrinsic" / f"intrinsic_{kind}.txt")
        with Image.open(image) as im:
            w, h = im.size
        return {"width": w, "height": h, "fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2]}

    names = sorted((p.stem for p in (src / "color").glob("*.jpg")), key=lambda s: int(s))
    cam = {"color": camera("color", src / "color" / f"{names[0]}.jpg")}
    if with_depth:
        cam["depth"] = camera("depth", src / "depth" / f"{names[0]}.png")
        cam["depth_scale"] = 1000.0
    meta = src / f"{scene_id}.txt"
    cam["axis_alignment"] = read_axis_alignment(meta if meta.is_file() else None).ravel().tolist()
    (dst / "camera.json").write_text(json.dumps(cam, indent=2) + "\n")
    for name in names:
        shutil.copyfile(src / "color" / f"{name}.jpg", dst / "frames" / f"{name}.jpg")
        shutil.copyfile(src / "pose" / f"{name}.txt", dst / "frames" / f"{name}.pose.txt")
        if with_depth:
            shutil.copyfile(src / "depth" / f"{name}.png", dst / "frames" / f"{name}.depth.png")
    return dst
