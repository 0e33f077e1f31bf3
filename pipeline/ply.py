"""Small PLY helpers on top of ``plyfile``: vertices (xyz, rgb, label) and optional triangle faces.

Used by the readers (ScanNet meshes, point-cloud scans, generic captures), the synthetic scene
generator and the exports. Reading never raises anything but ``InputError`` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError


@dataclass
class PlyContent:
    """What a PLY file holds, as plain arrays."""

    xyz: np.ndarray
    """(N, 3) float32 vertex positions."""
    rgb: np.ndarray | None
    """(N, 3) uint8 vertex colours, when the file has red/green/blue."""
    label: np.ndarray | None
    """(N,) int64 values of the vertex property ``label``, when present."""
    faces: np.ndarray | None
    """(F, 3) int64 triangle vertex indices, when the file has a face element."""

    @property
    def num_vertices(self) -> int:
        return int(self.xyz.shape[0])


def read_ply(path: str | Path, want_faces: bool = True) -> PlyContent:
    """Read vertices (x y z required; red green blue and label optional) and triangle faces."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "PLY file not found")
    # faces are triangles in every file we meet: telling plyfile the list length makes the face
    # element one vectorised read instead of a Python loop over faces; memory-mapping is ~100x
    # faster than plyfile's buffered read. A file with other polygons is re-read the slow way.
    try:
        ply = _parse(path, {"face": {"vertex_indices": 3}})
    except Exception:
        try:
            ply = _parse(path, {})
        except Exception as exc:  # plyfile raises several types for a bad or truncated file
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(path, f"not a readable PLY file ({problem})") from None
    names = [e.name for e in ply.elements]
    if "vertex" not in names:
        raise InputError(path, "PLY file has no vertex element")
    v = ply["vertex"].data
    props = set(v.dtype.names or ())
    if not {"x", "y", "z"} <= props:
        raise InputError(path, "PLY vertices lack x, y, z")
    # np.stack / astype copy out of the memory map, so no array keeps the file open
    xyz = np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float32)
    rgb = None
    if {"red", "green", "blue"} <= props:
        rgb = np.stack([v["red"], v["green"], v["blue"]], axis=1)
        if rgb.dtype != np.uint8:
            if rgb.min(initial=0) < 0 or rgb.max(initial=0) > 255:
                raise InputError(path, "vertex colours outside 0..255")
            rgb = rgb.astype(np.uint8)
    label = np.asarray(v["label"]).astype(np.int64) if "label" in props else None
    faces = None
    if want_faces and "face" in names and len(ply["face"].data):
        faces = _faces_of(path, ply["face"].data, xyz.shape[0])
    return PlyContent(xyz=xyz, rgb=np.ascontiguousarray(rgb) if rgb is not None else None,
                      label=label, faces=faces)


def _parse(path: Path, known_list_len: dict):
    from plyfile import PlyData

    with open(path, "rb") as fh:
        return PlyData.read(fh, mmap="c", known_list_len=known_list_len)


def _faces_of(path: Path, data: np.ndarray, num_vertices: int) -> np.ndarray:
    fields = data.dtype.names or ()
    key = "vertex_indices" if "vertex_indices" in fields else "vertex_index" if "vertex_index" in fields else None
    if key is None:
        raise InputError(path, "PLY faces lack a vertex_indices property")
    col = data[key]
    if col.dtype == object:  # plyfile fell back to per-face arrays (list length differs from 3)
        lengths = np.fromiter((len(f) for f in col), dtype=np.int64, count=len(col))
        if np.any(lengths != 3):
            raise InputError(path, "PLY faces must be triangles")
        col = np.stack(col)
    faces = np.asarray(col, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise InputError(path, f"PLY face indices outside 0..{num_vertices - 1}")
    return faces


def write_ply(path: str | Path, xyz: np.ndarray, rgb: np.ndarray | None = None,
              label: np.ndarray | None = None, faces: np.ndarray | None = None,
              extra: dict[str, np.ndarray] | None = None, label_dtype: str = "u2",
              text: bool = False, comments: list[str] = ()) -> Path:
    """Write a binary (or ASCII) PLY: x y z float32, red green blue uchar, ``label`` (ScanNet uses
    ushort), any ``extra`` per-vertex scalar properties, and triangle faces as
    ``vertex_indices`` (uchar count, int indices, like ScanNet), and ``comments`` as header comment
    lines (one line each, ASCII). Byte-identical for equal input."""
    from plyfile import PlyData, PlyElement

    xyz = np.asarray(xyz, dtype=np.float32).reshape(-1, 3)
    n = xyz.shape[0]
    columns: list[tuple[str, np.ndarray]] = [("x", xyz[:, 0]), ("y", xyz[:, 1]), ("z", xyz[:, 2])]
    if rgb is not None:
        rgb = np.asarray(rgb, dtype=np.uint8).reshape(n, 3)
        columns += [("red", rgb[:, 0]), ("green", rgb[:, 1]), ("blue", rgb[:, 2])]
    if label is not None:
        columns.append(("label", np.asarray(label).reshape(n).astype(label_dtype)))
    for name, values in (extra or {}).items():
        columns.append((name, np.asarray(values).reshape(n)))
    vertex = np.empty(n, dtype=[(name, col.dtype) for name, col in columns])
    for name, col in columns:
        vertex[name] = col
    elements = [PlyElement.describe(vertex, "vertex")]
    if faces is not None:
        faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)
        face = np.empty(faces.shape[0], dtype=[("vertex_indices", "i4", (3,))])
        face["vertex_indices"] = faces
        elements.append(PlyElement.describe(face, "face", len_types={"vertex_indices": "u1"}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    PlyData(elements, text=text, comments=list(comments)).write(str(path))
    return path
