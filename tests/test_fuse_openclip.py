"""The openclip source on a tiny random-initialised ViT: weights round-trip, the MaskCLIP dense path
against an independent step-by-step computation, text embeddings, errors, and no network use."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
F = torch.nn.functional

from geopurify.pipeline.errors import ConfigError, InputError  # noqa: E402
from geopurify.pipeline.scene import Frame  # noqa: E402
from geopurify.stages.fuse.config import FuseConfig, OpenClipConfig  # noqa: E402
from geopurify.stages.fuse.sources.base import TextEmbeddings  # noqa: E402
from geopurify.stages.fuse.sources.openclip import (OpenClipSource, dense_features, encode_texts,  # noqa: E402
                                                    input_size, load_model, weights_identity)
from geopurify.stages.fuse.text import encode_vocab, text_identity  # noqa: E402

TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
TINY_WIDER = {**TINY, "vision_cfg": {**TINY["vision_cfg"], "width": 96}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Register the tiny configs with open_clip; save one random model as a file and a folder."""
    root = tmp_path_factory.mktemp("tiny_clip")
    (root / "geopurify-tiny-vit.json").write_text(json.dumps(TINY))
    (root / "geopurify-tiny-vit-wide.json").write_text(json.dumps(TINY_WIDER))
    open_clip.add_model_config(root / "geopurify-tiny-vit.json")
    open_clip.add_model_config(root / "geopurify-tiny-vit-wide.json")
    torch.manual_seed(0)
    model = open_clip.create_model("geopurify-tiny-vit", pretrained=None).eval()
    ckpt = root / "tiny.pt"
    torch.save(model.state_dict(), ckpt)
    folder = root / "tiny_dir"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return {"model": model, "ckpt": ckpt, "folder": folder}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any network connection attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def ocfg(checkpoint: str, **kw) -> OpenClipConfig:
    return OpenClipConfig(model="geopurify-tiny-vit", checkpoint=checkpoint, image_size=64, **kw)


def frame() -> Frame:
    return Frame(name="0", color_path=None, depth_path=None, pose=np.eye(4))


