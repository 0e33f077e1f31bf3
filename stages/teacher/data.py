"""Unlabelled scans for teacher pretraining: xyz, colour and normal, from PLY files, ScanNet scene
folders or a run store's ``points`` groups. Labels are never read here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.vocabulary import NORMAL, POINTS, RGB, XYZ, scene_group


@dataclass
class Scan:
    """One scan's points as the teacher sees them."""

    name: str
    """Scene id (file stem for a loose PLY)."""
    xyz: np.ndarray
    """(N, 3) float32 positions in metres."""
    rgb: np.ndarray
    """(N, 3) uint8 colours."""
    normal: np.ndarray
    """(N, 3) float32 unit normals."""


@dataclass
class StoreScenes:
    """Pretraining scans taken from a run store's ``scenes/<id>/points`` groups."""

    store: str
    """Path of the store."""
    scenes: list[str]
    """Scene ids."""


def resolve_sources(geometry: list[Path] | StoreScenes) -> list[str]:
    """Stable names of the pretraining inputs: PLY files and ScanNet scene folders found under the
    given paths (folders are searched one level deep), or ``store::scene`` entries. Raises InputError
    for a path that is neither."""
    if isinstance(geometry, StoreScenes):
        return [f"{geometry.store}::{s}" for s in geometry.scenes]
    out: list[str] = []
    for raw in geometry:
        path = Path(raw)
        if path.is_file() and path.suffix.lower() == ".ply":
            out.append(str(path.resolve()))
        elif path.is_dir() and _scannet_mesh(path) is not None:
            out.append(str(path.resolve()))
        elif path.is_dir():
            found = sorted(str(p.resolve()) for p in path.glob("*.ply"))
            found += sorted(str(p.resolve()) for p in path.iterdir()
                            if p.is_dir() and _scannet_mesh(p) is not None)
            if not found:
                raise InputError(path, "no .ply scans or ScanNet scene folders here")
            out.extend(found)
        else:
            raise InputError(path, "not a .ply file or a folder of scans")
    return out


def load_scan(source: str, normal_neighbours: int = 16) -> Scan:
    """Read one entry of ``resolve_sources``. Normals as ingest makes them (so pretraining sees what
    inference will): the store's; for a ScanNet scene folder, the ScanNet reader and ingest's normals
    (faces, else PCA towards the nearest camera); for a loose PLY, faces, else PCA towards the
    scan's centroid (pipeline.normals)."""
    if "::" in source:
        from geopurify.pipeline.store import Store

        store_path, scene = source.rsplit("::", 1)
        store = Store(store_path, create=False)
        group = scene_group(scene, POINTS)
        store.require_done(group, "ingest (points)")
        from geopurify.pipeline.points import stored_rgb

        rgb = stored_rgb(store, scene)
        if rgb is None:
            raise InputError(f"{store_path}/{group}", "a scan without colour: teacher pretraining needs colour")
        return Scan(scene, store.read(group, XYZ).astype(np.float32), rgb,
                    store.read(group, NORMAL).astype(np.float32))
    path = Path(source)
    if path.is_dir():
        from geopurify.pipeline.readers import get_reader
        from geopurify.stages.ingest.config import IngestConfig
        from geopurify.stages.ingest.stage import points_output

        scene = get_reader("scannet").read(path.parent, path.name)
        if scene.xyz is None:
            raise InputError(path, "no mesh: teacher pretraining reads scans, not frames (ingest one "
                                   "into a store, which reconstructs it, and pretrain from the store)")
        arrays = points_output(scene, IngestConfig(normal_neighbours=normal_neighbours), "scannet").arrays
        return Scan(path.name, arrays[XYZ], arrays[RGB], arrays[NORMAL])
    from geopurify.pipeline.normals import scene_normals
    from geopurify.pipeline.ply import read_ply

    ply = read_ply(path)
    if ply.rgb is None:
        raise InputError(path, "PLY vertices lack red/green/blue")
    normal = scene_normals(ply.xyz, ply.faces, k=normal_neighbours)
    return Scan(path.stem, ply.xyz, ply.rgb, normal)


def _scannet_mesh(folder: Path) -> Path | None:
    mesh = folder / f"{folder.name}_vh_clean_2.ply"
    return mesh if mesh.is_file() else None
