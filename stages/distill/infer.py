"""Student embeddings for purify: deterministic (no augmentation, a fixed torch thread count), the
same input path as training.

    model, attrs = read_student(store_path)            # or load_student_file("student.pt")
    coords, point_to_voxel, z = student_embeddings(model, xyz, rgb, normal, fused_feat)
"""

from __future__ import annotations

import numpy as np
import torch

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.points import stored_rgb, zeros_for_absent
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FEAT, FUSED, NORMAL, POINTS, RGB, XYZ, scene_group
from geopurify.stages.training.threads import INFERENCE_THREADS, torch_threads

from .inputs import voxel_inputs
from .network import StudentNet
from .weights import load_student_file, read_student

__all__ = ["student_embeddings", "scene_embeddings", "read_student", "load_student_file"]


@torch.no_grad()
def student_embeddings(model: StudentNet, xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray,
                       fused_feat: np.ndarray, voxel_size: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel coords (V,3) int32, each point's voxel (N,) int64 and the student's embeddings
    (V,out_dim) float32 with unit rows. ``voxel_size`` defaults to the one the student was trained
    with (``model.net_cfg``); the voxels are ``pipeline.geometry.voxelize``'s, so purify can pool
    its lifted features on the same grid."""
    net_cfg = getattr(model, "net_cfg", {})
    voxel_size = voxel_size if voxel_size is not None else net_cfg.get("voxel_size")
    if voxel_size is None:
        raise ValueError("voxel_size not given and the model carries no net_cfg")
    want = net_cfg.get("fused_dim")
    if want is not None and fused_feat.shape[1] != want:
        raise InputError("fused/feat", f"the student was trained on {want}-channel fused features, "
                                       f"got {fused_feat.shape[1]}")
    was_training = model.training
    model.eval()
    vin = voxel_inputs(np.asarray(xyz, np.float32), np.asarray(rgb), np.asarray(normal, np.float32),
                       fused_feat, voxel_size)
    device = next(model.parameters()).device
    with torch_threads(INFERENCE_THREADS):
        z = model(vin.coords, torch.from_numpy(vin.features).to(device)).float().cpu().numpy()
    model.train(was_training)
    return vin.coords, vin.point_to_voxel, z


def scene_embeddings(store: Store, scene: str, model: StudentNet
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``student_embeddings`` of a scene's stored points and fused features."""
    pts = scene_group(scene, POINTS)
    fused = store.read(scene_group(scene, FUSED), FEAT)
    xyz = store.read(pts, XYZ)
    rgb = zeros_for_absent(stored_rgb(store, scene), len(xyz))  # a scan without colour: zeros fed
    return student_embeddings(model, xyz, rgb, store.read(pts, NORMAL), fused)
