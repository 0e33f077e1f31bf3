"""Label ids the readers decode: what the class indices in Pointcept and OpenScene files stand for.

Those files store an index into a benchmark's class list; readers turn it into the label space's id,
so every scene carries ids that mean the same thing whichever layout it came from. Label spaces:

- ``nyu40``: NYU40 ids 1..40 (``Scene.labels``); ScanNet-20 and OpenScene's Matterport-21 live here.
- ``scannet200``: ScanNet category ids (the ``id`` column of ScanNet's label table), up to 1191.
- ``matterport40``, ``matterport80``, ``matterport160``: 1-based positions in OpenScene's list of
  160 Matterport classes (most frequent first, so 40 and 80 are its prefixes); the number says how
  many classes the file labels (points of the others are unannotated).

0 is "unannotated" in every space. The class names live in ``stages.labelsets``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

SCANNET20_NYU40 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39)
"""NYU40 id of each ScanNet-20 class, in the benchmark's order (index i of ``segment20`` and of
OpenScene's ScanNet labels)."""

MATTERPORT21_NYU40 = SCANNET20_NYU40 + (22,)
"""OpenScene's 21 Matterport classes: the ScanNet-20 ones (the last, 39, named "other") and ceiling."""

SCANNET200_IDS = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 26, 27, 28, 29, 31,
    32, 33, 34, 35, 36, 38, 39, 40, 41, 42, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 56, 57, 58, 59,
    62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 82, 84, 86, 87, 88, 89,
    90, 93, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 110, 112, 115, 116, 118, 120,
    121, 122, 125, 128, 130, 131, 132, 134, 136, 138, 139, 140, 141, 145, 148, 154, 155, 156, 157, 159,
    161, 163, 165, 166, 168, 169, 170, 177, 180, 185, 188, 191, 193, 195, 202, 208, 213, 214, 221, 229,
    230, 232, 233, 242, 250, 261, 264, 276, 283, 286, 300, 304, 312, 323, 325, 331, 342, 356, 370, 392,
    395, 399, 408, 417, 488, 540, 562, 570, 572, 581, 609, 748, 776, 1156, 1163, 1164, 1165, 1166, 1167,
    1168, 1169, 1170, 1171, 1172, 1173, 1174, 1175, 1176, 1178, 1179, 1180, 1181, 1182, 1183, 1184,
    1185, 1186, 1187, 1188, 1189, 1190, 1191,
)
"""ScanNet category id of each ScanNet200 benchmark class, in the benchmark's order (index i of
Pointcept's ``segment200``)."""

MATTERPORT_SPACES = {"matterport40": 40, "matterport80": 80, "matterport160": 160}
"""Matterport label spaces and how many of the 160 classes each labels."""

PLY_LABELS = ("nyu40", "scannet200")
"""What the vertex property ``label`` of a ``pointcloud`` scan holds (``dataset.ply_labels``)."""

OPENSCENE_LABELS = ("scannet20", "matterport21", "matterport40", "matterport80", "matterport160")
"""What the label indices of an OpenScene ``.pth`` file index (``dataset.openscene_labels``)."""

SPACES = ("nyu40", "scannet200", *MATTERPORT_SPACES)


def index_to_id(label_set: str) -> tuple[str, tuple[int, ...]]:
    """(label space, id of each class index) for a label list a file's indices point into."""
    if label_set == "scannet20":
        return "nyu40", SCANNET20_NYU40
    if label_set == "matterport21":
        return "nyu40", MATTERPORT21_NYU40
    if label_set == "scannet200":
        return "scannet200", SCANNET200_IDS
    if label_set in MATTERPORT_SPACES:
        return label_set, tuple(range(1, MATTERPORT_SPACES[label_set] + 1))
    raise ValueError(f"unknown label list {label_set!r}")


def decode_indices(path, values, label_set: str, ignore: tuple[int, ...], what: str):
    """Class indices of a file (``ignore`` = unannotated) -> (label space, (N,) int16 ids, 0 for
    unannotated). Raises InputError naming the file for a non-integer or out-of-range index."""
    values = np.asarray(values)
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise InputError(path, f"{what}: expected a 1-D array of class indices, found {values.dtype} {values.shape}")
    if np.issubdtype(values.dtype, np.floating) and values.size and not np.all(values == np.round(values)):
        raise InputError(path, f"{what}: class indices must be whole numbers")
    space, ids = index_to_id(label_set)
    idx = values.astype(np.int64)
    unannotated = np.isin(idx, ignore)
    bad = ~unannotated & ((idx < 0) | (idx >= len(ids)))
    if bad.any():
        allowed = " or ".join(str(i) for i in ignore)
        raise InputError(path, f"{what}: label {int(idx[bad][0])} outside the {len(ids)} {label_set} "
                               f"classes (0..{len(ids) - 1}, {allowed} = unannotated)")
    lut = np.asarray(ids, dtype=np.int16)
    out = np.zeros(len(idx), dtype=np.int16)
    out[~unannotated] = lut[idx[~unannotated]]
    return space, out


def check_category_ids(path, values) -> np.ndarray:
    """ScanNet200 ground truth given as ScanNet category ids (ScanNet's ScanNet200 preprocessing
    writes its meshes so): each 0 (unannotated) or one of the 200 benchmark ids -> (N,) int16."""
    values = np.asarray(values)
    valid = np.isin(values, (0,) + SCANNET200_IDS)
    if not valid.all():
        raise InputError(path, f"label {int(values[~valid][0])} is not a ScanNet200 category id "
                               "(0 = unannotated; map other categories to 0)")
    return values.astype(np.int16)
