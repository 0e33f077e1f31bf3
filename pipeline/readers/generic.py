"""Generic layout for any posed RGB(-D) capture (documented in docs/generic-layout.md)::

    <root>/<scene>/points.ply                  x y z red green blue [label] (+ faces, optional);
                                               without it, a capture with depth is reconstructed at ingest
    <root>/<scene>/camera.json                 intrinsics and image sizes (below)
    <root>/<scene>/frames/<name>.jpg|.png      colour frames
    <root>/<scene>/frames/<name>.depth.png     optional depth (uint16), for every frame or none
    <root>/<scene>/frames/<name>.pose.txt      4x4 camera-to-world (all -inf: invalid, skipped)

camera.json::

    {"color": {"width": 640, "height": 480, "fx": 577.9, "fy": 577.9, "cx": 319.5, "cy": 239.5},
     "depth": {"width": 320, "height": 240, "fx": 288.9, "fy": 288.9, "cx": 159.5, "cy": 119.5},
     "depth_scale": 1000.0,
     "axis_alignment": [16 numbers, row-major]}

``depth`` defaults to ``color`` (same camera), ``depth_scale`` (depth units per metre) to 1000,
``axis_alignment`` to the identity.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..scene import Scene
from . import checks
from .base import FolderReader

COLOUR_SUFFIXES = (".jpg", ".jpeg", ".png")
DEPTH_SUFFIX = ".depth.png"
POSE_SUFFIX = ".pose.txt"


@dataclass
class _Files:
    folder: Path
    points: Path | None
    """None: a frames-only capture (depth on every frame), reconstructed at ingest."""
    camera: Path
    frames: list[tuple[str, Path, Path | None, Path]]
    """(name, colour, depth or None, pose) of every frame, in natural name order."""

    def all(self) -> list[Path]:
        files = [p for p in (self.points, self.camera) if p is not None]
        for _, color, depth, pose in self.frames:
            files += [p for p in (color, depth, pose) if p is not None]
        return files


def find_files(root: Path, scene_id: str) -> _Files:
    checks.check_scene_name(root, scene_id)
    folder = Path(root) / scene_id
    if not folder.is_dir():
        raise InputError(folder, "scene folder not found")
    points, camera, frames_dir = folder / "points.ply", folder / "camera.json", folder / "frames"
    if not camera.is_file():
        raise InputError(camera, "camera intrinsics not found")
    if not frames_dir.is_dir():
        raise InputError(frames_dir, "frames folder not found (use dataset.kind = pointcloud for "
                                     "scans without frames)")
    with os.scandir(frames_dir) as it:
        names = {e.name: Path(e.path) for e in it if e.is_file() and not e.name.startswith(".")}
    colours = {}
    for fname, path in names.items():
        if fname.endswith(DEPTH_SUFFIX) or fname.endswith(POSE_SUFFIX):
            continue
        stem, dot, ext = fname.rpartition(".")
        if dot and f".{ext.lower()}" in COLOUR_SUFFIXES:
            if stem in colours:
                raise InputError(path, f"two colour images for frame {stem}")
            colours[stem] = path
    if not colours:
        raise InputError(frames_dir, "no colour frames (<name>.jpg or <name>.png)")
    order = sorted(colours, key=checks.frame_sort_key)
    with_depth = [n for n in order if f"{n}{DEPTH_SUFFIX}" in names]
    if with_depth and len(with_depth) != len(order):
        missing = next(n for n in order if f"{n}{DEPTH_SUFFIX}" not in names)
        raise InputError(frames_dir / f"{missing}{DEPTH_SUFFIX}",
                         "depth image not found (depth must be given for every frame or none)")
    if not points.is_file() and not with_depth:
        raise InputError(points, "scene points not found (and no depth frames to reconstruct them from)")
    frames = []
    for name in order:
        pose = frames_dir / f"{name}{POSE_SUFFIX}"
        if pose.name not in names:
            raise InputError(pose, f"pose of frame {name} not found")
        depth = frames_dir / f"{name}{DEPTH_SUFFIX}" if with_depth else None
        frames.append((name, colours[name], depth, pose))
    return _Files(folder=folder, points=points if points.is_file() else None, camera=camera, frames=frames)


@dataclass
class _Camera:
    color_K: np.ndarray
    color_size: tuple[int, int]
    depth_K: np.ndarray
    depth_size: tuple[int, int]
    depth_scale: float
    axis_alignment: np.ndarray


def _read_camera(path: Path) -> _Camera:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")

    def pinhole(key: str) -> tuple[np.ndarray, tuple[int, int]]:
        cam = data.get(key)
        if not isinstance(cam, dict):
            raise InputError(path, f"missing {key!r} camera (width, height, fx, fy, cx, cy)")
        values = {}
        for field in ("width", "height", "fx", "fy", "cx", "cy"):
            v = cam.get(field)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(path, f"{key}.{field} must be a number")
            values[field] = float(v)
        if values["width"] < 1 or values["height"] < 1 or values["width"] % 1 or values["height"] % 1:
            raise InputError(path, f"{key}.width and {key}.height must be positive integers")
        K = np.array([[values["fx"], 0, values["cx"]], [0, values["fy"], values["cy"]], [0, 0, 1.0]])
        checks.check_intrinsic(f"{path} ({key})", K)
        return K, (int(values["width"]), int(values["height"]))

    color_K, color_size = pinhole("color")
    depth_K, depth_size = pinhole("depth") if "depth" in data else (color_K, color_size)
    scale = data.get("depth_scale", 1000.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise InputError(path, "depth_scale must be a positive number (depth units per metre)")
    align = data.get("axis_alignment", np.eye(4).ravel().tolist())
    try:
        align = np.array(align, dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError):
        raise InputError(path, "axis_alignment must be 16 numbers") from None
    if not np.all(np.isfinite(align)):
        raise InputError(path, "axis_alignment must be 16 finite numbers")
    return _Camera(color_K, color_size, depth_K, depth_size, float(scale), align)


class GenericReader(FolderReader):
    """Posed RGB(-D) captures in the generic layout."""

    find_files = staticmethod(find_files)

    def has_points(self, root: Path, scene_id: str) -> bool:
        """False for a frames-only capture (ingest reconstructs its points)."""
        return find_files(Path(root), scene_id).points is not None

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        files = find_files(Path(root), scene_id)
        xyz = rgb = faces = labels = None
        if files.points is not None:
            ply = checks.read_coloured_points(files.points)
            xyz, rgb, faces = ply.xyz, ply.rgb, ply.faces
            labels = checks.check_labels(files.points, ply.label, ply.num_vertices) if ply.label is not None else None
        cam = _read_camera(files.camera)
        frames, skipped = checks.posed_frames(files.frames, files.folder / "frames")
        has_depth = files.frames[0][2] is not None
        unreadable = 0
        if check_images:
            unreadable = checks.check_frame_images(
                files.frames, self.max_unreadable_frames,
                color={"intrinsic": cam.color_K, "intrinsic_path": files.camera, "expected_size": cam.color_size},
                depth={"intrinsic": cam.depth_K, "intrinsic_path": files.camera,
                       "expected_size": cam.depth_size} if has_depth else None,
                workers=self.image_workers)
        return Scene(scene_id=scene_id, root=files.folder, xyz=xyz, rgb=rgb, faces=faces,
                     labels=labels, axis_alignment=cam.axis_alignment, frames=frames,
                     color_intrinsic=cam.color_K, depth_intrinsic=cam.depth_K if has_depth else None,
                     depth_scale=cam.depth_scale, skipped_frames=skipped, unreadable_frames=unreadable,
                     source_files=files.all())
