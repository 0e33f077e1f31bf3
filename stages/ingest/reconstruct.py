"""A capture with posed depth frames and no point cloud gets one at ingest.

Any reader may return a ``Scene`` whose ``xyz`` is None when the capture has depth frames but no
scan; ingest then calls ``reconstruct_scene`` and the rest of the pipeline sees an ordinary scan:

- ``tsdf`` (default): volumetric TSDF fusion on a sparse voxel set (numpy), every ``frame_stride``-th
  frame in capture order, then scikit-image's marching cubes: a coloured triangle mesh (faces kept,
  normals from them; see ``tsdf`` for why not Open3D);
- ``voxel``: the light fallback, pure numpy: every depth reading back-projected, averaged (position
  and colour) per ``voxel_size`` cell, cells seen by fewer than ``min_views`` frames dropped: a
  point cloud (PCA normals towards the cameras, as for any cloud).

Both are deterministic: the same frames and settings give the same arrays, bit for bit (vertices
and faces are put in a canonical order; see ``tsdf.canonical_mesh``). What was done is recorded in
the points group (``reconstruction``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.scene import Scene

from .config import IngestConfig
from .frames import FrameReader


def needs_reconstruction(scene: Scene) -> bool:
    return scene.xyz is None


def reconstruct_scene(scene: Scene, cfg: IngestConfig) -> tuple[Scene, dict]:
    """``scene`` with points (and faces, for ``tsdf``) built from its depth frames, and the record
    of how. One-line InputError when the capture cannot be reconstructed."""
    if cfg.reconstruct == "none":
        raise InputError(scene.root, "no point cloud or mesh, and ingest.reconstruct = 'none': set "
                                     "ingest.reconstruct = 'tsdf' (or 'voxel') to build one from the depth frames")
    if not scene.has_depth:
        raise InputError(scene.root, "no point cloud or mesh, and no depth frames to reconstruct one from")
    if scene.color_intrinsic is None:
        raise InputError(scene.root, "no colour intrinsics: the reconstruction colours its points from the frames")
    frames = scene.frames[::cfg.frame_stride]
    read = FrameReader(scene.color_intrinsic, scene.depth_intrinsic, scene.depth_scale)
    started = time.perf_counter()
    if cfg.reconstruct == "tsdf":
        from .tsdf import tsdf_mesh

        xyz, rgb, faces, library = tsdf_mesh(frames, read, scene.depth_intrinsic, cfg)
    else:
        from .voxel import voxel_points

        xyz, rgb = voxel_points(frames, read, scene.depth_intrinsic, cfg)
        faces, library = None, "numpy"
    if len(xyz) == 0:
        raise InputError(scene.root, f"the {cfg.reconstruct} reconstruction from {len(frames)} depth frames "
                                     f"is empty (depth readings all 0 or beyond ingest.depth_max = {cfg.depth_max} m?)")
    record = {**cfg.reconstruction(), "library": library, "frames_used": len(frames),
              "vertices": int(len(xyz)), "faces": int(len(faces)) if faces is not None else 0,
              "seconds": round(time.perf_counter() - started, 3)}
    return dataclasses.replace(scene, xyz=xyz, rgb=rgb, faces=faces), record
