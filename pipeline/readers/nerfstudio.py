"""nerfstudio captures: the ``transforms.json`` that ``ns-process-data`` writes for Record3D, Polycam,
Metashape, Kiri, COLMAP and video captures (docs/own-scans.md)::

    <root>/<scene>/transforms.json     cameras, frames, optional ply_file_path and applied_transform
    <root>/<scene>/<file_path>         each frame's colour image (paths relative to the json)
    <root>/<scene>/<depth_file_path>   optional, per frame: 16-bit PNG depth
    <root>/<scene>/<ply_file_path>     the scan: x y z red green blue [label] (+ faces)

Conversions to the pipeline's conventions, each once, here:

- poses: ``transform_matrix`` is camera-to-world with OpenGL camera axes (x right, y up, looking
  down -z); ours are OpenCV's (x right, y down, z forward): the y and z columns change sign.
- pixels: nerfstudio (like COLMAP) puts pixel centres at +0.5 (its rays go through ``i + 0.5``);
  ours sit at integers, so ``cx, cy`` move by -0.5.
- lenses: ``OPENCV`` (k1, k2, p1, p2[, k3]) and ``OPENCV_FISHEYE`` (k1..k4) frames with non-zero
  coefficients, and frames whose intrinsics differ from the scene's, are resampled with OpenCV's undistortion maps onto one
  pinhole camera (the first frame's, without distortion); depth with nearest-neighbour maps.
  ``PINHOLE`` (or ``SIMPLE_PINHOLE``, or all-zero coefficients) frames with the scene's camera
  are read untouched.
- ``applied_transform`` (3x4, from the capture's original coordinates to the saved ones, in which
  nerfstudio writes both the poses and the ply) is undone: the scene comes out in the capture's
  own coordinates (a COLMAP model's, a recording's).
- depth: value x dataset.nerfstudio_depth_unit (nerfstudio's ``depth_unit_scale_factor``, 1e-3:
  millimetres) = metres.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from ..scene import Frame, Scene
from . import checks
from .base import FolderReader

TRANSFORMS = "transforms.json"
MODELS = ("PINHOLE", "SIMPLE_PINHOLE", "OPENCV", "OPENCV_FISHEYE")
INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h")
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
"""Also nerfstudio's order of ``distortion_params``."""
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
PIXEL_CENTRE = 0.5
"""Where nerfstudio puts a pixel's centre (ours: 0)."""
DEFAULT_DEPTH_UNIT = 1e-3


@dataclass(frozen=True)
class Camera:
    """One frame's camera in our pixel convention: pinhole ``K`` (3, 3), size, lens model and its
    coefficients in nerfstudio's order (k1, k2, k3, k4, p1, p2)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    model: str
    dist: tuple[float, ...]

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def scaled_K(self, size: tuple[int, int]) -> np.ndarray:
        """``K`` for the same camera sampled at ``size`` (width, height): pixel edges stay put."""
        sx, sy = size[0] / self.width, size[1] / self.height
        return np.array([[self.fx * sx, 0, (self.cx + 0.5) * sx - 0.5],
                         [0, self.fy * sy, (self.cy + 0.5) * sy - 0.5], [0, 0, 1.0]])

    @property
    def distorted(self) -> bool:
        return any(self.dist)

    def pinhole(self) -> "Camera":
        return Camera(self.fx, self.fy, self.cx, self.cy, self.width, self.height, "PINHOLE", (0.0,) * 6)


@dataclass
class Resampler:
    """OpenCV undistortion maps from one frame camera onto the scene's pinhole camera, made once per
    (camera, image size) and shared by every frame of that camera."""

    source: Camera
    target: Camera
    _maps: dict = field(default_factory=dict)

    def _map(self, size: tuple[int, int], target_size: tuple[int, int]):
        key = (size, target_size)
        if key not in self._maps:
            import cv2

            K_src = self.source.scaled_K(size)
            K_dst = self.target.scaled_K(target_size)
            k1, k2, k3, k4, p1, p2 = self.source.dist
            if self.source.model == "OPENCV_FISHEYE":
                self._maps[key] = cv2.fisheye.initUndistortRectifyMap(
                    K_src, np.array([k1, k2, k3, k4]), np.eye(3), K_dst, target_size, cv2.CV_32FC1)
            else:  # PINHOLE (no coefficients) or OPENCV: OpenCV's order is k1 k2 p1 p2 k3
                self._maps[key] = cv2.initUndistortRectifyMap(
                    K_src, np.array([k1, k2, p1, p2, k3]), np.eye(3), K_dst, target_size, cv2.CV_32FC1)
        return self._maps[key]

    def color(self, image: np.ndarray) -> np.ndarray:
        import cv2

        if image.shape[1] != self.source.width or image.shape[0] != self.source.height:
            raise ValueError(f"colour image is {image.shape[1]}x{image.shape[0]}, transforms.json says "
                             f"{self.source.width}x{self.source.height}")
        mx, my = self._map((self.source.width, self.source.height), (self.target.width, self.target.height))
        return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def depth(self, image: np.ndarray, target_size: tuple[int, int]) -> np.ndarray:
        import cv2

        mx, my = self._map((image.shape[1], image.shape[0]), target_size)
        return cv2.remap(image, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@dataclass
class NerfstudioFrame(Frame):
    """A capture frame whose images are resampled onto the scene's pinhole camera when read."""

    resampler: Resampler | None = None
    depth_size: tuple[int, int] = (0, 0)
    """(width, height) of the scene's depth grid."""

    def read_color(self) -> np.ndarray:
        return self.resampler.color(super().read_color())

    def read_depth_raw(self) -> np.ndarray | None:
        raw = super().read_depth_raw()
        return None if raw is None else self.resampler.depth(raw, self.depth_size)


