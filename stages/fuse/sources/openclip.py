"""Dense per-patch features from an open_clip ViT, MaskCLIP style, and its text tower.

The dense path (MaskCLIP, Zhou et al. 2022, ViT variant as in its public code): every block but the
last runs unchanged; in the last block the query-key attention is skipped and each token keeps its
own value path::

    v = W_v ln_1(x) + b_v              (the value third of the block's in-projection)
    y = x + ls_1(W_o v + b_o)           (attention out-projection, residual)
    y = y + ls_2(mlp(ln_2(y)))          (the block's MLP branch, residual)
    f = ln_post(y) @ proj               (final norm and projection into the joint image-text space)

for the patch tokens (the class token is dropped). ``ls_1``/``ls_2`` are identities in CLIP ViTs.
The (h, w, D) patch grid is returned as is; the fuse stage samples it bilinearly (the upsampling).
Input: the colour image resized so its long side is ``image_size`` (both sides multiples of the
patch), normalised with the model's mean/std; the positional embedding is resized bicubically to
the patch grid when it differs from the model's own.

Weights: a checkpoint file, ``local-dir:<folder>``, a pretrained tag, or ``random`` (explicitly).
torch and open_clip are imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import cached_content_hash
from geopurify.pipeline.scene import Frame, Scene

from ..checkpoint import LOCAL_DIR, WEIGHT_SUFFIXES, checkpoint_kind
from ..config import FuseConfig, OpenClipConfig
from .base import TextEmbeddings

DENSE_VERSION = 1  # bump when the dense path changes its output


# ---- weights ------------------------------------------------------------------------------
def _weights_kind(ocfg: OpenClipConfig) -> str:
    ckpt = ocfg.checkpoint
    if not ckpt:
        raise ConfigError("fuse.openclip.checkpoint is empty: give a checkpoint file, local-dir:<folder>, "
                          "a pretrained tag, or 'random' (random init, for tests and benchmarks)")
    return checkpoint_kind(ckpt)


def _local_dir(ocfg: OpenClipConfig) -> Path:
    folder = Path(ocfg.checkpoint[len(LOCAL_DIR):])
    if not folder.is_dir():
        raise InputError(folder, "open_clip model folder not found")
    if not (folder / "open_clip_config.json").is_file():
        raise InputError(folder, "no open_clip_config.json in the model folder")
    if not any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise InputError(folder, "no weights file (.safetensors, .bin, .pth) in the model folder")
    return folder


def weights_identity(ocfg: OpenClipConfig) -> dict:
    """What the weights are, cheaply: a content hash for files and folders."""
    kind = _weights_kind(ocfg)
    if kind == "random":
        return {"kind": "random"}
    if kind == "local-dir":
        return {"kind": "local-dir", "sha": cached_content_hash(_local_dir(ocfg))}
    if kind == "file":
        path = Path(ocfg.checkpoint)
        if not path.is_file():
            raise InputError(path, "checkpoint file not found")
        return {"kind": "file", "sha": cached_content_hash(path)}
    return {"kind": "tag", "tag": ocfg.checkpoint}


_LOAD_LOCK = threading.Lock()


def load_model(ocfg: OpenClipConfig):
    """The open_clip model (eval mode, on ``ocfg.device``) and its tokenizer; cached per process
    (and loaded once even when several scenes start at the same time on Dask threads)."""
    ident = weights_identity(ocfg)  # validates, and keys the cache on the weights' content
    with _LOAD_LOCK:
        return _load_model(ocfg.model, ocfg.checkpoint, ocfg.device, repr(sorted(ident.items())))


@lru_cache(maxsize=2)
def _load_model(model_name: str, checkpoint: str, device: str, _identity: str):
    import open_clip

    kind = _weights_kind(OpenClipConfig(model=model_name, checkpoint=checkpoint))
    if kind == "local-dir":
        name, pretrained = checkpoint, None
    else:
        if model_name not in open_clip.list_models():
            raise ConfigError(f"fuse.openclip.model {model_name!r}: not an open_clip model "
                              f"(e.g. ViT-B-16, ViT-B-32, ViT-L-14)")
        name, pretrained = model_name, (None if kind == "random" else checkpoint)
    try:
        model = open_clip.create_model(name, pretrained=pretrained, device=device,
                                       pretrained_image=False, pretrained_text=False)
    except Exception as exc:  # open_clip raises RuntimeError/ValueError/KeyError/unpickling errors
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if kind == "tag":
            raise ConfigError(f"fuse.openclip.checkpoint {checkpoint!r}: pretrained weights not available "
                              f"offline for {model_name} ({first})") from None
        where = checkpoint[len(LOCAL_DIR):] if kind == "local-dir" else checkpoint
        raise InputError(where, f"not loadable as open_clip {model_name} weights: {first}") from None
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)
    return model, tokenizer


# ---- text ---------------------------------------------------------------------------------
def encode_texts(ocfg: OpenClipConfig, names: list[str]) -> np.ndarray:
    """(C, D) float32: per class, the normalised mean of its normalised template embeddings."""
    import torch

    if not ocfg.templates or any("{}" not in t for t in ocfg.templates):
        raise ConfigError("fuse.openclip.templates: expected one or more templates containing '{}'")
    model, tokenizer = load_model(ocfg)
    rows = []
    with torch.inference_mode():
        for name in names:
            tokens = tokenizer([t.format(name) for t in ocfg.templates]).to(ocfg.device)
            emb = model.encode_text(tokens).float()
            emb = emb / emb.norm(dim=-1, keepdim=True)
            mean = emb.mean(dim=0)
            rows.append((mean / mean.norm()).cpu().numpy())
    return np.asarray(rows, dtype=np.float32)


# ---- dense image features -----------------------------------------------------------------
def _check_architecture(visual) -> None:
    import torch
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    if not isinstance(visual, VisionTransformer):
        raise ConfigError(f"fuse.openclip.model: the dense path needs an open_clip ViT image tower, "
                          f"not {type(visual).__name__}")
    last = visual.transformer.resblocks[-1]
    if not isinstance(last, ResidualAttentionBlock) or not isinstance(last.attn, torch.nn.MultiheadAttention) \
            or getattr(last.attn, "in_proj_weight", None) is None or visual.attn_pool is not None:
        raise ConfigError("fuse.openclip.model: the dense path supports ViTs with standard attention "
                          "blocks and no attentional pooling")


def resized_pos_embed(visual, grid: tuple[int, int]):
    """The class + patch positional embedding for a patch grid (gh, gw), bicubic-resized."""
    import torch
    import torch.nn.functional as F

    pos = visual.positional_embedding
    own = tuple(visual.grid_size)
    if tuple(grid) == own:
        return pos
    cls, patches = pos[:1], pos[1:]
    width = pos.shape[1]
    patches = patches.reshape(1, own[0], own[1], width).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=grid, mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], width)
    return torch.cat([cls, patches], dim=0)


def dense_features(visual, images):
    """MaskCLIP dense features (B, gh, gw, D) of normalised images (B, 3, H, W), H and W multiples
    of the patch size."""
    import torch
    import torch.nn.functional as F

    x = visual.conv1(images.to(visual.conv1.weight.dtype))  # (B, width, gh, gw)
    batch, width, gh, gw = x.shape
    x = x.reshape(batch, width, gh * gw).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype).view(1, 1, width).expand(batch, 1, width)
    x = torch.cat([cls, x], dim=1) + resized_pos_embed(visual, (gh, gw)).to(x.dtype)
    x = visual.ln_pre(x)  # patch dropout is off in eval mode
    transformer = visual.transformer
    if not transformer.batch_first:
        x = x.transpose(0, 1)
    for block in transformer.resblocks[:-1]:
        x = block(x)
    if not transformer.batch_first:
        x = x.transpose(0, 1)
    last = transformer.resblocks[-1]
    v = F.linear(last.ln_1(x), last.attn.in_proj_weight[2 * width:],
                 None if last.attn.in_proj_bias is None else last.attn.in_proj_bias[2 * width:])
    y = x + last.ls_1(last.attn.out_proj(v))
    y = y + last.ls_2(last.mlp(last.ln_2(y)))
    y = visual.ln_post(y[:, 1:])
    if visual.proj is not None:
        y = y @ visual.proj
    return y.reshape(batch, gh, gw, -1)


def input_size(image_hw: tuple[int, int], long_side: int, patch: int) -> tuple[int, int]:
    """ViT input (H, W): long side ``long_side``, aspect kept, both rounded to the patch size."""
    h, w = image_hw
    scale = long_side / max(h, w)
    return tuple(max(patch, int(side * scale / patch + 0.5) * patch) for side in (h, w))  # half rounds up


class OpenClipSource:
    """The ``openclip`` 2D source. The model is loaded on first use, so constructing the source and
    asking its identity are cheap."""

    def __init__(self, cfg: FuseConfig, text: TextEmbeddings):
        self.cfg = cfg.openclip
        self.dim = int(text.embeddings.shape[1])
        self._weights = weights_identity(self.cfg)

    def identity(self) -> dict:
        return {"source": "openclip", "dense": "maskclip-value-v1", "dense_version": DENSE_VERSION,
                "model": self.cfg.model, "weights": self._weights, "image_size": self.cfg.image_size,
                "normalize": self.cfg.normalize}

    def begin_scene(self, scene: Scene, text: TextEmbeddings) -> None:
        model, _ = load_model(self.cfg)
        _check_architecture(model.visual)
        if model.visual.output_dim != text.embeddings.shape[1]:
            raise ConfigError(f"fuse.openclip.model {self.cfg.model}: image features have "
                              f"{model.visual.output_dim} channels, the text embeddings {text.embeddings.shape[1]}")

    def frame_features(self, frame: Frame, color: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        return self.batch_features([frame], [color], [depth])[0]

    def batch_features(self, frames: list[Frame], colors: list[np.ndarray], depths: list) -> list[np.ndarray]:
        """Feature maps of several frames in as few forward passes as their sizes allow."""
        import torch
        import torch.nn.functional as F

        model, _ = load_model(self.cfg)
        visual = model.visual
        pre = getattr(visual, "preprocess_cfg", {}) or {}
        mean = torch.tensor(pre.get("mean", (0.48145466, 0.4578275, 0.40821073)), dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre.get("std", (0.26862954, 0.26130258, 0.27577711)), dtype=torch.float32).view(1, 3, 1, 1)
        patch = int(visual.patch_size[0])
        out: list = [None] * len(colors)
        by_shape: dict[tuple, list[int]] = {}
        for i, c in enumerate(colors):
            by_shape.setdefault(c.shape[:2], []).append(i)
        with torch.inference_mode():
            for shape, members in by_shape.items():
                size = input_size(shape, self.cfg.image_size, patch)
                x = torch.from_numpy(np.stack([colors[i] for i in members])).permute(0, 3, 1, 2).float() / 255.0
                x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
                x = ((x - mean) / std).to(self.cfg.device)
                feats = dense_features(visual, x).float()
                if self.cfg.normalize:
                    feats = feats / feats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                feats = feats.cpu().numpy()
                for j, i in enumerate(members):
                    out[i] = feats[j]
        return out
