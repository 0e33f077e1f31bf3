"""Point-cloud layout: one ``<root>/<scene>.ply`` per scene, no frames.

Vertices x y z, optional red green blue (a cloud without them, a LiDAR scan say, is read with its
colour recorded as absent: ``Scene.rgb`` None, no ``rgb`` array and ``has_color: false`` in the
points group), optional ``label`` (NYU40 ids, 0 = unannotated; or, with
``dataset.ply_labels = "scannet200"``, ScanNet category ids as in the meshes ScanNet's ScanNet200
preprocessing writes), optional triangle faces. This is how ``scannet_geometry`` (unlabelled or
labelled scans without frames) is stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, InputError
from ..ply import read_ply
from ..scene import Scene
from . import checks
from .label_ids import PLY_LABELS, check_category_ids


class PointCloudReader:
    """Scans that are only a coloured point cloud (or mesh)."""

    labels = "nyu40"

    def configure(self, cfg) -> None:
        if cfg.ply_labels not in PLY_LABELS:
            raise ConfigError(f"dataset.ply_labels {cfg.ply_labels!r}: expected one of {', '.join(PLY_LABELS)}")
        self.labels = cfg.ply_labels

    def identity(self) -> dict:
        """Reader options that change the scene (part of ingest's fingerprint); none by default."""
        return {} if self.labels == "nyu40" else {"ply_labels": self.labels}

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
        checks.check_points(path, ply.xyz)
        labels, extra = None, {}
        if ply.label is not None and self.labels == "scannet200":
            extra["scannet200"] = check_category_ids(path, ply.label)
        elif ply.label is not None:
            labels = checks.check_labels(path, ply.label, ply.num_vertices)
        return Scene(scene_id=scene_id, root=path, xyz=ply.xyz, rgb=ply.rgb, faces=ply.faces,
                     labels=labels, extra_labels=extra, source_files=[path])
