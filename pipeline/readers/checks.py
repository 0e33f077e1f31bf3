"""Input checks shared by the readers: each turns a bad file into one ``InputError`` naming it.

Readers run every check before returning a Scene, so a bad scene fails before anything is written.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError

NYU40_MAX = 40
"""Largest NYU40 class id; 0 means unannotated."""

COLOUR_MODES = {"RGB", "RGBA", "L", "LA", "P", "CMYK", "YCbCr"}

PRINCIPAL_POINT_SLACK = 0.2
"""How far (as a fraction of the image size) the principal point may sit from the image centre
before the intrinsics are taken to belong to images of another size."""


def scene_folders(root: Path) -> list[str]:
    """Every non-hidden sub-folder: a folder that is not a valid scene fails with a reason when
    read, rather than being skipped silently."""
    import os

    with os.scandir(root) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith((".", "_")))


def check_scene_name(root: Path, scene_id: str) -> None:
    """A scene id is one plain path component: no separators, not hidden, not ``..``."""
    if (not scene_id or scene_id != scene_id.strip() or "/" in scene_id or "\\" in scene_id
            or scene_id.startswith(".")):
        raise InputError(Path(root) / scene_id, f"not a valid scene name: {scene_id!r}")


def frame_sort_key(name: str) -> tuple:
    """Natural order: ``2`` before ``10``, ``frame2`` before ``frame10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def read_matrix(path: Path, rows: int = 4, cols: int = 4) -> np.ndarray:
    """A whitespace-separated matrix file (ScanNet poses and intrinsics) as float64."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable ({exc})") from None
    try:
        values = [float(tok) for tok in text.split()]
    except ValueError as exc:
        raise InputError(path, f"expected {rows * cols} numbers ({exc})") from None
    if len(values) != rows * cols:
        raise InputError(path, f"expected {rows * cols} numbers, found {len(values)}")
    return np.array(values, dtype=np.float64).reshape(rows, cols)


def parse_pose(path: Path, m: np.ndarray) -> np.ndarray | None:
    """Check a 4x4 camera-to-world matrix; None for ScanNet's invalid-pose marker (all ``-inf``)."""
    if np.all(np.isneginf(m)):
        return None
    if not np.all(np.isfinite(m)):
        raise InputError(path, "pose has NaN or infinite values (only the all -inf marker of an "
                               "invalid pose is allowed)")
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-4):
        raise InputError(path, f"pose's last row is {m[3].tolist()}, expected [0, 0, 0, 1]")
    if abs(np.linalg.det(m[:3, :3]) - 1.0) > 0.05:
        raise InputError(path, "pose's rotation is not a rotation (determinant "
                               f"{np.linalg.det(m[:3, :3]):.3f}, expected 1)")
    return m


def read_pose(path: Path) -> np.ndarray | None:
    return parse_pose(path, read_matrix(path))


def posed_frames(frames: Sequence[tuple], pose_folder: Path) -> tuple[list, int]:
    """Frames (name, colour, depth, pose file) with a usable pose, as ``Frame`` objects, and how
    many were skipped for an invalid pose (ScanNet marks lost tracking with -inf)."""
    from ..scene import Frame

    kept, skipped = [], 0
    for name, color, depth, pose_path in frames:
        pose = read_pose(pose_path)
        if pose is None:
            skipped += 1
        else:
            kept.append(Frame(name=name, color_path=color, depth_path=depth, pose=pose))
    if not kept:
        raise InputError(pose_folder, "no frame has a valid pose")
    return kept, skipped


def check_intrinsic(path: Path | str, K: np.ndarray) -> np.ndarray:
    """A pinhole matrix: finite, positive focal lengths. Returns the (3, 3) part."""
    K = np.asarray(K, dtype=np.float64)[:3, :3]
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise InputError(path, "intrinsics need finite, positive focal lengths")
    return K


