"""Matterport3D label lists as OpenScene evaluates them (OpenScene's public code).

- 21 classes: the ScanNet-20 ones (NYU40 ids, the last named "other") and ceiling; ids in
  ``pipeline.readers.label_ids.MATTERPORT21_NYU40``.
- 40, 80, 160 classes: the most frequent Matterport categories, most frequent first, so the 40 and
  80 lists are prefixes of the 160 one; the id of a class is its 1-based position in that list.
"""

from __future__ import annotations

NAMES_21 = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "other", "ceiling",
)
"""Class names of the 21-class list, in the order of OpenScene's label indices."""

NAMES_160 = (
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
"""The 160-class list (its first 40 and 80 entries are the shorter lists), spelled as OpenScene
spells them (the text prompts use these names)."""
