"""A ScanNet scene in the exported layout written as a nerfstudio capture (``transforms.json``, as
``ns-process-data`` writes it), for the tests and the layout bench. Spelled out from nerfstudio's
format, not from our reader: OpenGL camera axes, pixel centres at +0.5, depth in millimetres
registered to the colour camera.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..ply import read_ply, write_ply

OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])
"""Camera axes x right, y down, z forward -> x right, y up, z backward (its own inverse)."""


def depth_in_color_camera(depth_mm: np.ndarray, K_depth: np.ndarray, K_color: np.ndarray,
                          color_size: tuple[int, int]) -> np.ndarray:
    """A depth image of the depth camera re-rendered in the colour camera (same pose), on a grid
    of the depth image's size (the colour camera scaled to it, pixel edges kept): each depth
    pixel's point projected, the nearest one kept, 0 = none."""
    h, w = depth_mm.shape
    sx, sy = w / color_size[0], h / color_size[1]
    K_color = np.array([[K_color[0, 0] * sx, 0, (K_color[0, 2] + 0.5) * sx - 0.5],
                        [0, K_color[1, 1] * sy, (K_color[1, 2] + 0.5) * sy - 0.5], [0, 0, 1.0]])
    v, u = np.nonzero(depth_mm)
    z = depth_mm[v, u].astype(np.float64)
    x = (u - K_depth[0, 2]) / K_depth[0, 0] * z
    y = (v - K_depth[1, 2]) / K_depth[1, 1] * z
    uc = np.rint(x / z * K_color[0, 0] + K_color[0, 2]).astype(np.int64)
    vc = np.rint(y / z * K_color[1, 1] + K_color[1, 2]).astype(np.int64)
    ok = (uc >= 0) & (uc < w) & (vc >= 0) & (vc < h)
    out = np.full(h * w, np.iinfo(np.uint16).max, dtype=np.uint16)
    np.minimum.at(out, vc[ok] * w + uc[ok], depth_mm[v[ok], u[ok]])
    out[out == np.iinfo(np.uint16).max] = 0
    return out.reshape(h, w)


def scannet_to_nerfstudio(scene_dir: str | Path, out_root: str | Path, depth: bool = False,
                          applied_transform: np.ndarray | None = None) -> Path:
    """``<out_root>/<scene>/``: ``transforms.json`` with a PINHOLE camera (top-level intrinsics),
    ``images/<i>.jpg`` (the colour files as they are), ``points.ply`` (the mesh with its labels) as
    ``ply_file_path``, and with ``depth`` the depth re-rendered in the colour camera as
    ``depth/<i>.png`` (millimetres). Frames with ScanNet's invalid-pose marker are left out, as a
    capture has none. ``applied_transform`` (4x4): the poses and the ply are written in
    ``applied_transform @ scan coordinates``, and the matrix recorded as nerfstudio does."""
    from PIL import Image

    from ..readers.checks import read_matrix

    src = Path(scene_dir)
    scene_id = src.name
    dst = Path(out_root) / scene_id
    (dst / "images").mkdir(parents=True, exist_ok=True)
    A = np.eye(4) if applied_transform is None else np.asarray(applied_transform, dtype=np.float64)
    mesh = read_ply(src / f"{scene_id}_vh_clean_2.ply")
    labels_path = src / f"{scene_id}_vh_clean_2.labels.ply"
    label = read_ply(labels_path, want_faces=False).label if labels_path.is_file() else None
    xyz = mesh.xyz if applied_transform is None else (mesh.xyz.astype(np.float64) @ A[:3, :3].T + A[:3, 3])
    write_ply(dst / "points.ply", np.asarray(xyz, dtype=np.float32), mesh.rgb, label=label, faces=mesh.faces)

    K = read_matrix(src / "intrinsic" / "intrinsic_color.txt")
    K_depth = read_matrix(src / "intrinsic" / "intrinsic_depth.txt")
    names = sorted((p.stem for p in (src / "color").glob("*.jpg")), key=int)
    with Image.open(src / "color" / f"{names[0]}.jpg") as im:
        w, h = im.size
    meta = {"camera_model": "PINHOLE", "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2] + 0.5,
            "cy": K[1, 2] + 0.5, "w": w, "h": h, "ply_file_path": "points.ply", "frames": []}
    if applied_transform is not None:
        meta["applied_transform"] = A[:3].tolist()
    if depth:
        (dst / "depth").mkdir(exist_ok=True)
    for name in names:
        pose = read_matrix(src / "pose" / f"{name}.txt")
        if np.all(np.isneginf(pose)):
            continue
        shutil.copyfile(src / "color" / f"{name}.jpg", dst / "images" / f"{name}.jpg")
        frame = {"file_path": f"images/{name}.jpg", "transform_matrix": (A @ pose @ OPENCV_TO_OPENGL).tolist()}
        if depth:
            with Image.open(src / "depth" / f"{name}.png") as im:
                d = np.asarray(im)
            Image.fromarray(depth_in_color_camera(d, K_depth, K, (w, h))).save(dst / "depth" / f"{name}.png")
            frame["depth_file_path"] = f"depth/{name}.png"
        meta["frames"].append(frame)
    (dst / "transforms.json").write_text(json.dumps(meta, indent=2) + "\n")
    return dst
