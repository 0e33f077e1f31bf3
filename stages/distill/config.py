"""Settings of the distill stage (design.md section 5). Import-light: no torch here.

Every field is read by ``stages/distill``; the bracketed numbers in design.md section 5 are the published settings.
Fields marked ``NOT_FINGERPRINTED`` change speed or logging only, never the trained weights; the
device training runs on (CPU or CUDA) is fingerprinted with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, get_args

from geopurify.pipeline.choices import DistillPreset, Norm, PositiveMode, TrainingDevice
from geopurify.pipeline.config import (CHECKED, NOT_FINGERPRINTED, Bool, Float, Ge, Gt, Int, Interval, Share,
                                       Text)

# preset -> conv width; both presets share the shape (3x3x3 stem, residual blocks, 1x1x1 head)
PRESET_WIDTHS = {"cpu": 64, "paper": 512}

POSITIVE_MODES = get_args(PositiveMode)


@dataclass
class DistillConfig:
    __pydantic_config__ = CHECKED

    train_scenes: list[Text] = field(default_factory=list, metadata=NOT_FINGERPRINTED)
    """Scenes the student is trained on (names, globs or @file). Not fingerprinted itself: the
    fingerprints of the scenes' fused and teacher groups are the model's inputs."""

    # ---- network ------------------------------------------------------------------------
    preset: DistillPreset = "cpu"
    """Network size: ``cpu`` (default, width 64: small enough to train on a laptop's CPU) or ``paper``
    (width 512, the published network's size)."""
    width: Annotated[Int, Ge(0)] = 0
    """Conv channels; 0 takes the preset's width."""
    blocks: Annotated[Int, Ge(0)] = 4
    """Residual blocks of two 3x3x3 convs after the stem."""
    out_dim: Annotated[Int, Ge(1)] = 128
    """Embedding width (output of the 1x1x1 head, L2-normalised)."""
    norm: Norm = "batch"
    """Normalisation after each conv: ``batch``, ``layer`` or ``none``."""
    voxel_size: Annotated[Float, Gt(0)] = 0.02
    """Grid of the student's input voxels (metres)."""

    # ---- loss and mining (design.md section 5.3) ----------------------------------------
    anchors: Annotated[Int, Ge(1)] = 4096
    """Most anchor points per step; M = min(anchors, anchor_fraction * N)."""
    anchor_fraction: Annotated[Float, Interval(gt=0, le=1)] = 1.0 / 3.0
    """Largest share of a scene's points used as anchors."""
    positive: PositiveMode = "paper"
    """``paper``: the most teacher-similar other point (usually inside the anchor's own voxel);
    ``outside-voxel``: the most teacher-similar point outside the anchor's student voxel."""
    scene_negatives: Annotated[Int, Ge(0)] = 48
    """Negatives per anchor: the least teacher-similar points of the whole scene."""
    local_negatives: Annotated[Int, Ge(0)] = 15
    """Negatives per anchor: the least teacher-similar of its spatial neighbours."""
    neighbours: Annotated[Int, Ge(1)] = 96
    """Spatial neighbours (points, self excluded) the local negatives are chosen from."""
    temperature: Annotated[Float, Gt(0)] = 0.07
    """InfoNCE temperature."""

    # ---- optimisation -------------------------------------------------------------------
    epochs: Annotated[Int, Ge(1)] = 30
    """Passes over the training scenes; one scene per step."""
    lr: Annotated[Float, Gt(0)] = 1e-3
    """Peak learning rate of AdamW (the paper's, for its much wider net, was lower)."""
    weight_decay: Annotated[Float, Ge(0)] = 1e-5
    """AdamW weight decay."""
    warmup_fraction: Annotated[Float, Interval(ge=0, lt=1)] = 0.05
    """Share of the steps with a linear warm-up from 0 to ``lr``; cosine decay after."""
    min_lr_fraction: Annotated[Float, Share] = 0.01
    """The cosine decays to ``lr * min_lr_fraction``."""
    seed: Int = 0
    """Seeds the initial weights, the scene order, the augmentation and the anchors."""

    # ---- training-time augmentation (inference never augments) ---------------------------
    augment: Bool = True
    """Random rotation about z, scaling and tilt of each training step's scene."""
    scale_min: Annotated[Float, Gt(0)] = 0.9
    """Smallest random scale."""
    scale_max: Annotated[Float, Gt(0)] = 1.1
    """Largest random scale."""
    tilt_degrees: Annotated[Float, Ge(0)] = 3.0
    """Largest random tilt about x and about y."""

    # ---- execution (never change the weights) ------------------------------------------
    mining_chunk: Annotated[Int, Ge(1)] = field(default=512, metadata=NOT_FINGERPRINTED)
    """Anchors per block of teacher similarities (a block is chunk x N floats)."""
    device: TrainingDevice = field(default="auto", metadata=NOT_FINGERPRINTED)
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``."""
    threads: Annotated[Int, Ge(1)] = 2
    """Torch CPU threads of training. Fingerprinted: CPU float sums depend on how many threads split
    them, so the count changes the weights' last bits (fewer can be faster on a busy machine)."""


def check(cfg: DistillConfig) -> None:
    """Refuse values that cannot work, naming the key (before anything is read or written): each
    value by its declaration above, then the settings that must agree with each other."""
    from geopurify.pipeline.config import check_values
    from geopurify.pipeline.errors import ConfigError

    check_values(cfg, "distill.")
    if cfg.scene_negatives + cfg.local_negatives == 0:
        raise ConfigError("distill.scene_negatives + distill.local_negatives must be at least 1")
    if cfg.scale_min > cfg.scale_max:
        raise ConfigError(f"distill.scale_min = {cfg.scale_min} is above distill.scale_max = {cfg.scale_max}")
