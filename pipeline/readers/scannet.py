"""ScanNet layout (also what ``pipeline.synthetic`` writes)::

    <root>/<scene>/<scene>_vh_clean_2.ply            vertices x y z red green blue (+ faces, optional);
                                                     without it, the scan is reconstructed at ingest
    <root>/<scene>/<scene>_vh_clean_2.labels.ply     optional: same vertices, property label (NYU40)
    <root>/<scene>/<scene>.txt                       optional: axisAlignment = 16 numbers
    <root>/<scene>/color/<i>.jpg                     colour frames
    <root>/<scene>/depth/<i>.png                     uint16 depth, millimetres, 0 = no reading
    <root>/<scene>/pose/<i>.txt                      4x4 camera-to-world; all -inf = invalid, skipped
    <root>/<scene>/intrinsic/intrinsic_color.txt     4x4, for the colour images
    <root>/<scene>/intrinsic/intrinsic_depth.txt     4x4, for the depth images

The frames are the ``color/*.jpg`` files; each needs its depth image and pose.

A raw ScanNet download has no ``color/``, ``depth/``, ``pose/`` or ``intrinsic/`` folders but the
recording they are exported from::

    <root>/<scene>/<scene>.sens                      SensorData v4: intrinsics, poses, JPEG + zlib depth

Exported frames are read when ``color/`` exists, else the ``.sens`` file, in place (``readers.sens``):
frame ``<i>`` is the i-th recorded frame, as ScanNet's exporter names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..ply import read_ply
from ..scene import Scene
from . import checks
from .base import FolderReader


@dataclass
class _Files:
    """Where a ScanNet scene's files are; finding them reads nothing but folder listings."""

    folder: Path
    mesh: Path | None
    """None: frames only, the scan is reconstructed from the depth frames at ingest."""
    labels: Path | None
    meta: Path | None
    color_intrinsic: Path | None
    depth_intrinsic: Path | None
    frames: list[tuple[str, Path, Path, Path]]
    """(name, colour, depth, pose) of every exported frame, in frame order."""
    sens: Path | None = None
    """The raw recording, when the scene has no exported frames (then intrinsics are None)."""

    def all(self) -> list[Path]:
        files = [p for p in (self.mesh, self.color_intrinsic, self.depth_intrinsic, self.sens,
                             self.labels, self.meta) if p is not None]
        for _, color, depth, pose in self.frames:
            files += [color, depth, pose]
        return files


def _listing(folder: Path, suffix: str) -> dict[str, Path]:
    """Stem -> path of the files in ``folder`` ending in ``suffix``."""
    if not folder.is_dir():
        raise InputError(folder, "folder not found")
    with os.scandir(folder) as it:
        return {e.name[: -len(suffix)]: Path(e.path) for e in it
                if e.name.endswith(suffix) and not e.name.startswith(".") and e.is_file()}


def find_files(root: Path, scene_id: str) -> _Files:
    checks.check_scene_name(root, scene_id)
    folder = Path(root) / scene_id
    if not folder.is_dir():
        raise InputError(folder, "scene folder not found")
    mesh = folder / f"{scene_id}_vh_clean_2.ply"
    labels = folder / f"{scene_id}_vh_clean_2.labels.ply"
    if not mesh.is_file() and labels.is_file():
        raise InputError(mesh, f"scene mesh not found, but {labels.name} labels its vertices")
    meta = folder / f"{scene_id}.txt"
    labels, meta = (labels if labels.is_file() else None), (meta if meta.is_file() else None)
    sens = folder / f"{scene_id}.sens"
    if not (folder / "color").is_dir() and sens.is_file():  # a raw download: frames in the recording
        return _Files(folder=folder, mesh=mesh if mesh.is_file() else None, labels=labels, meta=meta,
                      color_intrinsic=None,
                      depth_intrinsic=None, frames=[], sens=sens)
    intrinsic = folder / "intrinsic"
    color_k, depth_k = intrinsic / "intrinsic_color.txt", intrinsic / "intrinsic_depth.txt"
    for path in (color_k, depth_k):
        if not path.is_file():
            raise InputError(path, "camera intrinsics not found")
    if not (folder / "color").is_dir():
        raise InputError(folder / "color", f"no colour frames folder and no {sens.name} (a ScanNet scene "
                                           "needs its frames; use dataset.kind = pointcloud for scans "
                                           "without frames)")
    colors = _listing(folder / "color", ".jpg")
    if not colors:
        raise InputError(folder / "color", "no colour frames (<i>.jpg)")
    depths = _listing(folder / "depth", ".png")
    poses = _listing(folder / "pose", ".txt")
    frames = []
    for name in sorted(colors, key=checks.frame_sort_key):
        if name not in depths:
            raise InputError(folder / "depth" / f"{name}.png", f"depth image of frame {name} not found")
        if name not in poses:
            raise InputError(folder / "pose" / f"{name}.txt", f"pose of frame {name} not found")
        frames.append((name, colors[name], depths[name], poses[name]))
    return _Files(folder=folder, mesh=mesh if mesh.is_file() else None, labels=labels, meta=meta,
                  color_intrinsic=color_k,
                  depth_intrinsic=depth_k, frames=frames)