def image(h=48, w=64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def text_of(dim: int) -> TextEmbeddings:
    return TextEmbeddings("scannet20", np.array([1], np.int16), ["wall"], np.eye(1, dim, dtype=np.float32), {})


# ---- an independent implementation of the tiny ViT, from its parameters -------------------
def layer_norm(x, ln):
    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def mlp(x, block):
    h = F.gelu(x @ block.mlp.c_fc.weight.T + block.mlp.c_fc.bias)
    return h @ block.mlp.c_proj.weight.T + block.mlp.c_proj.bias


def attention(x, block):
    attn = block.attn
    width, heads = x.shape[-1], attn.num_heads
    qkv = x @ attn.in_proj_weight.T + attn.in_proj_bias
    q, k, v = (t.reshape(x.shape[0], x.shape[1], heads, width // heads).transpose(1, 2)
               for t in qkv.split(width, dim=-1))
    w = torch.softmax(q @ k.transpose(-1, -2) / (width // heads) ** 0.5, dim=-1)
    out = (w @ v).transpose(1, 2).reshape(x.shape)
    return out @ attn.out_proj.weight.T + attn.out_proj.bias


def manual_tokens(visual, x):
    """Tokens entering the last block, computed from the raw parameters."""
    patch = visual.conv1.weight.shape[-1]
    t = F.conv2d(x, visual.conv1.weight, stride=patch)
    b, width, gh, gw = t.shape
    t = t.flatten(2).transpose(1, 2)
    pos = visual.positional_embedding
    if (gh, gw) != tuple(visual.grid_size):
        g0 = visual.grid_size
        grid = pos[1:].reshape(1, g0[0], g0[1], width).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        pos = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(gh * gw, width)])
    t = torch.cat([visual.class_embedding.expand(b, 1, width), t], dim=1) + pos
    t = layer_norm(t, visual.ln_pre)
    for block in visual.transformer.resblocks[:-1]:
        t = t + attention(layer_norm(t, block.ln_1), block)
        t = t + mlp(layer_norm(t, block.ln_2), block)
    return t, (gh, gw)


def manual_dense(visual, x):
    t, (gh, gw) = manual_tokens(visual, x)
    last = visual.transformer.resblocks[-1]
    width = t.shape[-1]
    value = layer_norm(t, last.ln_1) @ last.attn.in_proj_weight[2 * width:].T + last.attn.in_proj_bias[2 * width:]
    y = t + (value @ last.attn.out_proj.weight.T + last.attn.out_proj.bias)
    y = y + mlp(layer_norm(y, last.ln_2), last)
    y = layer_norm(y[:, 1:], visual.ln_post) @ visual.proj
    return y.reshape(x.shape[0], gh, gw, -1)


def manual_ordinary(visual, x):
    """The patch tokens through the last block with ordinary (query-key) attention, ln_post and proj:
    what the dense path must not be."""
    t, (gh, gw) = manual_tokens(visual, x)
    last = visual.transformer.resblocks[-1]
    t = t + attention(layer_norm(t, last.ln_1), last)
    t = t + mlp(layer_norm(t, last.ln_2), last)
    y = layer_norm(t[:, 1:], visual.ln_post) @ visual.proj
    return y.reshape(x.shape[0], gh, gw, -1)


def test_independent_implementation_reproduces_open_clip(tiny):
    # check the reference itself: with ordinary attention in the last block, the class token
    # through ln_post and proj must equal open_clip's image embedding
    visual = tiny["model"].visual
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        t, _ = manual_tokens(visual, x)
        last = visual.transformer.resblocks[-1]
        t = t + attention(layer_norm(t, last.ln_1), last)
        t = t + mlp(layer_norm(t, last.ln_2), last)
        cls = layer_norm(t[:, 0], visual.ln_post) @ visual.proj
        torch.testing.assert_close(cls, tiny["model"].encode_image(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_dense_path_equals_the_step_by_step_value_path(tiny, size):
    visual = tiny["model"].visual
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        ours = dense_features(visual, x)
        ref = manual_dense(visual, x)
    assert ours.shape == (2, size[0] // 16, size[1] // 16, 32)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    # and it is not what ordinary attention in the last block gives the same patches of the same images
    with torch.no_grad():
        ordinary = manual_ordinary(visual, x)
    assert ordinary.shape == ours.shape
    assert not torch.allclose(ours, ordinary, atol=1e-3), "the dense path computed ordinary attention"


def test_checkpoint_file_and_folder_give_bit_identical_features(tiny):
    img = image()
    src_file = OpenClipSource(FuseConfig(openclip=ocfg(str(tiny["ckpt"]))), text_of(32))
    src_dir = OpenClipSource(FuseConfig(openclip=ocfg(f"local-dir:{tiny['folder']}")), text_of(32))
    a = src_file.frame_features(frame(), img, None)
    b = src_dir.frame_features(frame(), img, None)
    assert a.shape == (3, 4, 32) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), 1.0, rtol=1e-5)
    assert np.array_equal(a, b)
    # the in-memory model the checkpoint came from, through the same preprocessing
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(48, 64), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    mean = torch.tensor(tiny["model"].visual.preprocess_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(tiny["model"].visual.preprocess_cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = dense_features(tiny["model"].visual, (x - mean) / std)[0]
    ref = (ref / ref.norm(dim=-1, keepdim=True)).numpy()
    assert np.array_equal(a, ref)


def test_weights_identity_is_a_content_hash(tiny, tmp_path):
    copy = tmp_path / "copy.pt"
    copy.write_bytes(tiny["ckpt"].read_bytes())
    assert weights_identity(ocfg(str(copy))) == weights_identity(ocfg(str(tiny["ckpt"])))
    assert weights_identity(ocfg("random")) == {"kind": "random"}


def test_random_init_only_when_asked(tiny):
    with pytest.raises(ConfigError, match="checkpoint is empty"):
        weights_identity(ocfg(""))
    src = OpenClipSource(FuseConfig(openclip=ocfg("random")), text_of(32))
    assert src.frame_features(frame(), image(), None).shape == (3, 4, 32)


def test_bad_weights_are_one_line_errors(tiny, tmp_path):
    with pytest.raises(InputError, match="not loadable as open_clip geopurify-tiny-vit-wide") as err:
        load_model(OpenClipConfig(model="geopurify-tiny-vit-wide", checkpoint=str(tiny["ckpt"])))
    assert "\n" not in str(err.value) and str(tiny["ckpt"]) in str(err.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_model(ocfg(str(junk)))
    with pytest.raises(InputError, match="checkpoint file not found"):
        load_model(ocfg(str(tmp_path / "missing.pt")))
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    (empty / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    with pytest.raises(InputError, match="no weights file"):
        load_model(ocfg(f"local-dir:{empty}"))
    with pytest.raises(ConfigError, match="not an open_clip model"):
        load_model(OpenClipConfig(model="no-such-vit", checkpoint="random"))
    with pytest.raises(ConfigError, match="not available offline"):
        load_model(OpenClipConfig(model="geopurify-tiny-vit", checkpoint="openai"))


def test_text_embeddings_with_template_ensemble(tiny):
    one = encode_texts(ocfg(str(tiny["ckpt"]), templates=["a {} in a scene"]), ["wall", "floor"])
    two = encode_texts(ocfg(str(tiny["ckpt"]), templates=["a {} in a scene", "a photo of a {}"]), ["wall", "floor"])
    other = encode_texts(ocfg(str(tiny["ckpt"]), templates=["a photo of a {}"]), ["wall", "floor"])
    assert one.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(two, axis=1), 1.0, rtol=1e-5)
    mean = one + other
    np.testing.assert_allclose(two, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(ConfigError, match="templates"):
        encode_texts(ocfg("random", templates=["no placeholder"]), ["wall"])


def test_vocabulary_through_the_fuse_config(tiny):
    cfg = FuseConfig(source="openclip", openclip=ocfg(str(tiny["ckpt"])))
    text = encode_vocab(cfg)
    assert text.embeddings.shape == (20, 32) and text.names[0] == "wall"
    assert text_identity(cfg)["weights"]["kind"] == "file"


def test_input_size_keeps_the_aspect_on_the_patch_grid():
    assert input_size((484, 648), 320, 16) == (240, 320)
    assert input_size((480, 640), 224, 16) == (176, 224)
    assert input_size((10, 1000), 64, 16) == (16, 64)
