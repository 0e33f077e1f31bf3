"""Strict checkpoint loading of the ptv3 teacher: every tensor matched, training and kernel settings
accepted and ignored, unsupported architectures and damaged files refused in one line naming the
key, tensor or file."""

from __future__ import annotations

import pytest
import torch

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.stages.teacher.ptv3 import build, load_encoder

from teacher_ptv3_fixtures import TINY_CONFIG, tiny_state_dict, write_tiny_checkpoint


def _refused(path, *words):
    with pytest.raises(InputError) as info:
        load_encoder(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def test_a_published_layout_loads_every_tensor(tmp_path):
    state = tiny_state_dict(3)
    model = load_encoder(write_tiny_checkpoint(tmp_path / "t.pth", state_dict=state))
    assert not model.training and all(p.device.type == "cpu" for p in model.parameters())
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert "embedding.mask_token" in loaded  # loaded, unused


def test_missing_renamed_and_reshaped_tensors_are_named(tmp_path):
    state = tiny_state_dict(0)
    name = "enc.enc1.block0.attn.qkv.weight"
    removed = {k: v for k, v in state.items() if k != name}
    _refused(write_tiny_checkpoint(tmp_path / "removed.pth", state_dict=removed), "1 missing tensor", name)
    renamed = {("enc.enc1.block0.attn.qkv.w" if k == name else k): v for k, v in state.items()}
    _refused(write_tiny_checkpoint(tmp_path / "renamed.pth", state_dict=renamed),
             f"missing tensor (first: {name!r})", "unexpected tensor (first: 'enc.enc1.block0.attn.qkv.w')")
    reshaped = {**state, name: torch.zeros(36, 13)}
    _refused(write_tiny_checkpoint(tmp_path / "reshaped.pth", state_dict=reshaped), name, "(36, 13)",
             "(36, 12)")
    extra = {**state, "dec.dec0.up.proj.weight": torch.zeros(2, 2)}
    _refused(write_tiny_checkpoint(tmp_path / "extra.pth", state_dict=extra), "dec.dec0.up.proj.weight")
    no_token = {k: v for k, v in state.items() if k != "embedding.mask_token"}
    _refused(write_tiny_checkpoint(tmp_path / "token.pth", state_dict=no_token), "embedding.mask_token")


@pytest.mark.parametrize("key, value, words", [
    ("enable_rpe", True, ["'enable_rpe'", "relative position"]),
    ("layer_scale", 1e-5, ["'layer_scale'"]),
    ("enc_mode", False, ["'enc_mode'", "decoder"]),
    ("in_channels", 6, ["'in_channels'", "6 input channels"]),
    ("pre_norm", False, ["'pre_norm'"]),
    ("order", ["z", "peano"], ["'order'"]),
    ("enc_num_head", [3, 2, 4], ["'enc_num_head'", "8 channels"]),
    ("stride", [2], ["'stride'"]),
    ("cls_mode", True, ["'cls_mode'"]),
])
def test_unsupported_settings_are_refused_naming_the_key(tmp_path, key, value, words):
    path = write_tiny_checkpoint(tmp_path / "t.pth", config={**TINY_CONFIG, key: value})
    _refused(path, *words)
    with pytest.raises(ConfigError, match=key):
        build({**TINY_CONFIG, key: value})


def test_training_and_kernel_settings_change_nothing(tmp_path):
    state = tiny_state_dict(1)
    plain = {**TINY_CONFIG, "drop_path": 0.0, "shuffle_orders": False, "enable_flash": False,
             "traceable": False, "freeze_encoder": False}
    other = {**TINY_CONFIG, "drop_path": 0.5, "attn_drop": 0.1, "proj_drop": 0.1, "shuffle_orders": True,
             "enable_flash": True, "upcast_attention": True, "upcast_softmax": True, "freeze_encoder": True,
             "dec_depths": [1, 1], "dec_channels": [8, 8], "dec_num_head": [2, 2], "dec_patch_size": [8, 8]}
    a = load_encoder(write_tiny_checkpoint(tmp_path / "a.pth", config=plain, state_dict=state))
    b = load_encoder(write_tiny_checkpoint(tmp_path / "b.pth", config=other, state_dict=state))
    assert a.settings == b.settings


def test_files_that_are_no_checkpoint_are_refused(tmp_path):
    _refused(tmp_path / "absent.pth", "not found")
    (tmp_path / "text.pth").write_text("not a torch file")
    _refused(tmp_path / "text.pth", "not a readable checkpoint")
    torch.save({"state_dict": tiny_state_dict(0)}, tmp_path / "bare.pth")
    _refused(tmp_path / "bare.pth", "'config' and 'state_dict'")
    torch.save({"config": TINY_CONFIG, "state_dict": {}, "optimizer": object()}, tmp_path / "pickle.pth")
    _refused(tmp_path / "pickle.pth", "not a readable checkpoint")  # weights_only refuses objects
    half = {k: v.half() for k, v in tiny_state_dict(0).items()}
    model = load_encoder(write_tiny_checkpoint(tmp_path / "half.pth", state_dict=half))
    assert all(p.dtype == torch.float32 for p in model.parameters())
