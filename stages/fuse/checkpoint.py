"""What ``fuse.openclip.checkpoint`` names: the one rule, used when the config file is read (a file
path is made absolute, a tag is left alone), when the run is checked and when the weights are loaded.

- ``random``: random initialisation (tests and benchmarks only);
- ``local-dir:<folder>``: an open_clip model folder (``open_clip_config.json`` and the weights);
- a **file** when the value looks like a path: it holds a path separator, starts with ``.``, or has
  a suffix (``ViT-B-16.pt``, ``weights.safetensors``, ``model.ckpt``);
- otherwise an open_clip **pretrained tag** (``laion2b_s34b_b88k``, ``openai``).

The rule reads only the text, never the disk, so it gives the same answer in every working folder:
a weights file without a suffix is named as a path (``./mymodel`` or an absolute path).
"""

from __future__ import annotations

import os
from pathlib import PurePath

RANDOM = "random"
LOCAL_DIR = "local-dir:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
"""Suffixes of the weights file inside a ``local-dir:`` folder."""


def checkpoint_kind(value: str) -> str:
    """``random``, ``local-dir``, ``file`` or ``tag`` (see the module docstring); empty is an error
    the caller reports with its own key."""
    if value == RANDOM:
        return "random"
    if value.startswith(LOCAL_DIR):
        return "local-dir"
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if any(s in value for s in separators) or value.startswith(".") or PurePath(value).suffix:
        return "file"
    return "tag"
