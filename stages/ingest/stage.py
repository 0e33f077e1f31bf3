"""The ingest stage: read and validate one scan, compute normals, write ``scenes/<id>/points/``.

A capture with posed depth frames and no point cloud (the reader's ``Scene.xyz`` is None) gets one
here (``reconstruct``, settings ``ingest.reconstruct`` ...): those settings enter the fingerprint of
such scenes only. Mesh faces are kept (``faces``); a scan without colour is written without ``rgb``
and ``has_color: false``.

The reader validates the whole scene (every frame's images included) before anything is computed,
so a bad scene fails with one line naming the file and leaves the store untouched. The input
fingerprint is stat-based over every file the reader uses: touching one pose file makes exactly
that scene stale.
"""

from __future__ import annotations

import time

import numpy as np

from geopurify.pipeline.fingerprint import digest, files_fingerprint
from geopurify.pipeline.normals import scene_normals
from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.readers import dataset_root, get_reader
from geopurify.pipeline.scene import Scene
from geopurify.pipeline.stage import SceneStage, StageContext, StageOutput
from geopurify.pipeline.vocabulary import FACES, LABEL, NORMAL, POINTS, RGB, XYZ, label_array
from geopurify.stages.ingest.config import IngestConfig, check_config
from geopurify.stages.ingest.reconstruct import needs_reconstruction, reconstruct_scene


class IngestStage(SceneStage):
    """Read, validate and normalise one scan into the points group."""

    name = POINTS
    version = 1
    sections = ("dataset", "ingest")
    suspects = ("ingest.normal_neighbours", "the scan's points")
    reads = ()
    """Nothing of the store: the dataset's files (their fingerprint is its input)."""

    def input_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        root = dataset_root(ctx.cfg.dataset)
        reader = get_reader(ctx.cfg.dataset)
        out = {"files": files_fingerprint(reader.source_files(root, scene_id), root)}
        options = reader.identity() if hasattr(reader, "identity") else {}
        if options:  # reader options that change the scene (openscene's label list, ...)
            out["reader"] = digest(options)
        if hasattr(reader, "has_points") and not reader.has_points(root, scene_id):
            check_config(ctx.cfg.ingest)
            out["reconstruction"] = digest(ctx.cfg.ingest.reconstruction())
        return out

    def compute(self, ctx: StageContext, scene_id: str) -> StageOutput:
        started = time.perf_counter()
        root = dataset_root(ctx.cfg.dataset)
        check_config(ctx.cfg.ingest)
        reader = get_reader(ctx.cfg.dataset)
        # one rule for unreadable frames: ingest tolerates what fuse will skip
        reader.max_unreadable_frames = unreadable_share(ctx.cfg)
        scene = reader.read(root, scene_id)
        read_s = time.perf_counter() - started
        reconstruction = None
        if needs_reconstruction(scene):
            scene, reconstruction = reconstruct_scene(scene, ctx.cfg.ingest)
        out = points_output(scene, ctx.cfg.ingest, ctx.cfg.dataset.kind, reconstruction)
        out.attrs["timings"]["read_s"] = round(read_s, 3)
        return out


def unreadable_share(cfg) -> float:
    """``fuse.max_unreadable_frames`` of the run config (0 when it has no fuse section)."""
    fuse = getattr(cfg, "fuse", None)
    share = float(getattr(fuse, "max_unreadable_frames", 0.0)) if fuse is not None else 0.0
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"fuse.max_unreadable_frames = {share}: expected a share in [0, 1]")
    return share


def points_output(scene: Scene, cfg: IngestConfig, kind: str, reconstruction: dict | None = None) -> StageOutput:
    """The points group of a read scene, arrays and attrs (store-free). Normals come from the faces
    when the scan has them, else PCA oriented towards the nearest camera (see pipeline.normals),
    unless the dataset ships its own (Pointcept's normal.npy). ``reconstruction``: the record of a
    scan built from depth frames (``reconstruct_scene``)."""
    started = time.perf_counter()
    cameras = np.array([f.pose[:3, 3] for f in scene.frames]) if scene.frames else None
    if scene.normals is not None:  # the dataset's own (Pointcept's normal.npy)
        normal, normals_from = scene.normals, "dataset"
    else:
        normal = scene_normals(scene.xyz, scene.faces, k=cfg.normal_neighbours, viewpoints=cameras)
        normals_from = "faces" if scene.faces is not None else "pca"
    arrays = {
        XYZ: np.ascontiguousarray(scene.xyz, dtype=np.float32),
        NORMAL: np.ascontiguousarray(normal, dtype=np.float32),
    }
    if scene.rgb is not None:  # a scan without colour has no rgb array: absent, not black
        arrays[RGB] = np.ascontiguousarray(scene.rgb, dtype=np.uint8)
    if scene.faces is not None:
        arrays[FACES] = np.ascontiguousarray(scene.faces, dtype=np.int32).reshape(-1, 3)
    if scene.labels is not None:
        arrays[LABEL] = np.ascontiguousarray(scene.labels, dtype=np.int16)
    for space, ids in scene.extra_labels.items():  # label_scannet200, label_matterport160, ...
        arrays[label_array(space)] = np.ascontiguousarray(ids, dtype=np.int16)
    attrs = {
        "num_points": scene.num_points,
        "num_frames": len(scene.frames),
        "skipped_frames": int(scene.skipped_frames),
        "unreadable_frames": int(scene.unreadable_frames),
        "has_faces": scene.faces is not None,
        "num_faces": int(len(scene.faces)) if scene.faces is not None else 0,
        "has_color": scene.rgb is not None,
        "reconstruction": reconstruction,
        "has_labels": scene.labels is not None,
        "normals_from": normals_from,
        "axis_alignment": np.asarray(scene.axis_alignment, dtype=np.float64).reshape(4, 4).tolist(),
        "dataset_kind": kind,
        "timings": {"normals_s": round(time.perf_counter() - started, 3)},
    }
    return StageOutput(arrays=arrays, attrs=attrs)
