"""The openscene source's text side: the vocabulary embedded by an open_clip text tower loaded from a
local checkpoint file (a tiny random model here), and the CLIP names the docs give for OpenSeg/LSeg."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geopurify.pipeline.vocabulary import FEAT


torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from geopurify.pipeline.errors import InputError  # noqa: E402
from geopurify.pipeline.scene import Scene  # noqa: E402
from geopurify.stages.fuse.config import FuseConfig, OpenClipConfig, OpenSceneConfig  # noqa: E402
from geopurify.stages.fuse.sources.openclip import encode_texts  # noqa: E402
from geopurify.stages.fuse.stage import fuse_scene  # noqa: E402
from geopurify.stages.fuse.text import encode_vocab  # noqa: E402

from layout_fixtures import write_fused_pt  # noqa: E402

TINY = {"embed_dim": 24,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def test_openclip_names_of_the_openscene_encoders_exist():
    assert {"ViT-L-14-336", "ViT-B-32"} <= set(open_clip.list_models())


def test_vocabulary_from_a_local_open_clip_file_labels_openscene_features(tmp_path):
    (tmp_path / "geopurify-tiny-openscene.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(tmp_path / "geopurify-tiny-openscene.json")
    torch.manual_seed(0)
    model = open_clip.create_model("geopurify-tiny-openscene", pretrained=None).eval()
    torch.save(model.state_dict(), tmp_path / "clip.pt")
    cfg = FuseConfig(source="openscene", vocab="matterport21",
                     openclip=OpenClipConfig(model="geopurify-tiny-openscene", checkpoint=str(tmp_path / "clip.pt")),
                     openscene=OpenSceneConfig(dir=str(tmp_path / FEAT)))
    text = encode_vocab(cfg)  # text_encoder auto: the open_clip text tower for this source
    assert text.encoder["kind"] == "openclip" and text.encoder["weights"]["kind"] == "file"
    np.testing.assert_allclose(text.embeddings, encode_texts(cfg.openclip, list(text.names)), atol=1e-6)
    # features "made for" this encoder: each point the text embedding of one class, plus noise
    rng = np.random.default_rng(0)
    n = 60
    truth = rng.integers(0, len(text.names), n)
    feat = text.embeddings[truth] + 0.01 * rng.standard_normal((n, 24)).astype(np.float32)
    write_fused_pt(tmp_path / FEAT / "s_0.pt", feat, np.ones(n, bool))
    xyz = rng.uniform(0, 2, (n, 3)).astype(np.float32)
    scene = Scene(scene_id="s", root=tmp_path, xyz=xyz, rgb=np.zeros((n, 3), np.uint8))
    out = fuse_scene(scene, xyz, cfg, text)
    best = np.argmax(out.arrays[FEAT].astype(np.float32) @ text.embeddings.T, axis=1)
    assert (best == truth).mean() > 0.95
    write_fused_pt(tmp_path / FEAT / "s_0.pt", np.zeros((n, 768)), np.ones(n, bool))  # OpenSeg-wide
    with pytest.raises(InputError, match="features are 768 wide .* OpenSeg features need CLIP ViT-L-14-336"):
        fuse_scene(scene, xyz, cfg, text)
