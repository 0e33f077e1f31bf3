"""Writers of the field's layouts for the tests, spelled out from the formats (not from the readers'
constants), so a reader that misreads a format cannot agree with its own writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import FEAT


# ScanNet-20 in the benchmark's order, as NYU40 ids (segment20 index i / OpenScene label i)
SCANNET20 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]


def nyu40_to_index(nyu40: np.ndarray, ignore: int) -> np.ndarray:
    lut = {nyu: i for i, nyu in enumerate(SCANNET20)}
    return np.array([lut.get(int(v), ignore) for v in nyu40], dtype=np.int64)


def write_pointcept(folder: Path, xyz, rgb, nyu40=None, segment200=None, normals=None) -> Path:
    """``<folder>/coord.npy`` ... as Pointcept's ScanNet preprocessing writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "coord.npy", np.asarray(xyz, dtype=np.float32))
    np.save(folder / "color.npy", np.asarray(rgb, dtype=np.uint8))
    if normals is not None:
        np.save(folder / "normal.npy", np.asarray(normals, dtype=np.float32))
    if nyu40 is not None:
        np.save(folder / "segment20.npy", nyu40_to_index(nyu40, -1))
    if segment200 is not None:
        np.save(folder / "segment200.npy", np.asarray(segment200, dtype=np.int64))
    np.save(folder / "instance.npy", np.full(len(xyz), -1, dtype=np.int64))
    return folder


def write_openscene_pth(path: Path, xyz, rgb, label_index) -> Path:
    """OpenScene's 3D file: (coords float64, colours rgb / 127.5 - 1, labels with 255 = ignore)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    coords = np.asarray(xyz, dtype=np.float64)
    colours = np.asarray(rgb, dtype=np.float64) / 127.5 - 1
    torch.save((coords, colours, np.asarray(label_index, dtype=np.float64)), path)
    return path


def write_fused_pt(path: Path, feat: np.ndarray, mask: np.ndarray, numpy_mask: bool = False) -> Path:
    """OpenScene's fused features: {"feat": (M, D) float16 tensor, "mask_full": (N,) bool}."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.asarray(mask, dtype=bool)
    torch.save({FEAT: torch.from_numpy(np.asarray(feat, dtype=np.float16)),
                "mask_full": mask if numpy_mask else torch.from_numpy(mask)}, path)
    return path
