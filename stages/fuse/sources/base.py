"""The contract every 2D feature source meets, and the text embeddings they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from geopurify.pipeline.scene import Frame, Scene


@dataclass
class TextEmbeddings:
    """A vocabulary embedded by one text encoder."""

    vocab: str
    """Vocabulary name (``scannet20``)."""
    nyu40_ids: np.ndarray
    """(C,) int16 label id of each class, in the vocabulary's label space (NYU40 ids for the
    ScanNet-20 vocabulary; see stages.labelsets)."""
    names: list[str]
    """Class names, in the order of the rows."""
    embeddings: np.ndarray
    """(C, D) float32, rows L2-normalised."""
    encoder: dict
    """JSON-able identity of the text encoder (kind, model, checkpoint hash, templates)."""


class FeatureSource(Protocol):
    """Per-frame dense features in the text embeddings' space."""

    dim: int
    """Feature channels D (equals the text embedding width)."""

    def identity(self) -> dict:
        """JSON-able description of everything that changes the features (fingerprinted)."""

    def begin_scene(self, scene: Scene, text: TextEmbeddings) -> None:
        """Per-scene set-up before the frames (the simulated source draws its scene-level errors)."""

    def frame_features(self, frame: Frame, color: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        """Feature map (h, w, D) float32 of one frame, at any resolution; the fuse stage samples it
        bilinearly at the colour-intrinsics position scaled to (h, w). ``color`` is (H, W, 3) uint8,
        ``depth`` (H', W') float32 metres or None."""
