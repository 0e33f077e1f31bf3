"""The teacher stage: ``scenes/<id>/points`` -> ``scenes/<id>/teacher/feat`` (N, Dt) float16.

Inputs of the fingerprint: the points group's fingerprint, and for ``ssl`` and ``ptv3`` the checkpoint's
content hash (a retrained checkpoint makes every teacher group stale; a copied or moved one does not).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from geopurify.pipeline.choices import TeacherKind, choices
from geopurify.pipeline.config import check_values
from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import cached_content_hash
from geopurify.pipeline.points import stored_rgb, zeros_for_absent
from geopurify.pipeline.stage import SceneStage, StageContext, StageOutput
from geopurify.pipeline.vocabulary import FEAT, NORMAL, POINTS, TEACHER, XYZ, scene_group

from .config import MISSING_COLOR, MISSING_NORMAL, TeacherConfig

KINDS = choices(TeacherKind)

_lock = threading.Lock()
_models: dict[tuple, object] = {}


def checkpoint_hash(path: str) -> str:
    """Content hash of a teacher checkpoint (cached while the file is unchanged)."""
    if not path:
        raise ConfigError("teacher.kind = 'ssl' needs teacher.checkpoint (make one with pretrain-teacher)")
    if not os.path.isfile(path):
        raise InputError(path, "teacher checkpoint not found (make one with pretrain-teacher)")
    return cached_content_hash(path)


def teacher_features(cfg: TeacherConfig, xyz: np.ndarray, rgb: np.ndarray | None, normal: np.ndarray,
                     source: str = POINTS, normals_estimated: bool = False) -> np.ndarray:
    """Per-point teacher features (N, Dt) float32 for the configured kind (``source`` names the
    points in errors). ``rgb`` None: the scan has no colour (``without_colour`` says what each kind
    does then); ``normals_estimated``: ingest estimated the normals (ptv3's ``normal`` in
    ``ptv3_missing``)."""
    check_config(cfg)
    if cfg.kind == "geometric":
        from .geometric import GeometricWeights, geometric_features

        weights = GeometricWeights(*cfg.geometric_weights)
        return geometric_features(xyz, rgb, normal, cfg.voxel_size, cfg.geometric_neighbours, weights)
    if cfg.kind == "ssl":
        from .network import embed_points

        model = _model(cfg.checkpoint, cfg.device)
        with _lock:  # one inference at a time: torch already uses every core
            embedding = embed_points(model, xyz, zeros_for_absent(rgb, len(xyz)), normal)
        return ssl_features(embedding, xyz, cfg.ssl_position_weight)
    if cfg.kind == "ptv3":
        from .ptv3 import point_features

        model = _model(cfg.checkpoint, cfg.device, "ptv3")
        with _lock:
            zeros = ptv3_zeros(cfg, rgb is None, normals_estimated)
            return point_features(model, xyz, rgb, None if MISSING_NORMAL in zeros else normal, cfg.ptv3_levels,
                                  source, allow_missing=tuple(cfg.ptv3_missing))
    raise AssertionError(cfg.kind)  # check_config let an unknown kind through


def ptv3_zeros(cfg: TeacherConfig, colour_absent: bool, normals_estimated: bool) -> list[str]:
    """The ptv3 inputs fed as zeros for a whole scan: those ``teacher.ptv3_missing`` lists and the scan
    lacks (colour absent; normals estimated at ingest rather than carried by the scan)."""
    return [m for m, lacking in ((MISSING_COLOR, colour_absent), (MISSING_NORMAL, normals_estimated))
            if lacking and m in cfg.ptv3_missing]


def without_colour(cfg: TeacherConfig) -> str:
    """What the configured teacher does for a scan without colour (recorded in its group)."""
    return {"geometric": "colour block left out (zeros)", "ssl": "zeros fed for colour",
            "ptv3": "zeros fed for colour (teacher.ptv3_missing)"}[cfg.kind]


def check_config(cfg: TeacherConfig) -> None:
    """One-line ConfigError for settings no teacher can run with (before any work is done)."""
    check_values(cfg, "teacher.")  # each value, by its declaration in config.py
    if cfg.kind == "ptv3" and not cfg.checkpoint:
        raise ConfigError("teacher.kind = 'ptv3' needs teacher.checkpoint (a Sonata or Concerto .pth "
                          "file, see README)")


def ssl_features(embedding: np.ndarray, xyz: np.ndarray, position_weight: float) -> np.ndarray:
    """The ``ssl`` teacher's features: the embedding alone (weight 0), or the embedding and a position
    block combined like the geometric descriptors' blocks."""
    if position_weight == 0:
        return embedding
    from .blocks import combine

    return combine([(np.asarray(xyz, np.float32), position_weight), (embedding, 1.0)])


def _checkpoint_hash(kind: str, path: str) -> str:
    """``checkpoint_hash``, with the ``ptv3`` teacher's own message for a missing file."""
    if kind == "ptv3" and path and not os.path.isfile(path):
        raise InputError(path, "ptv3 teacher checkpoint not found (a Sonata or Concerto .pth file)")
    return checkpoint_hash(path)


def _model(path: str, device: str, kind: str = "ssl"):
    key = (kind, os.path.abspath(path), _checkpoint_hash(kind, path), device)
    with _lock:
        if key not in _models:
            if kind == "ptv3":
                from .ptv3 import load_encoder as load_teacher
            else:
                from .network import load_teacher

            _models.clear()  # one teacher per process is enough
            _models[key] = load_teacher(path, device)
        return _models[key]


class TeacherStage(SceneStage):
    name = TEACHER
    version = 1
    sections = ("teacher",)
    suspects = ("teacher.ssl_position_weight", "teacher.geometric_weights", "teacher.checkpoint")
    reads = (POINTS,)

    def input_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        cfg: TeacherConfig = ctx.cfg.teacher
        check_config(cfg)
        inputs = self.upstream_fingerprints(ctx, scene_id)
        if cfg.kind in ("ssl", "ptv3"):
            inputs["checkpoint"] = _checkpoint_hash(cfg.kind, cfg.checkpoint)
        return inputs

    def compute(self, ctx: StageContext, scene_id: str) -> StageOutput:
        cfg: TeacherConfig = ctx.cfg.teacher
        group = scene_group(scene_id, POINTS)
        xyz = ctx.store.read(group, XYZ).astype(np.float32)
        rgb = stored_rgb(ctx.store, scene_id)
        normal = ctx.store.read(group, NORMAL).astype(np.float32)
        estimated = ctx.store.attrs(group).get("normals_from") == "pca"
        started = time.perf_counter()
        feat = teacher_features(cfg, xyz, rgb, normal, f"{ctx.store.path}/{group}", estimated)
        seconds = time.perf_counter() - started
        attrs = {"kind": cfg.kind, "dim": int(feat.shape[1]), "has_color": rgb is not None,
                 "timings": {"features_s": round(seconds, 3)}}
        if rgb is None:
            attrs["without_color"] = without_colour(cfg)
        if cfg.kind == "ptv3":
            attrs["zeros_fed"] = ptv3_zeros(cfg, rgb is None, estimated)
            if MISSING_NORMAL in cfg.ptv3_missing and MISSING_NORMAL not in attrs["zeros_fed"]:
                attrs["zero_normals"] = int((~(np.linalg.norm(normal, axis=1) > 1e-6)).sum())
        return StageOutput({FEAT: feat.astype(np.float16)}, attrs)
