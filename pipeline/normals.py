"""Per-point normals: from mesh faces when a scan has them, else from local PCA, oriented.

Orientation of PCA normals (a fitted plane has no front or back, so a side must be chosen):
- with ``viewpoints`` (the scan's camera centres), each normal is flipped to face the camera centre
  nearest to its point. A scanned surface was seen from its front, and the nearest camera is on that
  side for almost every point of a room (walls, floor, furniture tops and fronts); it fails only for
  the back of thin objects that no nearby camera looked at.
- without viewpoints, each normal is flipped to face the centroid of the scan. For an indoor room
  (the data this pipeline reads) that makes walls point inwards, the floor up and the ceiling down;
  surfaces of furniture that face away from the room's centre come out flipped.
Mesh normals keep the orientation of the face winding (ScanNet's meshes face the scanner).
"""

from __future__ import annotations

import numpy as np

from .geometry import knn


def mesh_vertex_normals(xyz: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (N,3) float32: the sum of the (unnormalised) normals of the
    faces around each vertex, normalised. Vertices on no face (or only degenerate ones) get zeros."""
    xyz = np.asarray(xyz, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    v0, v1, v2 = xyz[faces[:, 0]], xyz[faces[:, 1]], xyz[faces[:, 2]]
    face_normal = np.cross(v1 - v0, v2 - v0)  # length = twice the area: area weighting for free
    n = xyz.shape[0]
    idx = faces.reshape(-1)
    out = np.empty((n, 3))
    for c in range(3):  # bincount is far faster than np.add.at for this scatter-add
        out[:, c] = np.bincount(idx, weights=np.repeat(face_normal[:, c], 3), minlength=n)
    return _normalise(out)


def estimate_normals(xyz: np.ndarray, k: int = 16, viewpoints: np.ndarray | None = None) -> np.ndarray:
    """PCA normals (N,3) float32: the direction of least variance of each point's k nearest
    neighbours (itself included), oriented towards the nearest viewpoint, or the centroid when no
    viewpoints are given (see the module docstring)."""
    xyz = np.asarray(xyz, dtype=np.float32)
    return _pca_normals(xyz, xyz, k, viewpoints)


def _pca_normals(reference: np.ndarray, query: np.ndarray, k: int,
                 viewpoints: np.ndarray | None) -> np.ndarray:
    """PCA normals of the ``query`` points from their neighbours among ``reference``."""
    n = query.shape[0]
    if n == 0:
        return np.zeros((0, 3), dtype=np.float32)
    _, idx = knn(reference, query, max(3, k))
    nbrs = reference[idx].astype(np.float64)  # (n, k, 3)
    nbrs -= nbrs.mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", nbrs, nbrs)
    _, vecs = np.linalg.eigh(cov)  # eigenvalues ascending: column 0 is the plane normal
    normals = vecs[:, :, 0]
    if viewpoints is not None and len(viewpoints):
        vp = np.asarray(viewpoints, dtype=np.float32).reshape(-1, 3)
        _, nearest = knn(vp, query, 1)
        target = vp[nearest[:, 0]].astype(np.float64)
    else:
        target = np.broadcast_to(reference.astype(np.float64).mean(axis=0), (n, 3))
    flip = np.einsum("ni,ni->n", normals, target - query) < 0
    normals[flip] *= -1
    return _normalise(normals)


def scene_normals(xyz: np.ndarray, faces: np.ndarray | None, k: int = 16,
                  viewpoints: np.ndarray | None = None) -> np.ndarray:
    """Normals of a scan: mesh normals when there are faces, PCA for vertices on no face (and for
    every point when there are none)."""
    if faces is None or len(faces) == 0:
        return estimate_normals(xyz, k, viewpoints)
    normals = mesh_vertex_normals(xyz, faces)
    loose = ~np.any(normals != 0, axis=1)
    if loose.any():
        pts = np.asarray(xyz, dtype=np.float32)
        normals[loose] = _pca_normals(pts, pts[loose], k, viewpoints)
    return normals


def _normalise(v: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(v, axis=1, keepdims=True)
    out = np.divide(v, length, out=np.zeros_like(v), where=length > 1e-20)
    return out.astype(np.float32)
