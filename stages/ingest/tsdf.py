"""TSDF fusion of posed depth frames into a coloured triangle mesh, with Open3D's scalable TSDF
volume (the usual choice for RGB-D reconstruction: ScanNet's own meshes come from the same family,
BundleFusion's voxel hashing). Open3D is imported here only, when a capture needs it.

Integration runs frame by frame in capture order, so every voxel's value is the same on every run;
marching cubes then emits vertices in the order of a hash map, which can differ, so the mesh is put
in a canonical order (``canonical_mesh``) before anyone sees it.
"""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.errors import ConfigError

from .config import IngestConfig


def _open3d():
    try:
        import open3d as o3d
    except ImportError:
        raise ConfigError("ingest.reconstruct = 'tsdf' needs Open3D (pip install open3d-cpu, or open3d); "
                          "ingest.reconstruct = 'voxel' needs nothing") from None
    return o3d


def tsdf_mesh(frames, read, K_depth: np.ndarray, cfg: IngestConfig):
    """(xyz float32 (N, 3), rgb uint8 (N, 3), faces int64 (F, 3), library) of the fused mesh."""
    o3d = _open3d()
    integration = o3d.pipelines.integration
    volume = integration.ScalableTSDFVolume(voxel_length=float(cfg.voxel_size), sdf_trunc=float(cfg.sdf_trunc),
                                            color_type=integration.TSDFVolumeColorType.RGB8)
    K = np.asarray(K_depth, np.float64)
    for frame in frames:
        depth, colour = read(frame)
        h, w = depth.shape
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(colour)), o3d.geometry.Image(np.ascontiguousarray(depth)),
            depth_scale=1.0, depth_trunc=float(cfg.depth_max), convert_rgb_to_intensity=False)
        camera = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
        volume.integrate(rgbd, camera, np.linalg.inv(frame.pose))  # extrinsic: world -> camera
    mesh = volume.extract_triangle_mesh()
    xyz = np.asarray(mesh.vertices, dtype=np.float64).astype(np.float32)
    rgb = np.clip(np.rint(np.asarray(mesh.vertex_colors, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    faces = np.asarray(mesh.triangles, dtype=np.int64).reshape(-1, 3)
    xyz, rgb, faces = canonical_mesh(xyz, rgb, faces)
    return xyz, rgb, faces, f"open3d {o3d.__version__}"


def canonical_mesh(xyz: np.ndarray, rgb: np.ndarray, faces: np.ndarray):
    """The same mesh with vertices sorted by (x, y, z, colour), unreferenced vertices and degenerate
    faces dropped, each face rotated to start at its smallest index (winding kept) and the faces
    sorted: equal meshes in any order come out as equal arrays."""
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    used = np.zeros(len(xyz), bool)
    used[faces.ravel()] = True
    order = np.flatnonzero(used)
    keys = (rgb[order, 2], rgb[order, 1], rgb[order, 0], xyz[order, 2], xyz[order, 1], xyz[order, 0])
    order = order[np.lexsort(keys)]
    new_index = np.full(len(xyz), -1, np.int64)
    new_index[order] = np.arange(len(order))
    f = new_index[faces]
    shift = np.argmin(f, axis=1)
    f = np.stack([f[np.arange(len(f)), (shift + k) % 3] for k in range(3)], axis=1)
    f = f[np.lexsort((f[:, 2], f[:, 1], f[:, 0]))]
    return xyz[order], rgb[order], f
