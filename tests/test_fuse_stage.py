"""The fuse stage on a tiny hand-made scene: frames on disk, precomputed feature maps, the store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geopurify.pipeline.errors import InputError, StoreError
from geopurify.pipeline.readers.base import DatasetConfig
from geopurify.pipeline.scene import Frame, Scene
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, FEAT, FUSED, POINTS, RGB, SEEN, SKIPPED, XYZ, scene_group,
)
from geopurify.stages.fuse import stage as stage_mod
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.fuse.projection import to_camera, visible_points
from geopurify.stages.fuse.stage import FuseStage, fuse_scene
from geopurify.stages.fuse.text import encode_vocab, read_text
from geopurify.workflows.config import RunConfig

D = 8
H, W = 30, 40
K = np.array([[30.0, 0, 19.5], [0, 30.0, 14.5], [0, 0, 1]])
SHIFTS = [-0.3, 0.0, 0.3]


def make_scene(root: Path, depth: bool = True, write: bool = True) -> Scene:
    """A wall of points at z = 3 m seen by three cameras shifted along x; an occluder (depth only)
    hides part of it; two points behind the cameras are never seen. ``write``: (re)write the
    image files (a reader only reads them)."""
    root.mkdir(parents=True, exist_ok=True)
    xs, ys = np.meshgrid(np.linspace(-1.6, 1.6, 17), np.linspace(-1.2, 1.2, 13))
    wall = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 3.0)], 1)
    behind = np.array([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0]])
    xyz = np.vstack([wall, behind]).astype(np.float32)
    frames = []
    for i, dx in enumerate(SHIFTS):
        pose = np.eye(4)
        pose[0, 3] = dx
        depth_path = root / f"{i}.png" if depth else None
        if write:
            Image.fromarray(np.full((H, W, 3), 40 * i, np.uint8)).save(root / f"{i}.jpg")
            if depth:
                d = np.full((H, W), 3000, np.uint16)
                d[10:16, 15:22] = 1500  # an occluder 1.5 m away
                Image.fromarray(d).save(depth_path)
        frames.append(Frame(name=str(i), color_path=root / f"{i}.jpg", depth_path=depth_path, pose=pose))
    return Scene(scene_id="tiny", root=root, xyz=xyz, rgb=np.zeros_like(xyz, dtype=np.uint8),
                 frames=frames, color_intrinsic=K, depth_intrinsic=K, depth_scale=1000.0)


def frame_vectors() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((len(SHIFTS), D)).astype(np.float32)


def write_maps(folder: Path, scene_id: str = "tiny") -> None:
    """Constant (3, 4, D) maps: sampling returns the frame's vector anywhere."""
    (folder / scene_id).mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(frame_vectors()):
        np.save(folder / scene_id / f"{i}.npy", np.broadcast_to(v, (3, 4, D)).copy())


def fuse_cfg(maps: Path, **kw) -> FuseConfig:
    return FuseConfig(source="precomputed", precomputed_dir=str(maps), text_encoder="hashed", hashed_dim=D,
                      border=2, **kw)


def expected_mean(scene: Scene, cfg: FuseConfig):
    vecs = frame_vectors()
    total = np.zeros((scene.num_points, D))
    count = np.zeros(scene.num_points, int)
    for f, v in zip(scene.frames, vecs):
        depth = np.asarray(Image.open(f.depth_path), np.float32) / 1000.0
        idx = visible_points(to_camera(scene.xyz, f.pose), K, depth, cfg.border, cfg.depth_tolerance)
        total[idx] += v
        count[idx] += 1
    return total, count


def test_mean_fusion_of_a_tiny_scene(tmp_path):
    scene = make_scene(tmp_path / "scan")
    write_maps(tmp_path / "maps")
    cfg = fuse_cfg(tmp_path / "maps", mode="mean")
    out = fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))
    total, count = expected_mean(scene, cfg)
    assert set(count.tolist()) >= {0, 1, 2, 3}  # the cameras see different parts
    seen = count > 0
    feat = out.arrays[FEAT]
    assert feat.dtype == np.float16 and feat.shape == (scene.num_points, D)
    np.testing.assert_allclose(feat[seen], total[seen] / count[seen, None], atol=2e-3)
    assert out.arrays[SEEN].dtype == np.uint16
    assert out.arrays[SEEN].tolist() == count.tolist()
    # the occluded wall points and the points behind the cameras are unseen and filled
    assert count[-2:].tolist() == [0, 0]
    assert np.abs(feat[-2:]).sum() > 0
    a = out.attrs
    assert a["frames_used"] == 3 and a["unreadable_frames"] == 0 and a["filled_unseen"] == int((~seen).sum())
    assert a["seen_share"] == pytest.approx(seen.mean(), abs=1e-6)


