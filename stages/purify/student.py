"""The student affinity source: embeddings of the distilled network (torch imported lazily here).

The student is found by ``purify.student``: empty = the run store's ``models/student`` group; a file
= an exported ``.pt``; a folder = another run store holding ``models/student``. Its fingerprint (the
one distill recorded, or the file's content hash) is what enters purify's stage fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.points import zeros_for_absent
from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import file_content_hash
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT, model_group

from .points import ScenePoints
from .config import PurifyConfig


_MODELS: dict[tuple[str, str], object] = {}
"""Loaded students per process, keyed by (where, fingerprint): a worker loads each once."""


def student_location(cfg: PurifyConfig, store) -> tuple[str, str]:
    """(``store`` | ``file``, path) of the configured student."""
    if not cfg.student:
        return "store", store.path
    if store is not None and cfg.student == store.path:
        return "store", store.path
    path = Path(cfg.student)
    if path.is_file():
        return "file", str(path)
    if path.is_dir():
        return "store", str(path)
    raise InputError(path, "student not found (expected a .pt file or a run store with models/student)")


def student_fingerprint(cfg: PurifyConfig, store) -> str:
    """Cheap (no torch): the stored fingerprint of a store group, the content hash of a file."""
    kind, where = student_location(cfg, store)
    if kind == "file":
        return file_content_hash(where)
    from geopurify.pipeline.store import Store

    other = store if store is not None and where == store.path else Store(where, create=False)
    attrs = other.require_done(model_group(), "the trained student (run `distill`)")
    return str(attrs["fingerprint"])


def load_student(cfg: PurifyConfig, store):
    """The student network in eval mode on the CPU (cached per process)."""
    kind, where = student_location(cfg, store)
    key = (where, student_fingerprint(cfg, store))
    if key not in _MODELS:
        from geopurify.stages.distill.weights import load_student_file, read_student

        model, _ = load_student_file(where) if kind == "file" else read_student(where)
        _MODELS.clear()  # one student at a time is all a run uses
        _MODELS[key] = model
    return _MODELS[key]


class StudentAffinity:
    kind = AFFINITY_STUDENT

    def __init__(self, cfg: PurifyConfig, store):
        if store is None and not cfg.student:
            raise ConfigError("purify.student: no run store to find models/student in; give a path")
        self.cfg = cfg
        self.store = store
        self.model = load_student(cfg, store)
        trained = float(self.model.net_cfg.get("voxel_size", cfg.voxel_size))
        if abs(trained - cfg.voxel_size) > 1e-9:
            raise ConfigError(f"purify.voxel_size = {cfg.voxel_size} but the student was trained on "
                              f"{trained} m voxels; set purify.voxel_size = {trained}")

    def embed(self, points: ScenePoints, coords: np.ndarray, point_to_voxel: np.ndarray) -> np.ndarray:
        from geopurify.stages.distill.infer import student_embeddings

        fused_dim = int(self.model.net_cfg.get("fused_dim", points.fused.shape[1]))
        if fused_dim != points.fused.shape[1]:
            raise ConfigError(f"the student expects {fused_dim}-channel fused features, the scene has "
                              f"{points.fused.shape[1]}: it was trained with another 2D source")
        rgb = zeros_for_absent(points.rgb, len(points.xyz))  # a scan without colour: zeros fed
        own_coords, own_p2v, z = student_embeddings(self.model, points.xyz, rgb, points.normal,
                                                    points.fused, self.cfg.voxel_size)
        # both voxelise with pipeline.geometry.voxelize: the rows must be purify's voxels
        if not (np.array_equal(own_coords, coords) and np.array_equal(own_p2v, point_to_voxel)):
            raise RuntimeError("the student's voxelisation differs from purify's")
        return with_position(z, points.xyz, point_to_voxel, self.cfg)


def with_position(z: np.ndarray, xyz: np.ndarray, point_to_voxel: np.ndarray, cfg: PurifyConfig) -> np.ndarray:
    """Unit embeddings (V,E), plus a voxel-position block when ``student_position_scale`` is set:
    the graph's Gaussian logit then gains -|dp|^2 / (2 s^2) beside z_v . z_u / temperature."""
    if cfg.student_position_scale <= 0:
        return z
    from geopurify.pipeline.geometry import voxel_mean

    pos = voxel_mean(xyz.astype(np.float64), point_to_voxel, len(z))
    pos = pos - pos.mean(axis=0)  # small magnitudes; the kernel is shift-invariant
    block = pos * np.sqrt(cfg.temperature) / cfg.student_position_scale
    return np.concatenate([z.astype(np.float64), block], axis=1)
