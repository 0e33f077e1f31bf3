"""One home each: the checkpoint-or-tag rule, the content-hash cache, point spacing and row
normalisation; every user goes through it, so they cannot disagree."""

from __future__ import annotations

import numpy as np
import pytest

from geopurify.pipeline import fingerprint
from geopurify.pipeline.errors import InputError
from geopurify.pipeline.geometry import median_spacing
from geopurify.pipeline.rows import unit_rows, unit_rows_tensor
from geopurify.stages.fuse.checkpoint import checkpoint_kind
from geopurify.stages.fuse.config import OpenClipConfig
from geopurify.stages.fuse.render import auto_splat_radius
from geopurify.stages.fuse.sources import openclip
from geopurify.workflows.config import load_run_config
from geopurify.workflows.plots import drawing_spacing
from geopurify.workflows.validate import validate

KINDS = {
    "random": "random",
    "local-dir:models/clip": "local-dir",
    "ViT-B-16.pt": "file",
    "model.ckpt": "file",
    "./mymodel": "file",
    ".hidden": "file",
    "weights/mymodel": "file",
    "/abs/mymodel": "file",
    "laion2b_s34b_b88k": "tag",
    "openai": "tag",
    "mymodel": "tag",
}


@pytest.mark.parametrize("value,kind", KINDS.items())
def test_the_checkpoint_rule(value, kind):
    assert checkpoint_kind(value) == kind
    assert openclip._weights_kind(OpenClipConfig(checkpoint=value)) == kind


def test_a_suffix_less_file_is_a_tag_unless_written_as_a_path(tmp_path, monkeypatch):
    """The rule reads the text only: a file that happens to exist does not change the answer."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodel").write_bytes(b"weights")
    assert checkpoint_kind("mymodel") == "tag"
    assert openclip._weights_kind(OpenClipConfig(checkpoint="mymodel")) == "tag"
    assert openclip._weights_kind(OpenClipConfig(checkpoint="./mymodel")) == "file"


def _loaded(tmp_path, checkpoint: str):
    conf = tmp_path / "run.toml"
    conf.write_text(f'store = "s.zarr"\n[fuse]\nsource = "openclip"\n'
                    f'[fuse.openclip]\ncheckpoint = "{checkpoint}"\n')
    return load_run_config(str(conf), [], search_cwd=False)


def test_config_reading_and_checking_follow_the_same_rule(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "clip.pt").write_bytes(b"x")
    # a file is made absolute against the config's folder and then must exist; a tag is left alone
    cfg = _loaded(tmp_path, "weights/clip.pt")
    assert cfg.fuse.openclip.checkpoint == str((tmp_path / "weights" / "clip.pt").resolve())
    validate(cfg, "fuse")
    missing = _loaded(tmp_path, "weights/other.ckpt")
    assert missing.fuse.openclip.checkpoint == str((tmp_path / "weights" / "other.ckpt").resolve())
    with pytest.raises(InputError, match="fuse.openclip.checkpoint: not found"):
        validate(missing, "fuse")
    tag = _loaded(tmp_path, "laion2b_s34b_b88k")
    assert tag.fuse.openclip.checkpoint == "laion2b_s34b_b88k"
    validate(tag, "fuse")  # a tag is looked up when the weights load, not here


def test_one_content_hash_cache(tmp_path, monkeypatch):
    weights = tmp_path / "clip.pt"
    weights.write_bytes(b"some weights")
    calls = []
    real = fingerprint.file_content_hash
    monkeypatch.setattr(fingerprint, "file_content_hash", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(fingerprint, "_CONTENT_HASHES", {})
    first = openclip.weights_identity(OpenClipConfig(checkpoint=str(weights)))
    assert fingerprint.cached_content_hash(weights) == first["sha"] == real(weights)
    assert len(calls) == 1  # the fuse source and the teacher share the one cache
    weights.write_bytes(b"other weights!")
    assert openclip.weights_identity(OpenClipConfig(checkpoint=str(weights)))["sha"] != first["sha"]


def test_point_spacing_and_drawing_spacing_are_distinct_things():
    g = np.arange(0, 1.0, 0.05)
    x, y = np.meshgrid(g, g)
    grid = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)
    assert median_spacing(grid) == pytest.approx(0.05, abs=1e-6)
    assert auto_splat_radius(grid) == pytest.approx(0.1, abs=1e-6)
    assert drawing_spacing(grid) == pytest.approx(0.05, abs=1e-9)
    one = grid[:1]
    assert median_spacing(one) == 0.0 and drawing_spacing(one) == 0.01


def test_row_normalisation_numpy_and_torch_agree():
    m = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    m[3] = 0.0
    a, t = unit_rows(m), unit_rows_tensor(m).numpy()
    assert a.dtype == np.float32 and t.dtype == np.float32
    np.testing.assert_allclose(a, t, atol=1e-6)
    assert not a[3].any() and not t[3].any()
    np.testing.assert_allclose(np.linalg.norm(np.delete(a, 3, 0), axis=1), 1.0, atol=1e-6)
