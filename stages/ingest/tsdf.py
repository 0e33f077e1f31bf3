"""TSDF fusion of posed depth frames into a coloured triangle mesh (Curless and Levoy's volumetric
fusion, as KinectFusion, BundleFusion and Open3D's TSDF volumes do it), surface by scikit-image's
marching cubes.

Why not Open3D: its 0.20.0 wheels (``open3d`` and ``open3d-cpu``) return empty meshes on this
project's machines: both the scalable TSDF volume and the tensor ``VoxelBlockGrid`` store only 0 or
1 as TSDF values, so marching cubes finds no surface (its uniform volume works, but holds the whole
bounding cube). The fusion itself is a few lines of numpy; the part worth a well-kept library is the
surface extraction, and ``skimage.measure.marching_cubes`` is that (imported here only).

Sparse, like a voxel-hashed volume: per frame, only the voxels within ``sdf_trunc`` of its depth
readings along their rays are touched (sampled every voxel along every ``pixel_step``-th ray). Each
touched voxel is projected into the frame and gets the projective signed distance ``depth(pixel) -
z``, truncated to [-1, 1] in units of ``sdf_trunc`` (voxels more than ``sdf_trunc`` behind the
surface are left alone), and the colour the frame saw there. With one unit of weight per frame the
fused value is the plain mean over frames, so frames are reduced in blocks (sums in float64, sorted
keys) and the result does not depend on anything but the input. Vertices take the colour of their
nearest voxel.
"""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.errors import ConfigError

from .config import IngestConfig
from .voxel import fold, grid_keys, key_cells

_MERGE_EVERY = 8
GRADIENT = "descent"
"""Face winding: counter-clockwise seen from the positive (free space, camera) side, like ScanNet's
meshes, so normals from faces face the cameras (tests/test_reconstruct.py checks)."""


def tsdf_mesh(frames, read, K_depth: np.ndarray, cfg: IngestConfig):
    """(xyz float32 (N, 3), rgb uint8 (N, 3), faces int64 (F, 3), library) of the fused mesh."""
    try:
        import skimage
        from skimage.measure import marching_cubes
    except ImportError:
        raise ConfigError("ingest.reconstruct = 'tsdf' needs scikit-image (pip install scikit-image); "
                          "ingest.reconstruct = 'voxel' needs nothing") from None
    keys, tsdf, rgb = fuse(frames, read, np.asarray(K_depth, np.float64), cfg)
    if len(keys) == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.int64), ""
    cells = key_cells(keys)
    low = cells.min(axis=0)
    shape = tuple(cells.max(axis=0) - low + 1)
    volume = np.ones(shape, np.float32)  # unobserved: free space, and masked out below
    mask = np.zeros(shape, bool)
    local = cells - low
    volume[local[:, 0], local[:, 1], local[:, 2]] = tsdf
    mask[local[:, 0], local[:, 1], local[:, 2]] = True
    if not (volume[mask] < 0).any() or not (volume[mask] > 0).any():
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.int64), ""
    # a surface only between observed voxels (as in voxel-hashed volumes): a vertex on an edge
    # with an unobserved end would be a false surface behind every wall (unobserved reads as +1)
    verts, faces, _, _ = marching_cubes(volume, level=0.0, mask=mask, gradient_direction=GRADIENT)
    del volume
    lo, hi = np.floor(verts).astype(np.int64), np.ceil(verts).astype(np.int64)
    hi = np.minimum(hi, np.array(shape) - 1)
    good = mask[lo[:, 0], lo[:, 1], lo[:, 2]] & mask[hi[:, 0], hi[:, 1], hi[:, 2]]
    del mask
    faces = faces[good[faces].all(axis=1)]
    xyz = ((verts + low + 0.5) * cfg.voxel_size).astype(np.float32)
    nearest = grid_keys(np.rint(verts).astype(np.int64) + low)
    at = np.clip(np.searchsorted(keys, nearest), 0, len(keys) - 1)
    colour = rgb[at]  # every vertex lies on an edge between two observed voxels: its nearest is one
    xyz, colour, faces = canonical_mesh(xyz, colour, faces.astype(np.int64))
    return xyz, colour, faces, f"numpy TSDF + scikit-image {skimage.__version__} marching cubes"


