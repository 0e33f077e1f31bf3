"""Label sets: the class lists a scene is scored on and labelled with (design.md section 7).

A label set names its classes by ids of one label space (``pipeline.readers.label_ids``): NYU40
ids for ScanNet-20 and Matterport-21, ScanNet category ids for ScanNet200, positions in
OpenScene's 160-class list for Matterport-40/80/160. Every label set is also a vocabulary (its
names are what the text encoder embeds), so predictions come out in the set's own ids, and a
protocol can score them only when it shares the vocabulary's label space.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.readers.label_ids import MATTERPORT21_NYU40, SCANNET20_NYU40, SCANNET200_IDS

from . import matterport, scannet200

# NYU40 id -> ScanNet-20 class name, in the benchmark's order
SCANNET20 = dict(zip(SCANNET20_NYU40, (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "otherfurniture")))

NYU40_MAX = 40
STRUCTURE = ("wall", "floor", "ceiling")
"""Classes f-mIoU leaves out (the figure GeoPurify and Mosaic3D report for ScanNet200)."""


@dataclass(frozen=True)
class LabelSet:
    name: str
    space: str
    """Label space of ``ids``: ``nyu40``, ``scannet200`` or ``matterport`` (positions in the
    160-class list)."""
    ids: tuple[int, ...]
    names: tuple[str, ...]
    ground_truth: tuple[str, ...]
    """Arrays of the points group that hold this set's ground truth, the first present is used
    (a 160-class Matterport file also labels the 40- and 80-class sets)."""
    splits: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Named subsets of ``ids`` reported as their own mean (ScanNet200's head / common / tail)."""

    def structure_ids(self) -> tuple[int, ...]:
        """Ids of wall, floor and ceiling (left out of f-mIoU)."""
        return tuple(i for i, n in zip(self.ids, self.names) if n in STRUCTURE)


def _scannet200() -> LabelSet:
    by_name = dict(zip(scannet200.NAMES, SCANNET200_IDS))
    splits = {name: tuple(by_name[n] for n in scannet200.NAMES if n in members)
              for name, members in (("head", scannet200.HEAD), ("common", scannet200.COMMON),
                                    ("tail", scannet200.TAIL))}
    return LabelSet("scannet200", "scannet200", SCANNET200_IDS, scannet200.NAMES, ("label_scannet200",), splits)


def _matterport(k: int) -> LabelSet:
    arrays = tuple(f"label_matterport{n}" for n in (40, 80, 160) if n >= k)
    return LabelSet(f"matterport{k}", "matterport", tuple(range(1, k + 1)), matterport.NAMES_160[:k], arrays)


LABEL_SETS: dict[str, LabelSet] = {
    "scannet20": LabelSet("scannet20", "nyu40", tuple(SCANNET20), tuple(SCANNET20.values()), ("label",)),
    # GeoPurify leaves out otherfurniture
    "scannet19": LabelSet("scannet19", "nyu40", tuple(i for i in SCANNET20 if i != 39),
                          tuple(n for i, n in SCANNET20.items() if i != 39), ("label",)),
    "scannet200": _scannet200(),
    "matterport21": LabelSet("matterport21", "nyu40", MATTERPORT21_NYU40, matterport.NAMES_21, ("label",)),
    **{f"matterport{k}": _matterport(k) for k in (40, 80, 160)},
}

# protocol name -> ids evaluated; everything else is ignored
PROTOCOLS = {name: list(s.ids) for name, s in LABEL_SETS.items()}

# vocabulary name -> (ids, class names) whose text embeddings label the points (scannet19 is a
# protocol of the scannet20 vocabulary, not a vocabulary of its own)
VOCABULARIES = {name: (list(s.ids), list(s.names)) for name, s in LABEL_SETS.items() if name != "scannet19"}


def label_set(name: str) -> LabelSet:
    if name not in LABEL_SETS:
        raise ConfigError(f"label set {name!r}: expected one of {', '.join(LABEL_SETS)}")
    return LABEL_SETS[name]


def protocol_ids(protocol: str) -> list[int]:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def vocabulary(name: str) -> tuple[list[int], list[str]]:
    if name not in VOCABULARIES:
        raise ConfigError(f"vocabulary {name!r}: expected one of {', '.join(VOCABULARIES)}")
    ids, names = VOCABULARIES[name]
    return list(ids), list(names)


def vocabulary_space(vocab: str) -> str:
    """Label space of the ids a vocabulary labels points with."""
    vocabulary(vocab)
    return LABEL_SETS[vocab].space


def check_compatible(vocab: str, protocol: str) -> None:
    """A protocol scores a vocabulary's predictions only in the same label space."""
    have, need = vocabulary_space(vocab), label_set(protocol).space
    if have != need:
        raise ConfigError(f"protocol {protocol!r} scores {need} ids, but vocabulary {vocab!r} labels points "
                          f"with {have} ids: use fuse.vocab = {_vocab_for(protocol)!r} (to fuse, and to score)")


def _vocab_for(protocol: str) -> str:
    return "scannet20" if protocol == "scannet19" else protocol


def to_protocol_index(ids: np.ndarray, protocol: str) -> np.ndarray:
    """Label ids -> index into the protocol's class list, -1 where the id is not evaluated."""
    evaluated = protocol_ids(protocol)
    lut = np.full(max(256, max(evaluated) + 1), -1, dtype=np.int64)
    lut[np.asarray(evaluated)] = np.arange(len(evaluated))
    ids = np.asarray(ids, dtype=np.int64)
    inside = (ids >= 0) & (ids < len(lut))
    return np.where(inside, lut[np.where(inside, ids, 0)], -1)


# the ScanNet benchmark's colours for the 20 classes (NYU40 id -> RGB); grey for everything else
SCANNET20_COLOURS = {
    1: (174, 199, 232), 2: (152, 223, 138), 3: (31, 119, 180), 4: (255, 187, 120), 5: (188, 189, 34),
    6: (140, 86, 75), 7: (255, 152, 150), 8: (214, 39, 40), 9: (197, 176, 213), 10: (148, 103, 189),
    11: (196, 156, 148), 12: (23, 190, 207), 14: (247, 182, 210), 16: (219, 219, 141),
    24: (255, 127, 14), 28: (158, 218, 229), 33: (44, 160, 44), 34: (112, 128, 144),
    36: (227, 119, 194), 39: (82, 84, 163),
}
UNLABELLED_COLOUR = (128, 128, 128)


def class_colours(ids: np.ndarray, space: str = "nyu40") -> np.ndarray:
    """(N, 3) uint8 colours of label ids: the ScanNet-20 colours for NYU40 ids (grey for the
    others); for other spaces a fixed colour per id drawn from a hash of the id (0 is grey)."""
    ids = np.asarray(ids, dtype=np.int64)
    size = max(256, int(ids.max()) + 1 if ids.size else 0)
    lut = np.tile(np.array(UNLABELLED_COLOUR, dtype=np.uint8), (size, 1))
    if space == "nyu40":
        for nyu, rgb in SCANNET20_COLOURS.items():
            lut[nyu] = rgb
    else:
        for i in range(1, size):
            lut[i] = np.frombuffer(hashlib.sha256(f"{space}:{i}".encode()).digest()[:3], np.uint8) // 4 * 3 + 40
    return lut[np.clip(ids, 0, size - 1)]
