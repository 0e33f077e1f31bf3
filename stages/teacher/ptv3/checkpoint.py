"""Published Sonata / Concerto checkpoints: ``{"config": ..., "state_dict": ...}``, read with
``torch.load(weights_only=True)`` and matched strictly, tensor by tensor.

A config key is either used (it shapes the network), accepted and ignored (it only matters for
training or for attention kernels and changes no tensor), or refused with one line naming it (an
architecture this encoder does not implement). Missing keys take the reference's defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from geopurify.pipeline.errors import ConfigError, GeopurifyError, InputError
from geopurify.stages import sparse

from .model import EncoderSettings, PTv3Encoder
from .serialization import ORDERS

DEFAULTS = {  # the reference constructor's defaults, for keys a checkpoint's config leaves out
    "in_channels": 6, "order": ("z", "z-trans"), "stride": (2, 2, 2, 2), "enc_depths": (3, 3, 3, 12, 3),
    "enc_channels": (48, 96, 192, 384, 512), "enc_num_head": (3, 6, 12, 24, 32),
    "enc_patch_size": (1024,) * 5, "mlp_ratio": 4, "qkv_bias": True, "qk_scale": None,
    "layer_scale": None, "pre_norm": True, "enable_rpe": False, "mask_token": False, "enc_mode": False,
}
IGNORED = {"drop_path", "attn_drop", "proj_drop", "shuffle_orders", "enable_flash", "upcast_attention",
           "upcast_softmax", "traceable", "freeze_encoder"}
"""Training or kernel settings: dropout, drop path, order shuffling, flash attention, upcasting,
recording of parents, frozen weights. None adds or changes a tensor."""
DECODER_KEYS = {"dec_depths", "dec_channels", "dec_num_head", "dec_patch_size"}
"""Unused when ``enc_mode`` is on (the only mode supported)."""
IN_CHANNELS = 9
"""Coordinates, colour and normal (``inputs.scan_inputs``)."""


def parse_config(config: dict, fail: Callable[[str], GeopurifyError]) -> EncoderSettings:
    """The encoder a checkpoint's config describes; ``fail(problem)`` makes the error to raise."""
    if not isinstance(config, dict):
        raise fail(f"config is a {type(config).__name__}, expected a dict")
    unknown = sorted(set(config) - set(DEFAULTS) - IGNORED - DECODER_KEYS)
    if unknown:
        raise fail(f"config key {unknown[0]!r} is not a PTv3 setting this encoder knows")
    cfg = {**DEFAULTS, **config}
    refused = [("enc_mode", cfg["enc_mode"] is not True, "a decoder (enc_mode false) is not supported: "
                "encoder-only checkpoints (Sonata, Concerto) are"),
               ("enable_rpe", bool(cfg["enable_rpe"]), "relative position encoding is not supported"),
               ("layer_scale", cfg["layer_scale"] is not None, "layer scale is not supported"),
               ("pre_norm", cfg["pre_norm"] is not True, "post-norm blocks are not supported"),
               ("in_channels", cfg["in_channels"] != IN_CHANNELS,
                f"{cfg['in_channels']!r} input channels: only {IN_CHANNELS} (coordinates, colour, normal) "
                "are supported")]
    for key, bad, why in refused:
        if bad:
            raise fail(f"config key {key!r}: {why}")
    orders = (cfg["order"],) if isinstance(cfg["order"], str) else tuple(cfg["order"])
    if not orders or any(o not in ORDERS for o in orders):
        raise fail(f"config key 'order' = {cfg['order']!r}: expected some of {', '.join(ORDERS)}")
    lists = {}
    for key in ("enc_depths", "enc_channels", "enc_num_head", "enc_patch_size", "stride"):
        value = cfg[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in value):
            raise fail(f"config key {key!r} = {value!r}: expected a list of positive integers")
        lists[key] = tuple(value)
    levels = len(lists["enc_depths"])
    for key in ("enc_channels", "enc_num_head", "enc_patch_size"):
        if len(lists[key]) != levels:
            raise fail(f"config key {key!r}: {len(lists[key])} values for {levels} levels")
    if len(lists["stride"]) != levels - 1:
        raise fail(f"config key 'stride': {len(lists['stride'])} values for {levels - 1} poolings")
    for width, heads in zip(lists["enc_channels"], lists["enc_num_head"]):
        if width % heads:
            raise fail(f"config key 'enc_num_head': {width} channels do not split into {heads} heads")
    return EncoderSettings(
        in_channels=IN_CHANNELS, orders=orders, strides=lists["stride"], depths=lists["enc_depths"],
        channels=lists["enc_channels"], heads=lists["enc_num_head"], patch_sizes=lists["enc_patch_size"],
        mlp_ratio=float(cfg["mlp_ratio"]), qkv_bias=bool(cfg["qkv_bias"]), qk_scale=cfg["qk_scale"],
        mask_token=bool(cfg["mask_token"]))


def build(config: dict) -> PTv3Encoder:
    """The encoder of a checkpoint config, random weights, on the CPU, in eval mode."""
    settings = parse_config(config, lambda problem: ConfigError(f"ptv3 config: {problem}"))
    return PTv3Encoder(settings, sparse.conv_algo_for("cpu")).eval()


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> PTv3Encoder:
    """The encoder of a checkpoint file, its weights loaded strictly, on ``device``, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "ptv3 teacher checkpoint not found (a Sonata or Concerto .pth file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, a damaged one, or one holding more than tensors
        raise InputError(path, f"not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or not {"config", "state_dict"} <= set(payload):
        raise InputError(path, "not a PTv3 checkpoint: expected a dict with 'config' and 'state_dict'")
    settings = parse_config(payload["config"], lambda problem: InputError(path, problem))
    algo = sparse.conv_algo_for("cpu")
    with torch.device("meta"):  # shapes only: every tensor comes from the checkpoint
        model = PTv3Encoder(settings, algo)
    load_weights(model, payload["state_dict"], lambda problem: InputError(path, problem))
    return to_device(model.eval(), device)


def load_weights(model: PTv3Encoder, state_dict, fail: Callable[[str], GeopurifyError]) -> None:
    """Give ``model`` (built on any device, the meta device included) every tensor of ``state_dict``
    as float32; any missing, unexpected, non-tensor or mis-shaped entry is refused, the first one
    named."""
    if not isinstance(state_dict, dict):
        raise fail(f"state_dict is a {type(state_dict).__name__}, expected a dict of tensors")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = [f"{len(names)} {what} tensor{'s' * (len(names) > 1)} (first: {names[0]!r})"
                 for names, what in ((missing, "missing"), (unexpected, "unexpected")) if names]
        raise fail(f"state dict does not match its config: {', '.join(parts)}")
    for name, want in expected.items():
        have = state_dict[name]
        if not isinstance(have, torch.Tensor):
            raise fail(f"state dict entry {name!r} is a {type(have).__name__}, not a tensor")
        if tuple(have.shape) != tuple(want.shape):
            raise fail(f"tensor {name!r} has shape {tuple(have.shape)}, its config needs {tuple(want.shape)}")
        if not have.is_floating_point():
            raise fail(f"tensor {name!r} is {have.dtype}, expected floating point")
    model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True, assign=True)


def to_device(model: PTv3Encoder, device: str | torch.device) -> PTv3Encoder:
    """``model`` on ``device`` with the sparse-conv algorithm that device needs."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r}: torch sees no CUDA device")
    sparse.set_conv_algo(model, sparse.conv_algo_for(device))
    return model.to(device)
