"""Settings of the fuse stage (design.md section 3). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator

from geopurify.pipeline.choices import FuseSource, FusionMode, TextEncoder, Vocabulary
from geopurify.pipeline.config import (CHECKED, NOT_FINGERPRINTED, Bool, Device, Float, Ge, Gt, Int,
                                       MinLen, OptionalText, Share, Text)
from geopurify.stages.fuse.sources.simulated_config import SimulatedConfig


def _has_slot(template: str) -> str:
    if "{}" not in template:
        raise ValueError("a template containing '{}' (where the class name goes)")
    return template


Template = Annotated[Text, AfterValidator(_has_slot)]
"""A prompt template: ``{}`` is replaced by each class name."""


@dataclass
class OpenClipConfig:
    __pydantic_config__ = CHECKED

    model: Text = "ViT-B-16"
    """open_clip architecture name (a built-in config, or one registered with open_clip)."""
    checkpoint: OptionalText = ""
    """Weights: a checkpoint file, ``local-dir:<folder>`` (open_clip_config.json + weights), a
    pretrained tag open_clip knows (needs its cache or the network), or ``random`` (random init:
    tests and speed benchmarks only). Empty is an error, never a silent random init. The content
    hash of a file or folder is part of the fingerprint. A value with a path separator, a leading
    ``.`` or a suffix is a file; any other name is a tag (``stages/fuse/checkpoint.py``)."""
    image_size: Annotated[Int, Ge(1)] = 320
    """Long side (px) the colour image is resized to before the ViT; the short side keeps the aspect
    ratio; both are rounded to multiples of the patch size (ScanNet 648x484 -> 320x240, a 20x15
    patch grid). The positional embedding is interpolated when the grid differs from the model's."""
    templates: Annotated[list[Template], MinLen(1)] = field(default_factory=lambda: ["a {} in a scene"])
    """Prompt templates; with several, each class embedding is the normalised mean over them."""
    normalize: Bool = True
    """L2-normalise each patch feature before fusion."""
    device: Device = field(default="cpu", metadata=NOT_FINGERPRINTED)
    """Torch device of the encoders (``cpu``, ``cuda``, ``cuda:1``)."""


@dataclass
class OpenSceneConfig:
    __pydantic_config__ = CHECKED

    dir: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """``openscene`` source: folder of OpenScene's fused features ``<scene>_<k>.pt`` (OpenSeg or
    LSeg). The vocabulary is embedded by ``fuse.openclip``'s text tower, which must be the CLIP the
    features were made for: ``ViT-L-14-336`` for OpenSeg, ``ViT-B-32`` for LSeg, weights from a
    local file. The files' sizes and times are fingerprinted per scene, not the folder's location."""


@dataclass
class FuseConfig:
    __pydantic_config__ = CHECKED

    source: FuseSource = "openclip"
    """2D feature source: ``openclip`` (the default: needs ``openclip.checkpoint``), ``precomputed``,
    ``openscene`` (per-point features fused by OpenScene), or ``simulated`` (a benchmark that
    renders the ground truth into the views; only when named)."""
    frame_stride: Annotated[Int, Ge(1)] = 1
    """Use every k-th frame."""
    depth_tolerance: Annotated[Float, Gt(0)] = 0.05
    """Visible if |z - d| <= depth_tolerance * d (OpenScene used 0.25)."""
    border: Annotated[Int, Ge(0)] = 10
    """Pixels at the image border that count as outside."""
    use_depth: Bool = True
    """Depth-test visibility when frames have depth; False (or frames without depth): frustum only."""
    mode: FusionMode = "consensus"
    """Fusion across views: ``mean`` or ``consensus``."""
    topk: Annotated[Int, Ge(1)] = 3
    """Views kept per point in consensus mode."""
    logit_scale: Annotated[Float, Gt(0)] = 100.0
    """Scale s of the per-view logits s * cos(f_v, t_c) in consensus mode (CLIP's is 100)."""
    max_unreadable_frames: Annotated[Float, Share] = field(default=0.1, metadata=NOT_FINGERPRINTED)
    """Share of a scene's frames that may be unreadable (skipped, counted in the fused group's
    ``skipped_frames``); more fails the scene, naming the first bad file."""
    fill_unseen: Bool = True
    """Points no view sees copy the feature of the nearest seen point (``seen`` stays 0)."""
    vocab: Vocabulary = "scannet20"
    """Vocabulary whose text embeddings drive consensus and scoring."""
    text_encoder: TextEncoder = "auto"
    """``openclip`` (the openclip model's text tower), ``hashed`` (deterministic pseudo-embeddings,
    benchmark only) or ``auto``: hashed for the simulated source, openclip otherwise."""
    hashed_dim: Annotated[Int, Ge(1)] = 512
    """Width D of the hashed text embeddings."""
    openclip: OpenClipConfig = field(default_factory=OpenClipConfig)
    """The openclip image source and text encoder."""
    simulated: SimulatedConfig = field(default_factory=SimulatedConfig)
    """The simulated source (benchmark only)."""
    precomputed_dir: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """``precomputed`` source: folder with ``<scene>/<frame>.npy`` feature maps (h, w, D). Their
    sizes and times are fingerprinted per scene, not the folder's location."""
    openscene: OpenSceneConfig = field(default_factory=OpenSceneConfig, metadata=NOT_FINGERPRINTED)
    """The openscene source; what changes its features (the files) enters the fingerprint through
    the source's per-scene identity."""
    batch_frames: Annotated[Int, Ge(1)] = field(default=8, metadata=NOT_FINGERPRINTED)
    """Frames encoded per batch by the 2D model."""
    cache_dir: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """Folder for the temporary per-scene feature-map cache of consensus mode (default: the system
    temporary folder); removed when the scene is done."""

    def text_encoder_kind(self) -> str:
        """The text encoder in use: ``auto`` means hashed for the simulated source, else openclip."""
        if self.text_encoder == "auto":
            return "hashed" if self.source == "simulated" else "openclip"
        return self.text_encoder

    def unused_fields(self) -> set[str]:
        """Settings this run's source, text encoder and fusion mode never read (kept out of the
        fingerprint, so that changing them makes nothing stale)."""
        unused = set()
        if self.source != "simulated":
            unused.add("simulated")
        if self.source != "openscene":
            unused.add("openscene")
        if self.source != "openclip" and self.text_encoder_kind() != "openclip":
            unused.add("openclip")
        if self.text_encoder_kind() != "hashed":
            unused.add("hashed_dim")
        if self.mode != "consensus":
            unused |= {"topk", "logit_scale"}
        return unused