class ScanNetReader(FolderReader):
    """Scenes in the ScanNet layout (real exports and synthetic scenes)."""

    find_files = staticmethod(find_files)

    def has_points(self, root: Path, scene_id: str) -> bool:
        """False for frames without the mesh (ingest reconstructs the scan)."""
        return find_files(Path(root), scene_id).mesh is not None

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        files = find_files(Path(root), scene_id)
        mesh = checks.read_coloured_points(files.mesh) if files.mesh is not None else None
        labels = None
        if files.labels is not None:
            lab = read_ply(files.labels, want_faces=False)
            if lab.label is None:
                raise InputError(files.labels, "vertices have no 'label' property")
            if lab.num_vertices != mesh.num_vertices:
                raise InputError(files.labels, f"{lab.num_vertices} vertices, but the mesh "
                                               f"{files.mesh.name} has {mesh.num_vertices}")
            labels = checks.check_labels(files.labels, lab.label, mesh.num_vertices)
        axis_alignment = checks.read_axis_alignment(files.meta)
        common = dict(scene_id=scene_id, root=files.folder, xyz=mesh.xyz if mesh else None,
                      rgb=mesh.rgb if mesh else None, faces=mesh.faces if mesh else None,
                      labels=labels, axis_alignment=axis_alignment, source_files=files.all())
        if files.sens is not None:
            return Scene(**common, **self._sens_frames(files.sens, check_images))
        K_color = checks.read_intrinsic(files.color_intrinsic)
        K_depth = checks.read_intrinsic(files.depth_intrinsic)

        frames, skipped = checks.posed_frames(files.frames, files.folder / "pose")
        unreadable = 0
        if check_images:  # last: decoding every frame is the expensive check
            unreadable = checks.check_frame_images(
                files.frames, self.max_unreadable_frames,
                color={"intrinsic": K_color, "intrinsic_path": files.color_intrinsic},
                depth={"intrinsic": K_depth, "intrinsic_path": files.depth_intrinsic},
                workers=self.image_workers)
        return Scene(**common, frames=frames, color_intrinsic=K_color, depth_intrinsic=K_depth,
                     depth_scale=1000.0, skipped_frames=skipped, unreadable_frames=unreadable)

    def _sens_frames(self, path: Path, check_images: bool) -> dict:
        """The frames, intrinsics and depth scale of a ``.sens`` recording (images decoded lazily;
        ``check_images``: every frame decoded once now, so a broken one fails the scene)."""
        from . import sens

        header, entries = sens.index_sens(path)
        K_color = checks.check_intrinsic(f"{path} (colour intrinsic)", header.color_intrinsic)
        K_depth = checks.check_intrinsic(f"{path} (depth intrinsic)", header.depth_intrinsic)
        for kind, K, (w, h) in (("colour", K_color, header.color_size), ("depth", K_depth, header.depth_size)):
            if (abs(K[0, 2] - (w - 1) / 2) > checks.PRINCIPAL_POINT_SLACK * w
                    or abs(K[1, 2] - (h - 1) / 2) > checks.PRINCIPAL_POINT_SLACK * h):
                raise InputError(path, f"{kind} images are {w}x{h} but the principal point "
                                       f"({K[0, 2]:.1f}, {K[1, 2]:.1f}) is far from their centre")
        frames, skipped = sens.sens_frames(path, header, entries)
        if check_images:
            sens.check_sens_frames(path, header, [entries[f.index] for f in frames], workers=self.image_workers)
        return {"frames": frames, "color_intrinsic": K_color, "depth_intrinsic": K_depth,
                "depth_scale": header.depth_shift, "skipped_frames": skipped}
