"""The viewer's text box: a prompt scored against a scene's purified features (fused when the scene
has none) with the store's own text encoder, as ``query`` does (``stages/purify/query.py``): a heat
map of the cosine and the largest connected regions above the threshold. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline import vocabulary as V
from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.store import Store
from geopurify.stages.fuse.text import fused_vocab, read_text
from geopurify.stages.purify.query import (TOP_REGIONS, heat_colours, point_scores, prompt_encoder, regions,
                                           stored_fuse_config)

from .provenance import result_groups


@dataclass
class Answer:
    prompt: str
    scores: np.ndarray
    """(N,) float32 cosines."""
    colours: np.ndarray
    """(N, 3) uint8 heat map (inferno, 1st-99th percentile)."""
    boxes: list[tuple[np.ndarray, np.ndarray, int]]
    """Top regions above the threshold, largest first: (min corner, max corner, points)."""
    seconds: float


def feature_group(store: Store, scene: str) -> str | None:
    """The group the text box scores: the method's ``purified`` when it kept its features, else
    another affinity's purified group that did, else ``fused``."""
    done = result_groups(store, scene)
    order = [g for g in done if g == V.PURIFIED] + [g for g in done if g.startswith(V.PURIFIED_PREFIX)]
    for g in order + [g for g in done if g == V.FUSED]:
        if V.FEAT in store.group(V.scene_group(scene, g)):
            return g
    return None


class Prompter:
    """A scene's features and text encoder, loaded once; ``ask`` answers one prompt."""

    def __init__(self, store: Store, scene: str, xyz: np.ndarray):
        self.group = feature_group(store, scene)
        if self.group is None:
            raise StoreError(f"{store.path}/{V.scene_group(scene, V.FUSED)}: no features to query "
                             "(neither purified features nor fused ones)")
        text, _ = read_text(store, fused_vocab(store, scene, "scannet20"))
        self.encode = prompt_encoder(stored_fuse_config(store, scene), text.encoder)
        again = self.encode(text.names)
        if again.shape != text.embeddings.shape or np.abs(again - text.embeddings).max() > 1e-4:
            raise StoreError(f"{store.path}/{V.text_group(text.vocab)}: the re-created text encoder does "
                             "not reproduce the stored embeddings (its weights changed?)")
        self.hashed = text.encoder.get("kind") == "hashed"
        self.class_names = list(text.names)
        self.xyz = xyz
        feat = store.group(V.scene_group(scene, self.group))[V.FEAT]
        if feat.shape[0] != len(xyz):
            raise StoreError(f"{store.path}/{V.scene_group(scene, self.group)}/{V.FEAT}: {feat.shape[0]} rows "
                             f"for {len(xyz)} points")
        self.feat = np.asarray(feat[:], dtype=np.float16)  # scored in chunks as float32

    def note(self) -> str:
        """What the box can answer."""
        if self.hashed:
            return ("This store's text encoder is the demo's hashed one: it knows only the class names "
                    f"({', '.join(self.class_names)}); any other text scores noise.")
        return "Any text prompt (the store's own openclip text encoder)."

    def ask(self, prompt: str, threshold: float = 0.5) -> Answer:
        import time

        prompt = prompt.strip()
        if not prompt:
            raise ConfigError("query: the prompt is empty")
        start = time.perf_counter()
        emb = self.encode([prompt]).astype(np.float64)
        emb /= max(float(np.linalg.norm(emb)), 1e-12)
        scores = point_scores(self.feat, emb.astype(np.float32))[:, 0]
        region = regions(self.xyz, scores >= threshold)
        boxes = []
        for r in range(min(TOP_REGIONS, int(region.max()) + 1)):
            members = self.xyz[region == r]
            boxes.append((members.min(axis=0), members.max(axis=0), len(members)))
        return Answer(prompt, scores, heat_colours(scores), boxes, time.perf_counter() - start)


def box_segments(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(12, 2, 3) the edges of an axis-aligned box."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
    return np.stack([corners[[a, b]] for a, b in edges]).astype(np.float32)
