"""Settings of the distill stage (design.md section 5). Import-light: no torch here.

Every field is read by ``stages/distill``; the bracketed numbers in design.md are these defaults.
Fields marked ``NOT_FINGERPRINTED`` change speed or logging only, never the trained weights; the
device training runs on (CPU or CUDA) is fingerprinted with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geopurify.pipeline.config import NOT_FINGERPRINTED

# preset -> conv width; both presets share the shape (3x3x3 stem, residual blocks, 1x1x1 head)
PRESET_WIDTHS = {"cpu": 64, "paper": 512}

POSITIVE_MODES = ("paper", "outside-voxel")


@dataclass
class DistillConfig:
    train_scenes: list[str] = field(default_factory=list, metadata=NOT_FINGERPRINTED)
    """Scenes the student is trained on (names, globs or @file). Not fingerprinted itself: the
    fingerprints of the scenes' fused and teacher groups are the model's inputs."""

    # ---- network ------------------------------------------------------------------------
    preset: str = "cpu"
    """Network size: ``cpu`` (default, width 64: small enough to train on a laptop's CPU) or ``paper``
    (width 512, the published network's size)."""
    width: int = 0
    """Conv channels; 0 takes the preset's width."""
    blocks: int = 4
    """Residual blocks of two 3x3x3 convs after the stem."""
    out_dim: int = 128
    """Embedding width (output of the 1x1x1 head, L2-normalised)."""
    norm: str = "batch"
    """Normalisation after each conv: ``batch``, ``layer`` or ``none``."""
    voxel_size: float = 0.02
    """Grid of the student's input voxels (metres)."""

    # ---- loss and mining (design.md section 5) ------------------------------------------
    anchors: int = 4096
    """Most anchor points per step; M = min(anchors, anchor_fraction * N)."""
    anchor_fraction: float = 1.0 / 3.0
    """Largest share of a scene's points used as anchors."""
    positive: str = "paper"
    """``paper``: the most teacher-similar other point (usually inside the anchor's own voxel);
    ``outside-voxel``: the most teacher-similar point outside the anchor's student voxel."""
    scene_negatives: int = 48
    """Negatives per anchor: the least teacher-similar points of the whole scene."""
    local_negatives: int = 15
    """Negatives per anchor: the least teacher-similar of its spatial neighbours."""
    neighbours: int = 96
    """Spatial neighbours (points, self excluded) the local negatives are chosen from."""
    temperature: float = 0.07
    """InfoNCE temperature."""

    # ---- optimisation -------------------------------------------------------------------
    epochs: int = 30
    """Passes over the training scenes; one scene per step."""
    lr: float = 1e-3
    """Peak learning rate of AdamW (the paper's, for its much wider net, was lower)."""
    weight_decay: float = 1e-5
    """AdamW weight decay."""
    warmup_fraction: float = 0.05
    """Share of the steps with a linear warm-up from 0 to ``lr``; cosine decay after."""
    min_lr_fraction: float = 0.01
    """The cosine decays to ``lr * min_lr_fraction``."""
    seed: int = 0
    """Seeds the initial weights, the scene order, the augmentation and the anchors."""

    # ---- training-time augmentation (inference never augments) ---------------------------
    augment: bool = True
    """Random rotation about z, scaling and tilt of each training step's scene."""
    scale_min: float = 0.9
    """Smallest random scale."""
    scale_max: float = 1.1
    """Largest random scale."""
    tilt_degrees: float = 3.0
    """Largest random tilt about x and about y."""

    # ---- execution (never change the weights) ------------------------------------------
    mining_chunk: int = field(default=512, metadata=NOT_FINGERPRINTED)
    """Anchors per block of teacher similarities (a block is chunk x N floats)."""
    device: str = field(default="auto", metadata=NOT_FINGERPRINTED)
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``."""
    threads: int = 2
    """Torch CPU threads of training. Fingerprinted: CPU float sums depend on how many threads split
    them, so the count changes the weights' last bits (fewer can be faster on a busy machine)."""


def check(cfg: DistillConfig) -> None:
    """Refuse values that cannot work, naming the key (before anything is read or written)."""
    from geopurify.pipeline.errors import ConfigError

    if cfg.preset not in PRESET_WIDTHS:
        raise ConfigError(f"distill.preset {cfg.preset!r}: expected one of {', '.join(PRESET_WIDTHS)}")
    if cfg.positive not in POSITIVE_MODES:
        raise ConfigError(f"distill.positive {cfg.positive!r}: expected one of {', '.join(POSITIVE_MODES)}")
    if cfg.norm not in ("batch", "layer", "none"):
        raise ConfigError(f"distill.norm {cfg.norm!r}: expected batch, layer or none")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"distill.device {cfg.device!r}: expected auto, cpu or cuda")
    positive = {"width": cfg.width + 1, "blocks": cfg.blocks + 1, "out_dim": cfg.out_dim,
                "voxel_size": cfg.voxel_size, "anchors": cfg.anchors, "anchor_fraction": cfg.anchor_fraction,
                "temperature": cfg.temperature, "epochs": cfg.epochs, "lr": cfg.lr,
                "mining_chunk": cfg.mining_chunk, "neighbours": cfg.neighbours, "threads": cfg.threads}
    for key, value in positive.items():
        if not value > 0:
            raise ConfigError(f"distill.{key} = {getattr(cfg, key)!r}: must be positive")
    if cfg.scene_negatives < 0 or cfg.local_negatives < 0 or cfg.scene_negatives + cfg.local_negatives == 0:
        raise ConfigError("distill.scene_negatives + distill.local_negatives must be at least 1")
    if not 0 <= cfg.warmup_fraction < 1 or not 0 <= cfg.min_lr_fraction <= 1:
        raise ConfigError("distill.warmup_fraction must be in [0,1) and distill.min_lr_fraction in [0,1]")
    if not 0 < cfg.scale_min <= cfg.scale_max:
        raise ConfigError("distill.scale_min must be positive and at most distill.scale_max")