def test_consensus_of_constant_views_picks_the_best_frames(tmp_path):
    scene = make_scene(tmp_path / "scan")
    write_maps(tmp_path / "maps")
    cfg = fuse_cfg(tmp_path / "maps", mode="consensus", topk=1)
    text = encode_vocab(cfg)
    out = fuse_scene(scene, scene.xyz, cfg, text)
    _, count = expected_mean(scene, cfg)
    vecs = frame_vectors()
    # a point seen by one frame gets exactly that frame's vector (weight 1)
    feat = out.arrays[FEAT].astype(np.float32)
    single = np.flatnonzero(count == 1)
    assert single.size
    matches = [np.abs(feat[i] - vecs).max(axis=1).min() for i in single]
    assert max(matches) < 2e-3
    # with top-1, every seen point carries one frame's vector exactly
    seen = np.flatnonzero(count > 0)
    assert max(np.abs(feat[i] - vecs).max(axis=1).min() for i in seen) < 2e-3


def test_frames_without_depth_use_the_frustum(tmp_path):
    scene = make_scene(tmp_path / "scan", depth=False)
    write_maps(tmp_path / "maps")
    cfg = fuse_cfg(tmp_path / "maps", mode="mean")
    out = fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))
    assert out.attrs["frames_without_depth"] == 3
    with_depth = make_scene(tmp_path / "scan2")
    _, count = expected_mean(with_depth, cfg)
    # occlusion is ignored: at least as many views per point, strictly more behind the occluder
    assert (out.arrays[SEEN] >= count).all() and (out.arrays[SEEN] > count).any()
    assert out.arrays[SEEN][-2:].tolist() == [0, 0]  # behind the camera is never seen


def test_unreadable_frames_are_skipped_and_counted(tmp_path):
    scene = make_scene(tmp_path / "scan")
    write_maps(tmp_path / "maps")
    scene.frames[1].color_path.write_bytes(b"broken")
    cfg = fuse_cfg(tmp_path / "maps", mode="mean", frame_stride=1, max_unreadable_frames=0.5)
    out = fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))
    assert out.attrs["unreadable_frames"] == 1 and out.attrs["frames_used"] == 2
    assert "frame 1" in out.attrs["warnings"][0]


def test_stride_and_scenes_without_usable_frames(tmp_path):
    scene = make_scene(tmp_path / "scan")
    write_maps(tmp_path / "maps")
    cfg = fuse_cfg(tmp_path / "maps", mode="mean", frame_stride=2)
    assert fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg)).attrs["frames_used"] == 2
    for f in scene.frames:
        f.color_path.write_bytes(b"broken")
    with pytest.raises(InputError, match="fuse.max_unreadable_frames"):
        fuse_scene(scene, scene.xyz, fuse_cfg(tmp_path / "maps"), encode_vocab(cfg))
    with pytest.raises(InputError, match="none of the 3 frames"):
        fuse_scene(scene, scene.xyz, fuse_cfg(tmp_path / "maps", max_unreadable_frames=1.0), encode_vocab(cfg))
    scene.frames = []
    with pytest.raises(InputError, match="no usable frame"):
        fuse_scene(scene, scene.xyz, fuse_cfg(tmp_path / "maps"), encode_vocab(cfg))


def test_wrong_feature_width_is_an_input_error(tmp_path):
    scene = make_scene(tmp_path / "scan")
    (tmp_path / "maps" / "tiny").mkdir(parents=True)
    for i in range(3):
        np.save(tmp_path / "maps" / "tiny" / f"{i}.npy", np.zeros((3, 4, D + 1), np.float32))
    cfg = fuse_cfg(tmp_path / "maps")
    with pytest.raises(InputError, match=r"expected an \(h, w, 8\) float array"):
        fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))


