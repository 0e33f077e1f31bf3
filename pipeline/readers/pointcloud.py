"""Point-cloud layout: one ``<root>/<scene>.ply`` per scene, no frames.

Vertices x y z red green blue, optional ``label`` (NYU40 ids, 0 = unannotated), optional triangle
faces. This is how ``scannet_geometry`` (unlabelled or labelled scans without frames) is stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..ply import read_ply
from ..scene import Scene
from . import checks


class PointCloudReader:
    """Scans that are only a coloured point cloud (or mesh)."""

    def list_scenes(self, root: Path) -> list[str]:
        with os.scandir(root) as it:
            return sorted(e.name[:-4] for e in it
                          if e.name.endswith(".ply") and not e.name.startswith(".") and e.is_file())

    def _path(self, root: Path, scene_id: str) -> Path:
        checks.check_scene_name(root, scene_id)
        path = Path(root) / f"{scene_id}.ply"
        if not path.is_file():
            known = self.list_scenes(root)
            hint = f"{len(known)} scenes here ({', '.join(known[:3])}{', ...' if len(known) > 3 else ''})" \
                if known else "no <scene>.ply files here"
            raise InputError(path, f"unknown scene {scene_id!r}: no such file; {hint}")
        return path

    def source_files(self, root: Path, scene_id: str) -> list[Path]:
        return [self._path(root, scene_id)]

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        path = self._path(root, scene_id)
        ply = read_ply(path)
        if ply.rgb is None:
            raise InputError(path, "vertices have no colour (red, green, blue)")
        checks.check_points(path, ply.xyz)
        labels = checks.check_labels(path, ply.label, ply.num_vertices) if ply.label is not None else None
        return Scene(scene_id=scene_id, root=path, xyz=ply.xyz, rgb=ply.rgb, faces=ply.faces,
                     labels=labels, source_files=[path])
