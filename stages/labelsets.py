"""Label sets: the class lists a scene is scored on and labelled with (design.md section 7.1).

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
from geopurify.pipeline.vocabulary import LABEL, label_array

# NYU40 id -> ScanNet-20 class name, in the benchmark's order
SCANNET20 = dict(zip(SCANNET20_NYU40, (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "otherfurniture")))

SCANNET200_NAMES = (
    "wall", "chair", "floor", "table", "door", "couch", "cabinet", "shelf", "desk", "office chair",
    "bed", "pillow", "sink", "picture", "window", "toilet", "bookshelf", "monitor", "curtain",
    "book", "armchair", "coffee table", "box", "refrigerator", "lamp", "kitchen cabinet", "towel",
    "clothes", "tv", "nightstand", "counter", "dresser", "stool", "cushion", "plant", "ceiling",
    "bathtub", "end table", "dining table", "keyboard", "bag", "backpack", "toilet paper",
    "printer", "tv stand", "whiteboard", "blanket", "shower curtain", "trash can", "closet",
    "stairs", "microwave", "stove", "shoe", "computer tower", "bottle", "bin", "ottoman", "bench",
    "board", "washing machine", "mirror", "copier", "basket", "sofa chair", "file cabinet", "fan",
    "laptop", "shower", "paper", "person", "paper towel dispenser", "oven", "blinds", "rack",
    "plate", "blackboard", "piano", "suitcase", "rail", "radiator", "recycling bin", "container",
    "wardrobe", "soap dispenser", "telephone", "bucket", "clock", "stand", "light",
    "laundry basket", "pipe", "clothes dryer", "guitar", "toilet paper holder", "seat", "speaker",
    "column", "bicycle", "ladder", "bathroom stall", "shower wall", "cup", "jacket", "storage bin",
    "coffee maker", "dishwasher", "paper towel roll", "machine", "mat", "windowsill", "bar",
    "toaster", "bulletin board", "ironing board", "fireplace", "soap dish", "kitchen counter",
    "doorframe", "toilet paper dispenser", "mini fridge", "fire extinguisher", "ball", "hat",
    "shower curtain rod", "water cooler", "paper cutter", "tray", "shower door", "pillar", "ledge",
    "toaster oven", "mouse", "toilet seat cover dispenser", "furniture", "cart",
    "storage container", "scale", "tissue box", "light switch", "crate", "power outlet",
    "decoration", "sign", "projector", "closet door", "vacuum cleaner", "candle", "plunger",
    "stuffed animal", "headphones", "dish rack", "broom", "guitar case", "range hood", "dustpan",
    "hair dryer", "water bottle", "handicap bar", "purse", "vent", "shower floor", "water pitcher",
    "mailbox", "bowl", "paper bag", "alarm clock", "music stand", "projector screen", "divider",
    "laundry detergent", "bathroom counter", "object", "bathroom vanity", "closet wall",
    "laundry hamper", "bathroom stall door", "ceiling light", "trash bin", "dumbbell",
    "stair rail", "tube", "bathroom cabinet", "cd case", "closet rod", "coffee kettle",
    "structure", "shower head", "keyboard piano", "case of water bottles", "coat rack",
    "storage organizer", "folded chair", "fire alarm", "power strip", "calendar", "poster",
    "potted plant", "luggage", "mattress",
)
"""Class name of each ScanNet200 benchmark class, in the order of ``SCANNET200_IDS`` (ScanNet's
public benchmark constants)."""

# The benchmark's head / common / tail split of the 200 classes, by how many labelled instances
# they have in training
SCANNET200_HEAD = frozenset((
    "armchair", "backpack", "bathroom stall", "bathroom vanity", "bathtub", "bed", "blackboard",
    "blinds", "board", "book", "bookshelf", "box", "cabinet", "ceiling", "chair", "closet",
    "closet wall", "clothes", "clothes dryer", "coffee table", "copier", "couch", "counter",
    "curtain", "desk", "door", "doorframe", "dresser", "file cabinet", "floor", "kitchen cabinet",
    "kitchen counter", "lamp", "mailbox", "mirror", "monitor", "nightstand", "object",
    "office chair", "picture", "pillow", "plant", "radiator", "recycling bin", "refrigerator",
    "shelf", "shower", "shower curtain", "shower wall", "sink", "sofa chair", "stair rail",
    "stairs", "stool", "stove", "table", "toilet", "towel", "trash can", "tv", "tv stand", "wall",
    "wardrobe", "washing machine", "whiteboard", "window",
))
SCANNET200_COMMON = frozenset((
    "bag", "basket", "bathroom cabinet", "bathroom counter", "bathroom stall door", "bench",
    "bicycle", "bin", "blanket", "bottle", "bulletin board", "cart", "ceiling light",
    "closet door", "coffee maker", "column", "computer tower", "container", "cushion",
    "decoration", "dining table", "dish rack", "dishwasher", "divider", "end table", "fan",
    "fireplace", "furniture", "jacket", "keyboard", "ladder", "laptop", "laundry basket",
    "laundry hamper", "ledge", "light", "machine", "mat", "mattress", "microwave", "mini fridge",
    "ottoman", "oven", "paper towel dispenser", "person", "piano", "pillar", "pipe",
    "potted plant", "printer", "projector screen", "rack", "rail", "range hood", "seat", "shoe",
    "shower door", "stand", "storage bin", "storage organizer", "structure", "suitcase",
    "telephone", "toilet paper", "trash bin", "vacuum cleaner", "water cooler", "windowsill",
))
SCANNET200_TAIL = frozenset((
    "alarm clock", "ball", "bar", "bowl", "broom", "bucket", "calendar", "candle",
    "case of water bottles", "cd case", "clock", "closet rod", "coat rack", "coffee kettle",
    "crate", "cup", "dumbbell", "dustpan", "fire alarm", "fire extinguisher", "folded chair",
    "guitar", "guitar case", "hair dryer", "handicap bar", "hat", "headphones", "ironing board",
    "keyboard piano", "laundry detergent", "light switch", "luggage", "mouse", "music stand",
    "paper", "paper bag", "paper cutter", "paper towel roll", "plate", "plunger", "poster",
    "power outlet", "power strip", "projector", "purse", "scale", "shower curtain rod",
    "shower floor", "shower head", "sign", "soap dish", "soap dispenser", "speaker",
    "storage container", "stuffed animal", "tissue box", "toaster", "toaster oven",
    "toilet paper dispenser", "toilet paper holder", "toilet seat cover dispenser", "tray", "tube",
    "vent", "water bottle", "water pitcher",
))

MATTERPORT21_NAMES = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "other", "ceiling",
)
"""Matterport3D as OpenScene evaluates it (its public code), 21 classes: the ScanNet-20 ones (the
last named "other") and ceiling, in the order of ``MATTERPORT21_NYU40``."""

MATTERPORT160_NAMES = (
    "wall", "door", "ceiling", "floor", "picture", "window", "chair", "pillow", "lamp", "cabinet",
    "curtain", "table", "plant", "mirror", "towel", "sink", "shelves", "sofa", "bed",
    "night stand", "toilet", "column", "banister", "stairs", "stool", "vase", "television", "pot",
    "desk", "box", "coffee table", "counter", "bench", "garbage bin", "fireplace", "clothes",
    "bathtub", "book", "air vent", "faucet", "photo", "toilet paper", "fan", "railing",
    "sculpture", "dresser", "rug", "ottoman", "bottle", "refridgerator", "bookshelf", "wardrobe",
    "pipe", "monitor", "stand", "drawer", "container", "light switch", "purse", "door way",
    "basket", "chandelier", "oven", "clock", "stove", "washing machine", "shower curtain",
    "fire alarm", "bin", "chest", "microwave", "blinds", "bowl", "tissue box", "plate", "tv stand",
    "shoe", "heater", "headboard", "bucket", "candle", "flower pot", "speaker", "furniture",
    "sign", "air conditioner", "fire extinguisher", "curtain rod", "floor mat", "printer",
    "telephone", "blanket", "handle", "shower head", "soap", "keyboard", "thermostat", "radiator",
    "kitchen island", "paper towel", "sheet", "glass", "dishwasher", "cup", "ladder",
    "garage door", "hat", "exit sign", "piano", "board", "rope", "ball", "excercise equipment",
    "hanger", "candlestick", "light", "scale", "bag", "laptop", "treadmill", "guitar",
    "display case", "toilet paper holder", "bar", "tray", "urn", "decorative plate", "pool table",
    "jacket", "bottle of soap", "water cooler", "utensil", "tea pot", "stuffed animal",
    "paper towel dispenser", "lamp shade", "car", "toilet brush", "doll", "drum", "whiteboard",
    "range hood", "candelabra", "toy", "foot rest", "soap dish", "placemat", "cleaner", "computer",
    "knob", "paper", "projector", "coat hanger", "case", "pan", "luggage", "trinket", "chimney",
    "person", "alarm",
)
"""OpenScene's 160 most frequent Matterport categories, most frequent first: its 40- and 80-class
lists are the first 40 and 80; a class's id is its 1-based position. Spelled as OpenScene spells
them (the text prompts use these names)."""

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
    by_name = dict(zip(SCANNET200_NAMES, SCANNET200_IDS))
    splits = {name: tuple(by_name[n] for n in SCANNET200_NAMES if n in members)
              for name, members in (("head", SCANNET200_HEAD), ("common", SCANNET200_COMMON),
                                    ("tail", SCANNET200_TAIL))}
    return LabelSet("scannet200", "scannet200", SCANNET200_IDS, SCANNET200_NAMES, (label_array("scannet200"),), splits)


def _matterport(k: int) -> LabelSet:
    arrays = tuple(label_array(f"matterport{n}") for n in (40, 80, 160) if n >= k)
    return LabelSet(f"matterport{k}", "matterport", tuple(range(1, k + 1)), MATTERPORT160_NAMES[:k], arrays)


LABEL_SETS: dict[str, LabelSet] = {
    "scannet20": LabelSet("scannet20", "nyu40", tuple(SCANNET20), tuple(SCANNET20.values()), (LABEL,)),
    # GeoPurify leaves out otherfurniture
    "scannet19": LabelSet("scannet19", "nyu40", tuple(i for i in SCANNET20 if i != 39),
                          tuple(n for i, n in SCANNET20.items() if i != 39), (LABEL,)),
    "scannet200": _scannet200(),
    "matterport21": LabelSet("matterport21", "nyu40", MATTERPORT21_NYU40, MATTERPORT21_NAMES, (LABEL,)),
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