# ---- transforms.json ------------------------------------------------------------------------------
@dataclass
class _Entry:
    name: str
    color: Path
    depth: Path | None
    matrix: object
    camera: Camera


@dataclass
class _Files:
    folder: Path
    transforms: Path
    ply: Path | None
    applied: np.ndarray | None
    frames: list[_Entry]

    def all(self) -> list[Path]:
        files = [self.transforms] + ([self.ply] if self.ply is not None else [])
        for e in self.frames:
            files += [e.color] + ([e.depth] if e.depth is not None else [])
        return files


def _number(path: Path, where: str, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(path, f"{where}{key} must be a finite number, found {value!r}")
    return float(value)


def _camera(path: Path, meta: dict, frame: dict, where: str) -> Camera:
    values = {}
    for key in INTRINSIC_KEYS:
        value = frame.get(key, meta.get(key))
        if value is None:
            raise InputError(path, f"{where}no {key}: the intrinsics fl_x, fl_y, cx, cy, w, h must be "
                                   "given at the top level or in every frame")
        values[key] = _number(path, where, key, value)
    if values["w"] < 1 or values["h"] < 1 or values["w"] % 1 or values["h"] % 1:
        raise InputError(path, f"{where}w and h must be positive whole numbers of pixels")
    if values["fl_x"] <= 0 or values["fl_y"] <= 0:
        raise InputError(path, f"{where}fl_x and fl_y must be positive")
    model = meta.get("camera_model")
    params = frame.get("distortion_params", meta.get("distortion_params"))
    if params is not None:
        if not isinstance(params, list) or len(params) != 6:
            raise InputError(path, f"{where}distortion_params must be 6 numbers (k1, k2, k3, k4, p1, p2)")
        dist = tuple(_number(path, where, "distortion_params", v) for v in params)
    else:
        dist = tuple(_number(path, where, k, frame.get(k, meta.get(k, 0.0))) for k in DISTORTION_KEYS)
    if model is None:  # nerfstudio: a perspective camera, distorted when coefficients are given
        model = "OPENCV" if any(dist) else "PINHOLE"
    if model not in MODELS:
        raise InputError(path, f"camera_model {model!r} is not supported (supported: {', '.join(MODELS)})")
    k1, k2, k3, k4, p1, p2 = dist
    if model in ("PINHOLE", "SIMPLE_PINHOLE") and any(dist):
        raise InputError(path, f"{where}camera_model {model} with distortion coefficients (use OPENCV)")
    if model == "SIMPLE_PINHOLE":
        model = "PINHOLE"
    if model == "OPENCV" and k4:
        raise InputError(path, f"{where}k4 is not part of the OPENCV model (k1, k2, p1, p2, k3)")
    if model == "OPENCV_FISHEYE" and (p1 or p2):
        raise InputError(path, f"{where}p1, p2 are not part of the OPENCV_FISHEYE model (k1..k4)")
    return Camera(values["fl_x"], values["fl_y"], values["cx"] - PIXEL_CENTRE, values["cy"] - PIXEL_CENTRE,
                  int(values["w"]), int(values["h"]), model, dist)


def _matrix(path: Path, where: str, key: str, value, rows: tuple[int, ...]) -> np.ndarray:
    try:
        m = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.ndim != 2 or m.shape[1] != 4 or m.shape[0] not in rows:
        shapes = " or ".join(f"{r}x4" for r in rows)
        raise InputError(path, f"{where}{key} must be a {shapes} matrix of numbers")
    if m.shape[0] == 3:
        m = np.vstack([m, [0, 0, 0, 1.0]])
    return m


def _applied_transform(path: Path, meta: dict) -> np.ndarray | None:
    if meta.get("applied_scale", 1.0) != 1.0:
        raise InputError(path, "applied_scale other than 1 is not supported (the scan would change size)")
    if "applied_transform" not in meta:
        return None
    m = _matrix(path, "", "applied_transform", meta["applied_transform"], (3, 4))
    R = m[:3, :3]
    if (not np.all(np.isfinite(m)) or not np.allclose(m[3], [0, 0, 0, 1])
            or not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or abs(np.linalg.det(R) - 1) > 1e-5):
        raise InputError(path, "applied_transform must be a rotation and a translation")
    return m


def _relative(path: Path, folder: Path, where: str, key: str, value) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(path, f"{where}{key} must be a file path")
    return folder / value


def find_files(root: Path, scene_id: str) -> _Files:
    checks.check_scene_name(root, scene_id)
    folder = Path(root) / scene_id
    path = folder / TRANSFORMS
    if not folder.is_dir():
        raise InputError(folder, "scene folder not found")
    if not path.is_file():
        raise InputError(path, "capture not found (a nerfstudio capture folder holds transforms.json)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        raise InputError(path, "expected a JSON object with a non-empty 'frames' list")
    entries, names = [], {}
    for i, frame in enumerate(meta["frames"]):
        if not isinstance(frame, dict):
            raise InputError(path, f"frames[{i}] is not an object")
        color = _relative(path, folder, f"frames[{i}].", "file_path", frame.get("file_path"))
        where = f"frame {frame['file_path']}: "
        name = color.stem
        if name in names:
            raise InputError(path, f"{where}two frames named {name!r} ({names[name]} and {frame['file_path']})")
        names[name] = frame["file_path"]
        depth = frame.get("depth_file_path")
        depth = None if depth is None else _relative(path, folder, where, "depth_file_path", depth)
        if depth is not None and depth.suffix.lower() != ".png":
            raise InputError(depth, "only 16-bit PNG depth maps are read")
        if "transform_matrix" not in frame:
            raise InputError(path, f"{where}no transform_matrix")
        entries.append(_Entry(name, color, depth, frame["transform_matrix"], _camera(path, meta, frame, where)))
    entries.sort(key=lambda e: checks.frame_sort_key(e.name))
    with_depth = [e for e in entries if e.depth is not None]
    if with_depth and len(with_depth) != len(entries):
        missing = next(e for e in entries if e.depth is None)
        raise InputError(path, f"frame {names[missing.name]}: no depth_file_path (depth must be given "
                               "for every frame or none)")
    for e in entries:
        for file, what in ((e.color, "image"), (e.depth, "depth map")):
            if file is not None and not file.is_file():
                raise InputError(file, f"{what} of frame {e.name} not found")
    ply = meta.get("ply_file_path")
    ply = None if ply is None else _relative(path, folder, "", "ply_file_path", ply)
    if ply is not None and not ply.is_file():
        raise InputError(ply, "the capture's point cloud (ply_file_path) not found")
    return _Files(folder, path, ply, _applied_transform(path, meta), entries)


def _transform_points(m: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return (np.asarray(xyz, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]).astype(np.float32)


class NerfstudioReader(FolderReader):
    """Captures in nerfstudio's ``transforms.json`` format."""

    find_files = staticmethod(find_files)

    def __init__(self, depth_unit: float = DEFAULT_DEPTH_UNIT):
        self.depth_unit = depth_unit

    def configure(self, cfg) -> None:
        unit = cfg.nerfstudio_depth_unit
        if isinstance(unit, bool) or not isinstance(unit, (int, float)) or not unit > 0 or not math.isfinite(unit):
            raise ConfigError(f"dataset.nerfstudio_depth_unit = {unit!r}: expected metres per depth "
                              "unit, a positive number (1e-3: millimetres)")
        self.depth_unit = float(unit)

    def identity(self) -> dict:
        """Besides the files, the depth unit changes the scene: part of ingest's fingerprint."""
        return {"nerfstudio_depth_unit": self.depth_unit}

    def has_points(self, root: Path, scene_id: str) -> bool:
        """False for a capture without ``ply_file_path`` (ingest reconstructs its points)."""
        return find_files(Path(root), scene_id).ply is not None

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        files = find_files(Path(root), scene_id)
        if files.ply is None and files.frames[0].depth is None:
            raise InputError(files.transforms, "no ply_file_path and no depth_file_path: a capture "
                                               "needs its point cloud or mesh, or depth frames to "
                                               "reconstruct one from")
        # without a ply the scan is rebuilt from the depth frames at ingest (ingest.reconstruct)
        ply = checks.read_coloured_points(files.ply) if files.ply is not None else None
        labels = (checks.check_labels(files.ply, ply.label, ply.num_vertices)
                  if ply is not None and ply.label is not None else None)
        # the scene's coordinates: the capture's own (applied_transform undone)
        to_scene = np.linalg.inv(files.applied) if files.applied is not None else np.eye(4)
        xyz = None if ply is None else (
            _transform_points(to_scene, ply.xyz) if files.applied is not None else ply.xyz)

        target = files.frames[0].camera.pinhole()
        depth_size = self._depth_size(files) if files.frames[0].depth is not None else None
        resamplers: dict[Camera, Resampler] = {}
        frames, skipped = [], 0
        for e in files.frames:
            where = f"{files.transforms} (frame {e.name})"
            m = _matrix(files.transforms, f"frame {e.name}: ", "transform_matrix", e.matrix, (4,))
            if checks.parse_pose(where, m) is None:  # all -inf: no valid pose
                skipped += 1
                continue
            pose = checks.parse_pose(where, to_scene @ m @ OPENGL_TO_OPENCV)
            if not e.camera.distorted and e.camera.pinhole() == target:  # (OPENCV with zeros too)
                frames.append(Frame(e.name, e.color, e.depth, pose))
            else:
                if e.camera not in resamplers:
                    resamplers[e.camera] = Resampler(e.camera, target)
                frames.append(NerfstudioFrame(e.name, e.color, e.depth, pose, resamplers[e.camera],
                                              depth_size or (0, 0)))
        if not frames:
            raise InputError(files.transforms, "no frame has a valid pose")
        if check_images:
            self._check_images(files, target, depth_size)
        K_depth = target.scaled_K(depth_size) if depth_size is not None else None
        return Scene(scene_id=scene_id, root=files.folder, xyz=xyz, rgb=ply.rgb if ply else None,
                     faces=ply.faces if ply else None, labels=labels,
                     frames=frames, color_intrinsic=target.K, depth_intrinsic=K_depth,
                     depth_scale=1.0 / self.depth_unit, skipped_frames=skipped, source_files=files.all())

    @staticmethod
    def _depth_size(files: _Files) -> tuple[int, int]:
        """The first depth map's size: every depth map must have it (checked with the images)."""
        from PIL import Image

        first = files.frames[0].depth
        try:
            with Image.open(first) as im:
                return im.size
        except Exception as exc:  # PIL raises several kinds for a broken header
            raise InputError(first, f"unreadable depth map ({str(exc).strip() or type(exc).__name__})") from None

    def _check_images(self, files: _Files, target: Camera, depth_size: tuple[int, int] | None) -> None:
        """Every image decodes and has its frame's size (w, h); depth maps are 16-bit and share one size."""
        by_size: dict[tuple[int, int], list[Path]] = {}
        for e in files.frames:
            by_size.setdefault((e.camera.width, e.camera.height), []).append(e.color)
        for size, paths in by_size.items():
            checks.check_images(paths, depth=False, intrinsic=target.K if size == (target.width, target.height) else None,
                                intrinsic_path=files.transforms, expected_size=size, workers=self.image_workers)
        if depth_size is not None:
            checks.check_images([e.depth for e in files.frames], depth=True, expected_size=depth_size,
                                intrinsic_path=files.transforms, workers=self.image_workers)
