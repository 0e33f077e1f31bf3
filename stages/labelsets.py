"""Label sets: ScanNet-20 (NYU40 ids) and the evaluation protocols (design.md section 7)."""

from __future__ import annotations

import numpy as np

# NYU40 id -> ScanNet-20 class name, in the benchmark's order
SCANNET20 = {
    1: "wall", 2: "floor", 3: "cabinet", 4: "bed", 5: "chair", 6: "sofa", 7: "table", 8: "door",
    9: "window", 10: "bookshelf", 11: "picture", 12: "counter", 14: "desk", 16: "curtain",
    24: "refrigerator", 28: "shower curtain", 33: "toilet", 34: "sink", 36: "bathtub",
    39: "otherfurniture",
}

# protocol name -> NYU40 ids evaluated; everything else is ignored
PROTOCOLS = {
    "scannet20": list(SCANNET20),
    "scannet19": [i for i in SCANNET20 if i != 39],  # GeoPurify leaves out otherfurniture
}

# vocabulary name -> (NYU40 ids, class names) whose text embeddings label the points
VOCABULARIES = {
    "scannet20": (list(SCANNET20), list(SCANNET20.values())),
}

NYU40_MAX = 40


def protocol_ids(protocol: str) -> list[int]:
    from geopurify.pipeline.errors import ConfigError

    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def vocabulary(name: str) -> tuple[list[int], list[str]]:
    from geopurify.pipeline.errors import ConfigError

    if name not in VOCABULARIES:
        raise ConfigError(f"vocabulary {name!r}: expected one of {', '.join(VOCABULARIES)}")
    ids, names = VOCABULARIES[name]
    return list(ids), list(names)


def to_protocol_index(nyu40: np.ndarray, protocol: str) -> np.ndarray:
    """NYU40 ids -> index into the protocol's class list, -1 where the id is not evaluated."""
    lut = np.full(256, -1, dtype=np.int64)
    for i, nyu in enumerate(protocol_ids(protocol)):
        lut[nyu] = i
    return lut[np.clip(np.asarray(nyu40, dtype=np.int64), 0, 255)]


# the ScanNet benchmark's colours for the 20 classes (NYU40 id -> RGB); grey for everything else
SCANNET20_COLOURS = {
    1: (174, 199, 232), 2: (152, 223, 138), 3: (31, 119, 180), 4: (255, 187, 120), 5: (188, 189, 34),
    6: (140, 86, 75), 7: (255, 152, 150), 8: (214, 39, 40), 9: (197, 176, 213), 10: (148, 103, 189),
    11: (196, 156, 148), 12: (23, 190, 207), 14: (247, 182, 210), 16: (219, 219, 141),
    24: (255, 127, 14), 28: (158, 218, 229), 33: (44, 160, 44), 34: (112, 128, 144),
    36: (227, 119, 194), 39: (82, 84, 163),
}
UNLABELLED_COLOUR = (128, 128, 128)


def class_colours(nyu40: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 colours of NYU40 ids (grey for ids outside ScanNet-20)."""
    lut = np.tile(np.array(UNLABELLED_COLOUR, dtype=np.uint8), (256, 1))
    for nyu, rgb in SCANNET20_COLOURS.items():
        lut[nyu] = rgb
    return lut[np.clip(np.asarray(nyu40, dtype=np.int64), 0, 255)]