def read_intrinsic(path: Path) -> np.ndarray:
    """ScanNet's 4x4 intrinsic file -> (3, 3) pinhole matrix."""
    if not Path(path).is_file():
        raise InputError(path, "camera intrinsics not found")
    return check_intrinsic(path, read_matrix(path))


def read_axis_alignment(path: Path | None) -> np.ndarray:
    """``axisAlignment = `` 16 numbers from a ScanNet ``<scene>.txt``; identity when absent."""
    if path is None:
        return np.eye(4)
    for line in Path(path).read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "axisAlignment":
            try:
                values = [float(tok) for tok in value.split()]
            except ValueError:
                values = []
            if len(values) != 16 or not np.all(np.isfinite(values)):
                raise InputError(path, "axisAlignment must be 16 finite numbers")
            return np.array(values, dtype=np.float64).reshape(4, 4)
    return np.eye(4)


def check_points(path: Path, xyz: np.ndarray) -> None:
    if xyz.shape[0] == 0:
        raise InputError(path, "no vertices (empty point cloud)")
    if not np.all(np.isfinite(xyz)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(xyz), axis=1))[0])
        raise InputError(path, f"vertex {bad} has a NaN or infinite coordinate")


def read_coloured_points(path: Path):
    """A PLY whose vertices carry x y z and red green blue, checked (see ``check_points``)."""
    from ..ply import read_ply

    ply = read_ply(path)
    if ply.rgb is None:
        raise InputError(path, "vertices have no colour (red, green, blue)")
    check_points(path, ply.xyz)
    return ply


def check_labels(path: Path, labels: np.ndarray, num_points: int) -> np.ndarray:
    """NYU40 ids (0..40), one per point -> int16."""
    if labels.shape[0] != num_points:
        raise InputError(path, f"{labels.shape[0]} labels for {num_points} points")
    if labels.size and (labels.min() < 0 or labels.max() > NYU40_MAX):
        bad = labels[(labels < 0) | (labels > NYU40_MAX)][0]
        raise InputError(path, f"label {int(bad)} outside the NYU40 ids 0..{NYU40_MAX}")
    return labels.astype(np.int16)


def _decode(path: Path) -> tuple[tuple[int, int], str] | str:
    """Fully decode one image: its (width, height) and mode, or the problem as text."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            size, mode = im.size, im.mode
            if im.format == "JPEG":
                # DCT-domain downscaling: the whole entropy-coded stream is still decoded (so
                # truncation and bad data still fail) at a quarter of the cost of a full decode
                im.draft(mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
            im.load()  # decodes every byte: a truncated or corrupt file fails here
            return size, mode
    except FileNotFoundError:
        return "image not found"
    except UnidentifiedImageError:
        return "unreadable image (not an image, or a corrupt header)"
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad files
        return f"unreadable or truncated image ({str(exc).strip() or type(exc).__name__})"


def _decode_all(paths: Sequence[Path], workers: int) -> list:
    """``_decode`` of every path, on ``workers`` threads (decoding releases the GIL)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(_decode, paths))