@pytest.fixture
def stage_setup(tmp_path, monkeypatch):
    """A store holding the tiny scene's points; the dataset reader replaced by the hand-made scene."""
    scene = make_scene(tmp_path / "data" / "tiny")
    write_maps(tmp_path / "maps")
    monkeypatch.setattr(stage_mod, "read_scene", lambda cfg, sid, check_images=True: make_scene(tmp_path / "data" / sid, write=False))
    monkeypatch.setattr(stage_mod, "source_files", lambda cfg, sid: sorted((tmp_path / "data" / sid).iterdir()))
    store = Store(tmp_path / "store")
    store.write_group(scene_group("tiny", POINTS),
                      {XYZ: scene.xyz, RGB: scene.rgb},
                      {"fingerprint": "points-v1",  # fuse re-reads frames from the recorded dataset
                       "config": {"dataset": {"kind": "scannet", "root": str(tmp_path / "data")}}})
    cfg = RunConfig(store=str(tmp_path / "store"), dataset=DatasetConfig(root=str(tmp_path / "data")),
                    fuse=fuse_cfg(tmp_path / "maps", mode="consensus"))
    return cfg, scene


def test_stage_writes_fused_and_text_groups_and_skips_when_done(stage_setup):
    cfg, scene = stage_setup
    stage = FuseStage()
    ctx = StageContext(cfg.store, cfg)
    with pytest.raises(StoreError, match="text embeddings"):
        stage.input_fingerprints(ctx, "tiny")  # prepare has not run
    stage.prepare(ctx, ["tiny"])
    outcome = run_scene(stage, ctx, "tiny")
    assert outcome.status == DONE, outcome.error
    store = Store(cfg.store)
    assert store.read(scene_group("tiny", FUSED), FEAT).shape == (scene.num_points, D)
    attrs = store.attrs(scene_group("tiny", FUSED))
    assert attrs["complete"] and attrs["frames_used"] == 3 and attrs["inputs"][POINTS] == "points-v1"
    text, _ = read_text(store, "scannet20")
    assert text.embeddings.shape == (20, D) and text.encoder["kind"] == "hashed"
    assert run_scene(stage, ctx, "tiny").status == SKIPPED
    # a changed knob, a touched frame, a changed feature file: each makes the group stale
    for change in ("config", "frame", "maps"):
        if change == "config":
            cfg = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, border=3))
            ctx = StageContext(cfg.store, cfg)
        elif change == "frame":
            Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(scene.frames[0].color_path)
        else:
            np.save(Path(cfg.fuse.precomputed_dir) / "tiny" / "0.npy", np.ones((3, 4, D), np.float32))
        assert run_scene(stage, ctx, "tiny").status == DONE, change
        assert run_scene(stage, ctx, "tiny").status == SKIPPED, change


def test_stage_refuses_stale_text_embeddings(stage_setup):
    cfg, _ = stage_setup
    stage = FuseStage()
    stage.prepare(StageContext(cfg.store, cfg), ["tiny"])
    other = dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, hashed_dim=D + 8))
    outcome = run_scene(stage, StageContext(other.store, other), "tiny")
    assert outcome.status == FAILED and "another text encoder" in outcome.error


def test_stage_without_points_is_a_store_error(stage_setup, tmp_path):
    cfg, _ = stage_setup
    stage = FuseStage()
    ctx = StageContext(cfg.store, cfg)
    stage.prepare(ctx, ["other"])
    outcome = run_scene(stage, ctx, "other")
    assert outcome.status == FAILED and POINTS in outcome.error and "\n" not in outcome.error


class VirtualViewSource:
    """A source that makes its own frames in begin_scene and supplies their images in memory."""

    dim = D

    def __init__(self):
        self.batches: list[int] = []

    def identity(self) -> dict:
        return {"source": "virtual-test"}

    def begin_scene(self, scene: Scene, text) -> None:
        template = make_scene(Path("/nonexistent"), write=False)
        scene.frames, scene.color_intrinsic, scene.depth_intrinsic = template.frames, K, K

    def frame_images(self, frame: Frame):
        depth = np.full((H, W), 3.0, np.float32)
        return np.zeros((H, W, 3), np.uint8), depth

    def batch_features(self, frames, colors, depths):
        self.batches.append(len(frames))
        return [np.broadcast_to(v, (3, 4, D)).copy() for v in frame_vectors()[[int(f.name) for f in frames]]]


def test_a_source_can_supply_its_own_frames_and_encode_batches(tmp_path, monkeypatch):
    scene = make_scene(tmp_path / "scan", write=False)
    scene.frames = []  # a scan without frames: the source makes virtual ones
    source = VirtualViewSource()
    monkeypatch.setattr(stage_mod, "make_source", lambda cfg, text: source)
    cfg = fuse_cfg(tmp_path / "maps", mode="mean", batch_frames=2)
    out = fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))
    assert out.attrs["frames_used"] == 3 and out.attrs["unreadable_frames"] == 0
    assert source.batches == [2, 1]
    assert out.arrays[SEEN].max() == 3
