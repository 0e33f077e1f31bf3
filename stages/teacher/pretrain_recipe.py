"""How the ``ssl`` teacher is pretrained: the recipe's settings and the named presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from geopurify.pipeline.errors import ConfigError

from .augment import AugmentConfig
from .network import NetworkConfig


@dataclass
class PretrainRecipe:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """U-Net shape."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """How the two views are drawn."""
    epochs: int = 50
    """Passes over the scans (one step per scan)."""
    lr: float = 2e-3
    """Peak learning rate (AdamW)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear warm-up before the cosine decay."""
    min_lr_fraction: float = 0.01
    """The cosine decays to ``lr * min_lr_fraction``."""
    matched_points: int = 4096
    """Matched points per step (the InfoNCE batch)."""
    temperature: float = 0.1
    """InfoNCE temperature."""
    segment_threshold: float = 0.2
    """Felzenszwalb threshold of the over-segmentation (larger: bigger segments)."""
    segment_min_size: int = 20
    """Smallest segment (points); smaller ones merge into a neighbour."""
    segment_colour_weight: float = 0.5
    """Weight of CIELAB colour distance against normal disagreement in segment edges."""
    segment_negative_radius: float = 0.5
    """Local negatives: a point's segment competes only with segments whose bounding boxes come
    within this distance (metres, in the scan) of its own segment's box; 0: every segment of the
    other view. Affinity is judged between nearby points, so nearby segments are the negatives
    that matter; far ones are mostly easy."""
    threads: int = 2
    """Torch CPU threads while training: the float sums, hence the weights, depend on the count, so it
    is fixed here rather than taken from the machine."""


PRESETS: dict[str, PretrainRecipe] = {
    # sized for a 2-core CPU (see the README's Results section for its run time)
    "cpu": PretrainRecipe(),
    # real hardware: wider and deeper, whole rooms, longer
    "large": PretrainRecipe(
        network=NetworkConfig(channels=[32, 64, 128, 256, 384], blocks=2, out_channels=96),
        augment=AugmentConfig(crop_size=(4.0, 8.0)),
        epochs=300, warmup_steps=300, matched_points=8192),
}


def recipe_for(preset: str, epochs: int | None = None) -> PretrainRecipe:
    """The named preset, with ``epochs`` replaced when given."""
    if preset not in PRESETS:
        raise ConfigError(f"pretrain preset {preset!r}: expected one of {', '.join(PRESETS)}")
    recipe = PRESETS[preset]
    return replace(recipe, epochs=epochs) if epochs else recipe