def check_frame_images(frames: Sequence[tuple], max_unreadable: float, color: dict,
                       depth: dict | None = None, workers: int = 2) -> int:
    """Decode every frame's colour (and, with ``depth``, depth) image; a frame with an image that
    does not decode (missing, truncated, not an image) is unreadable. Up to ``max_unreadable`` (a
    share of the frames: ``fuse.max_unreadable_frames``, the rule fuse applies) are tolerated and
    counted; more fail, naming the first bad file. The readable images then get ``check_images``'
    checks (``color`` / ``depth``: its keyword arguments). Returns the unreadable count."""
    colors = [f[1] for f in frames]
    depths = [f[2] for f in frames] if depth is not None else None
    color_res = _decode_all(colors, workers)
    depth_res = _decode_all(depths, workers) if depths is not None else None
    bad = []
    for i in range(len(frames)):  # the first bad file of each frame, in frame order
        if isinstance(color_res[i], str):
            bad.append((colors[i], color_res[i]))
        elif depth_res is not None and isinstance(depth_res[i], str):
            bad.append((depths[i], depth_res[i]))
    if bad and (len(bad) > max_unreadable * len(frames) or len(bad) == len(frames)):
        path, why = bad[0]
        if max_unreadable > 0:
            why += (f"; {len(bad)} of the scene's {len(frames)} frames cannot be read, more than "
                    f"fuse.max_unreadable_frames = {max_unreadable}")
        raise InputError(path, why)
    unreadable = {str(path) for path, _ in bad}
    keep = [i for i in range(len(frames)) if str(colors[i]) not in unreadable
            and (depths is None or str(depths[i]) not in unreadable)]
    _check_decoded([colors[i] for i in keep], [color_res[i] for i in keep], depth=False, **color)
    if depths is not None:
        _check_decoded([depths[i] for i in keep], [depth_res[i] for i in keep], depth=True, **depth)
    return len(bad)


def check_images(paths: Sequence[Path], depth: bool, intrinsic: np.ndarray | None = None,
                 intrinsic_path: Path | str | None = None,
                 expected_size: tuple[int, int] | None = None, workers: int = 2) -> tuple[int, int]:
    """Decode every image (on ``workers`` threads: decoding releases the GIL), check they share one
    size (``expected_size`` when given) that matches the intrinsics' principal point, and that depth
    images are 16-bit. Returns the (width, height) of the images."""
    if not paths:
        raise ValueError("check_images needs at least one image")
    results = _decode_all(paths, workers)
    for path, res in zip(paths, results):  # report the first bad frame in frame order
        if isinstance(res, str):
            raise InputError(path, res)
    return _check_decoded(paths, results, depth, intrinsic, intrinsic_path, expected_size)


def _check_decoded(paths: Sequence[Path], results: list, depth: bool, intrinsic: np.ndarray | None = None,
                   intrinsic_path: Path | str | None = None,
                   expected_size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The checks of ``check_images`` on images that decoded: one size, the right modes, intrinsics
    of that size."""
    kind = "depth" if depth else "colour"
    for path, (_, mode) in zip(paths, results):
        if depth and not mode.startswith("I"):
            raise InputError(path, f"depth image has mode {mode}; expected 16-bit single channel")
        if not depth and mode not in COLOUR_MODES:
            raise InputError(path, f"colour image has mode {mode}; expected RGB")
    sizes = [size for size, _ in results]
    # the size most frames have; the odd ones out are the ones to name
    values, counts = np.unique(np.array(sizes), axis=0, return_counts=True)
    reference = tuple(int(v) for v in values[int(np.argmax(counts))])
    if expected_size is not None and tuple(expected_size) != reference:
        where = intrinsic_path if intrinsic_path is not None else paths[0]
        raise InputError(where, f"{'depth' if depth else 'color'} size is {expected_size[0]}x{expected_size[1]}, "
                                f"but the {kind} images are {reference[0]}x{reference[1]}")
    for path, size in zip(paths, sizes):
        if tuple(size) != reference:
            raise InputError(path, f"{kind} image is {size[0]}x{size[1]}, the scene's {kind} images "
                                   f"are {reference[0]}x{reference[1]}")
    if intrinsic is not None:
        w, h = reference
        cx, cy = intrinsic[0, 2], intrinsic[1, 2]
        if (abs(cx - (w - 1) / 2) > PRINCIPAL_POINT_SLACK * w
                or abs(cy - (h - 1) / 2) > PRINCIPAL_POINT_SLACK * h):
            raise InputError(paths[0], f"{kind} image is {w}x{h} but the principal point "
                                       f"({cx:.1f}, {cy:.1f}) of {intrinsic_path} is far from its "
                                       "centre: the intrinsics are for images of another size")
    return reference