def fuse(frames, read, K: np.ndarray, cfg: IngestConfig):
    """Sorted voxel keys, their mean truncated SDF (float32) and mean colour (uint8)."""
    total = None
    pending = []
    for i, frame in enumerate(frames):
        depth, colour = read(frame)
        part = frame_tsdf(depth, colour, K, frame.pose, cfg)
        if part is not None:
            pending.append(part)
        if len(pending) == _MERGE_EVERY or (i == len(frames) - 1 and pending):
            total = fold(([total] if total is not None else []) + pending)
            pending = []
    if total is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 3), np.uint8)
    keys, sums, count = total
    tsdf = (sums[:, 0] / count).astype(np.float32)
    rgb = np.clip(np.rint(sums[:, 1:4] / count[:, None]), 0, 255).astype(np.uint8)
    return keys, tsdf, rgb


def pixel_step(K: np.ndarray, cfg: IngestConfig) -> int:
    """Rays sampled every this many pixels: about one ray per voxel face at ``depth_max``."""
    return max(1, int(np.floor(min(K[0, 0], K[1, 1]) * cfg.voxel_size / cfg.depth_max)))


def frame_tsdf(depth: np.ndarray, colour: np.ndarray, K: np.ndarray, pose: np.ndarray, cfg: IngestConfig):
    """One frame's (keys, [tsdf, r, g, b] rows, ones) for the voxels near its surface, or None."""
    h, w = depth.shape
    step = pixel_step(K, cfg)
    v, u = np.mgrid[0:h:step, 0:w:step]
    d = depth[v, u].ravel()
    ok = (d > 0) & (d <= cfg.depth_max)
    if not ok.any():
        return None
    u, v, d = u.ravel()[ok].astype(np.float64), v.ravel()[ok].astype(np.float64), d[ok].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=1)
    # samples every voxel along each ray, from sdf_trunc in front of the reading to sdf_trunc behind
    offsets = np.arange(-cfg.sdf_trunc, cfg.sdf_trunc + cfg.voxel_size / 2, cfg.voxel_size)
    z = (d[:, None] + offsets[None, :]).reshape(-1)
    cam = np.repeat(rays, len(offsets), axis=0) * z[:, None]
    cam = cam[z > 0]
    world = cam @ pose[:3, :3].T + pose[:3, 3]
    keys = np.unique(grid_keys(np.floor(world / cfg.voxel_size).astype(np.int64)))
    # each touched voxel's centre, seen by the frame: projective signed distance and colour
    centres = (key_cells(keys) + 0.5) * cfg.voxel_size
    inv = np.linalg.inv(pose)
    pc = centres @ inv[:3, :3].T + inv[:3, 3]
    zc = pc[:, 2]
    front = zc > 1e-6
    px = np.full(len(keys), -1, np.int64)
    py = np.full(len(keys), -1, np.int64)
    px[front] = np.rint(pc[front, 0] / zc[front] * K[0, 0] + K[0, 2]).astype(np.int64)
    py[front] = np.rint(pc[front, 1] / zc[front] * K[1, 1] + K[1, 2]).astype(np.int64)
    inside = front & (px >= 0) & (px < w) & (py >= 0) & (py < h)
    reading = np.zeros(len(keys))
    reading[inside] = depth[py[inside], px[inside]]
    valid = inside & (reading > 0) & (reading <= cfg.depth_max)
    sdf = reading - zc
    keep = valid & (sdf >= -cfg.sdf_trunc)
    if not keep.any():
        return None
    tsdf = np.minimum(1.0, sdf[keep] / cfg.sdf_trunc)
    seen = colour[py[keep], px[keep]].astype(np.float64)
    rows = np.concatenate([tsdf[:, None], seen], axis=1)
    return keys[keep], rows, np.ones(int(keep.sum()))


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
