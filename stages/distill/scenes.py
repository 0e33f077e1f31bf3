"""The training scenes: checked (present, complete, not stale) and loaded into memory once.

A scene's ``fused`` or ``teacher`` group is refused when it is missing or incomplete, or stale:
- against ``expected`` fingerprints when the caller has them (the workflow knows what the current
  fuse/teacher config would produce: ``{scene: {"fused": fp, "teacher": fp}}``);
- always against its own upstream: every input a group recorded under ``attrs["inputs"]`` that names
  another group of the same scene (``points``, ...) must still carry that fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.points import stored_rgb, zeros_for_absent
from geopurify.pipeline.rows import unit_rows_tensor
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    FEAT, FUSED, GROUP_COMMAND, NORMAL, POINTS, STATE_INCOMPLETE, STATE_MISSING, TEACHER, XYZ, scene_folder,
    scene_group,
)

from .reads import READS



def _stale_upstream(store: Store, scene: str, attrs: dict) -> str | None:
    """Name of a recorded input group of the scene whose fingerprint has changed since, if any."""
    recorded = attrs.get("inputs") or {}
    for key, fp in recorded.items():
        if not isinstance(fp, str):
            continue
        for path in (scene_group(scene, key), key):
            if path.startswith(scene_folder(scene) + "/") and store.group(path) is not None:
                now = store.attrs(path).get("fingerprint")
                if now is not None and now != fp:
                    return path.rsplit("/", 1)[-1]
                break
    return None


def check_training_scene(store: Store, scene: str,
                         expected: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """Fingerprints of the scene's points, fused and teacher groups; a StoreError naming the scene
    and the group when one is missing, incomplete or stale."""
    out = {}
    for group in READS:
        path = scene_group(scene, group)
        attrs = store.attrs(path)
        if not attrs.get("complete"):
            state = STATE_MISSING if store.group(path) is None else STATE_INCOMPLETE
            raise StoreError(f"{store.path}/{path}: training scene {scene!r} has no complete {group} "
                             f"group ({state}); run `{GROUP_COMMAND[group]}` on it first")
        fp = attrs.get("fingerprint", "")
        want = (expected or {}).get(scene, {}).get(group)
        if want is not None and want != fp:
            raise StoreError(f"{store.path}/{path}: training scene {scene!r} has a stale {group} group "
                             f"(made with other inputs or config); rerun `{GROUP_COMMAND[group]}` on it")
        changed = _stale_upstream(store, scene, attrs)
        if changed is not None:
            raise StoreError(f"{store.path}/{path}: training scene {scene!r} has a stale {group} group "
                             f"(its {changed} group changed since); rerun `{GROUP_COMMAND[group]}` on it")
        out[group] = fp
    return out


def fused_dim(store: Store, scene: str) -> int:
    return int(store.array(scene_group(scene, FUSED), FEAT).shape[1])


@dataclass
class TrainingScene:
    scene: str
    xyz: np.ndarray
    """(N,3) float32."""
    rgb: np.ndarray
    """(N,3) uint8; zeros for a scan without colour (``has_color`` False)."""
    normal: np.ndarray
    """(N,3) float32."""
    fused: np.ndarray
    """(N,D) float16 lifted features (kept in half precision: the largest array in memory)."""
    teacher_unit: torch.Tensor
    """(N,Dt) float32 teacher features, rows L2-normalised once for mining."""
    has_color: bool = True
    """False: the scan has no colour and the student's colour inputs are zeros."""


def load_training_scene(store: Store, scene: str) -> TrainingScene:
    pts = scene_group(scene, POINTS)
    xyz = store.read(pts, XYZ).astype(np.float32)
    fused = store.read(scene_group(scene, FUSED), FEAT).astype(np.float16)
    teacher = store.read(scene_group(scene, TEACHER), FEAT)
    n = len(xyz)
    if fused.shape[0] != n or teacher.shape[0] != n:
        raise StoreError(f"{store.path}/scenes/{scene}: points ({n}), fused ({fused.shape[0]}) and "
                         f"teacher ({teacher.shape[0]}) disagree on the number of points")
    rgb = stored_rgb(store, scene)
    return TrainingScene(scene, xyz, zeros_for_absent(rgb, n).astype(np.uint8),
                         store.read(pts, NORMAL).astype(np.float32), fused, unit_rows_tensor(teacher),
                         has_color=rgb is not None)


def current_fingerprints(run_cfg, store_path: str, scenes: list[str]) -> dict[str, dict[str, str]]:
    """What the fuse and teacher stages would fingerprint each scene's groups as under ``run_cfg``
    (a ``RunConfig``): pass it to ``distill(expected=...)`` so a group made with another fuse or
    teacher config (or code version) is refused as stale. Cheap: hashes, no features computed."""
    from geopurify.pipeline.stage import StageContext
    from geopurify.stages.fuse.stage import FuseStage
    from geopurify.stages.teacher.stage import TeacherStage

    ctx = StageContext(store_path, run_cfg)
    fuse, teacher = FuseStage(), TeacherStage()
    return {s: {FUSED: fuse.fingerprint(ctx, s), TEACHER: teacher.fingerprint(ctx, s)} for s in scenes}
