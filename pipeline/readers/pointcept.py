"""Pointcept layout: the preprocessed ScanNet scenes of Pointcept (and the codebases that share it)::

    <root>/<scene>/coord.npy        (N, 3) float32 mesh vertices, scan coordinates
    <root>/<scene>/color.npy        (N, 3) uint8 colours
    <root>/<scene>/normal.npy       optional (N, 3) vertex normals (kept as the scan's normals)
    <root>/<scene>/segment20.npy    optional (N,) ScanNet-20 class index, -1 = unannotated
    <root>/<scene>/segment200.npy   optional (N,) ScanNet200 class index, -1 = unannotated
    <root>/<scene>/instance.npy     optional, not read

``root`` is a split folder (``scannet/val``) or the folder above the splits (``scannet``), whose
``<split>/<scene>`` folders are then the scenes. No frames: fuse such scenes with a source that
needs none (``openscene``) or one that renders virtual views (``simulated``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..scene import Scene
from . import checks
from .label_ids import decode_indices

POINTS_FILE = "coord.npy"
OPTIONAL = ("normal.npy", "segment20.npy", "segment200.npy")


def _subfolders(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        return sorted(Path(e.path) for e in it if e.is_dir() and not e.name.startswith((".", "_")))


def _is_split_folder(root: Path) -> bool:
    """Whether ``root``'s sub-folders are scenes (one of them has coord.npy) rather than splits."""
    return any((f / POINTS_FILE).is_file() for f in _subfolders(root))


def load_npy(path: Path, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    """A numeric ``.npy`` array of shape (N, *shape_tail), never unpickling anything."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npy array ({str(exc).strip()[:200]})") from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) \
            or arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "(N" + "".join(f", {d}" for d in shape_tail) + ")"
        raise InputError(path, f"{what}: expected a numeric {want} array, found {arr.dtype} {arr.shape}")
    return arr


class PointceptReader:
    """Scenes preprocessed by Pointcept: mesh vertices with colours, normals and class indices."""

    def list_scenes(self, root: Path) -> list[str]:
        root = Path(root)
        if _is_split_folder(root):
            return [f.name for f in _subfolders(root)]
        return sorted(s.name for split in _subfolders(root) for s in _subfolders(split))

    def _folder(self, root: Path, scene_id: str) -> Path:
        root = Path(root)
        checks.check_scene_name(root, scene_id)
        if (root / scene_id).is_dir():
            return root / scene_id
        found = [split / scene_id for split in _subfolders(root) if (split / scene_id).is_dir()]
        if len(found) > 1:
            raise InputError(root, f"scene {scene_id!r} is in several splits "
                                   f"({', '.join(f.parent.name for f in found)}); set dataset.root to one split")
        if not found:
            raise InputError(root / scene_id, "scene folder not found (looked in the root and in its split folders)")
        return found[0]

    def source_files(self, root: Path, scene_id: str) -> list[Path]:
        folder = self._folder(root, scene_id)
        points = folder / POINTS_FILE
        if not points.is_file():
            raise InputError(points, "scene points not found (a Pointcept scene needs coord.npy)")
        if not (folder / "color.npy").is_file():
            raise InputError(folder / "color.npy", "scene colours not found")
        return [points, folder / "color.npy"] + [folder / f for f in OPTIONAL if (folder / f).is_file()]

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        files = self.source_files(root, scene_id)
        folder = files[0].parent
        xyz = load_npy(files[0], (3,), "coordinates")
        if not np.issubdtype(xyz.dtype, np.floating):
            raise InputError(files[0], f"coordinates must be floats, found {xyz.dtype}")
        xyz = xyz.astype(np.float32)
        checks.check_points(files[0], xyz)
        n = len(xyz)
        rgb = _colours(files[1], load_npy(files[1], (3,), "colours"), n)
        normals = None
        if (folder / "normal.npy").is_file():
            normals = _matching(folder / "normal.npy", load_npy(folder / "normal.npy", (3,), "normals"), n)
            if not np.all(np.isfinite(normals)):
                raise InputError(folder / "normal.npy", "normals have NaN or infinite values")
            normals = normals.astype(np.float32)
        labels, extra = None, {}
        for name, label_set in (("segment20.npy", "scannet20"), ("segment200.npy", "scannet200")):
            path = folder / name
            if path.is_file():
                values = _matching(path, load_npy(path, (), "class indices"), n)
                space, ids = decode_indices(path, values, label_set, ignore=(-1,), what=name[:-4])
                if space == "nyu40":
                    labels = ids
                else:
                    extra[space] = ids
        return Scene(scene_id=scene_id, root=folder, xyz=xyz, rgb=rgb, labels=labels, extra_labels=extra,
                     normals=normals, source_files=files)


def _matching(path: Path, arr: np.ndarray, n: int) -> np.ndarray:
    if len(arr) != n:
        raise InputError(path, f"{len(arr)} rows, but coord.npy has {n} points")
    return arr


def _colours(path: Path, arr: np.ndarray, n: int) -> np.ndarray:
    """Pointcept colours: 0..255 per channel (uint8, or whole numbers of another type)."""
    _matching(path, arr, n)
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 255
                     or not np.all(arr == np.round(arr))):
        raise InputError(path, "colours must be whole numbers in 0..255")
    return arr.astype(np.uint8)
