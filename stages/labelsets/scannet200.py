"""ScanNet200: the benchmark's class names and its head / common / tail split (ScanNet's public
benchmark constants). Ids: ``pipeline.readers.label_ids.SCANNET200_IDS``, in the same order."""

from __future__ import annotations

NAMES = (
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
"""Class name of each ScanNet200 benchmark class, in the benchmark's order."""

# The benchmark's split of the 200 classes by how many labelled instances they have in training.
HEAD = frozenset((
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
COMMON = frozenset((
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
TAIL = frozenset((
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
