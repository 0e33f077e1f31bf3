"""Pointcept and OpenScene inputs: one synthetic scene written in each layout reads, fuses, purifies
and scores like the ScanNet original; OpenScene's fused features of our own fused group give back
exactly those fused features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.readers import DatasetConfig, list_scenes, read_scene
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.vocabulary import (
    DONE, FEAT, FUSED, LABEL, NORMAL, POINTS, RGB, SEEN, SKIPPED, XYZ, scene_group,
)
from geopurify.stages.fuse.stage import FuseStage
from geopurify.stages.ingest.stage import IngestStage
from geopurify.stages.purify.stage import PurifyStage
from geopurify.stages.score import score_scenes
from geopurify.workflows.config import load_run_config

from layout_fixtures import nyu40_to_index, write_fused_pt, write_openscene_pth, write_pointcept


pytestmark = pytest.mark.slow  # a synthetic scan through ingest, fuse and purify in several layouts

SCENE = "lay0000_00"


def purify_stage() -> PurifyStage:
    """The purify stage of the configured affinity (geometric); its group name is ``PURIFIED``."""
    return PurifyStage("geometric")


PURIFIED = purify_stage().name


def config(store: Path, kind: str, root: Path, *extra: str):
    return load_run_config(None, [f"store={str(store)!r}", f"dataset.kind={kind!r}", f"dataset.root={str(root)!r}",
                                  "fuse.source='simulated'", "fuse.text_encoder='hashed'",
                                  "fuse.simulated.virtual_views=8",
                                  "purify.affinity='geometric'", "purify.k=24", *extra], search_cwd=False)


def run_stages(cfg, *stages) -> Store:
    ctx = StageContext(cfg.store, cfg)
    for stage in stages:
        if hasattr(stage, "prepare"):
            stage.prepare(ctx, [SCENE])
        outcome = run_scene(stage, ctx, SCENE)
        assert outcome.status == DONE, outcome.error
    return Store(cfg.store, create=False)


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """The scene in the ScanNet layout, ingested, fused (simulated, its frames) and purified."""
    tmp = tmp_path_factory.mktemp("layouts")
    generate_scene(tmp / "scannet", SCENE, seed=5, num_frames=5)
    cfg = config(tmp / "native.zarr", "scannet", tmp / "scannet")
    store = run_stages(cfg, IngestStage(), FuseStage(), purify_stage())
    return tmp, cfg, store


def _points(store: Store, name: str) -> np.ndarray:
    return store.read(scene_group(SCENE, POINTS), name)


def to_pointcept(tmp: Path, store: Store) -> Path:
    root = tmp / "pointcept"
    write_pointcept(root / "val" / SCENE, _points(store, XYZ), _points(store, RGB), _points(store, LABEL),
                    normals=_points(store, NORMAL))
    return root


def to_openscene(tmp: Path, store: Store) -> tuple[Path, Path]:
    """The 3D file, and our fused group as two overlapping OpenScene chunks ``_0``, ``_1``."""
    root, feats = tmp / "openscene3d", tmp / "openscene_fused"
    label = nyu40_to_index(_points(store, LABEL), 255)
    write_openscene_pth(root / f"{SCENE}_vh_clean_2.pth", _points(store, XYZ), _points(store, RGB), label)
    feat = store.read(scene_group(SCENE, FUSED), FEAT)
    seen = store.read(scene_group(SCENE, FUSED), SEEN) > 0
    halves = np.zeros((2, len(seen)), bool)
    idx = np.flatnonzero(seen)
    halves[0, idx[: 2 * len(idx) // 3]] = True
    halves[1, idx[len(idx) // 3:]] = True  # the middle third is in both
    for k, mask in enumerate(halves):
        write_fused_pt(feats / f"{SCENE}_{k}.pt", feat[mask], mask, numpy_mask=k == 1)
    return root, feats


def test_pointcept_and_openscene_read_the_scannet_points_and_labels(native):
    tmp, cfg, store = native
    scannet = read_scene(cfg.dataset, SCENE)
    pc_root = to_pointcept(tmp, store)
    os_root, _ = to_openscene(tmp, store)
    for kind, root in (("pointcept", pc_root), ("pointcept", pc_root / "val"), ("openscene", os_root)):
        ds = DatasetConfig(kind, str(root))
        assert list_scenes(ds) == [SCENE]
        scene = read_scene(ds, SCENE)
        np.testing.assert_array_equal(scene.xyz, scannet.xyz)
        np.testing.assert_array_equal(scene.rgb, scannet.rgb)
        np.testing.assert_array_equal(scene.labels, scannet.labels)
        assert scene.xyz.dtype == np.float32 and scene.labels.dtype == np.int16 and not scene.frames
    assert read_scene(DatasetConfig("pointcept", str(pc_root)), SCENE).normals.shape == scannet.xyz.shape


def test_through_pointcept_the_whole_pipeline_gives_the_native_results(native):
    """Pointcept keeps the scan's normals (normal.npy), OpenScene features carry the fused features:
    points, fused features and purified labels are the native ones, so are the scores."""
    tmp, cfg, store = native
    pc_root = to_pointcept(tmp, store)
    _, feats = to_openscene(tmp, store)
    pc_cfg = config(tmp / "pc.zarr", "pointcept", pc_root, "fuse.source='openscene'",
                    f"fuse.openscene.dir={str(feats)!r}")
    pc = run_stages(pc_cfg, IngestStage(), FuseStage(), purify_stage())
    for name in (XYZ, RGB, NORMAL, LABEL):
        np.testing.assert_array_equal(_points(pc, name), _points(store, name))
    np.testing.assert_array_equal(pc.read(scene_group(SCENE, FUSED), FEAT), store.read(scene_group(SCENE, FUSED), FEAT))
    np.testing.assert_array_equal(pc.read(scene_group(SCENE, FUSED), SEEN) > 0,
                                  store.read(scene_group(SCENE, FUSED), SEEN) > 0)
    np.testing.assert_array_equal(pc.read(scene_group(SCENE, PURIFIED), LABEL),
                                  store.read(scene_group(SCENE, PURIFIED), LABEL))
    for of in (FUSED, PURIFIED):
        native_score = score_scenes(cfg.store, [SCENE], of, "scannet20")
        assert score_scenes(pc_cfg.store, [SCENE], of, "scannet20")["per_class"] == native_score["per_class"]
    attrs = pc.attrs(scene_group(SCENE, FUSED))
    assert attrs["frames_used"] == 0 and attrs["source_identity"]["source"] == "openscene"


def test_openscene_layout_fuses_to_the_same_features_and_scores(native):
    tmp, cfg, store = native
    os_root, feats = to_openscene(tmp, store)
    os_cfg = config(tmp / "os.zarr", "openscene", os_root, "fuse.source='openscene'",
                    f"fuse.openscene.dir={str(feats)!r}")
    ours = run_stages(os_cfg, IngestStage(), FuseStage(), purify_stage())
    np.testing.assert_array_equal(ours.read(scene_group(SCENE, FUSED), FEAT),
                                  store.read(scene_group(SCENE, FUSED), FEAT))
    assert ours.attrs(scene_group(SCENE, POINTS))["normals_from"] == "pca"  # no normals in the .pth
    fused = score_scenes(os_cfg.store, [SCENE], FUSED, "scannet20")
    assert fused["per_class"] == score_scenes(cfg.store, [SCENE], FUSED, "scannet20")["per_class"]
    assert score_scenes(os_cfg.store, [SCENE], PURIFIED, "scannet20")["miou"] is not None


def test_a_scan_without_frames_fuses_through_virtual_views(native):
    tmp, _, store = native
    pc_cfg = config(tmp / "pc_sim.zarr", "pointcept", to_pointcept(tmp, store))
    pc = run_stages(pc_cfg, IngestStage(), FuseStage(), purify_stage())
    assert pc.attrs(scene_group(SCENE, FUSED))["frames_used"] == 8
    assert score_scenes(pc_cfg.store, [SCENE], PURIFIED, "scannet20")["miou"] > 0


def test_a_changed_feature_file_makes_fuse_stale(native):
    tmp, _, store = native
    os_root, feats = to_openscene(tmp, store)
    os_cfg = config(tmp / "stale.zarr", "openscene", os_root, "fuse.source='openscene'",
                    f"fuse.openscene.dir={str(feats)!r}")
    run_stages(os_cfg, IngestStage(), FuseStage())
    ctx = StageContext(os_cfg.store, os_cfg)
    assert run_scene(FuseStage(), ctx, SCENE).status == SKIPPED
    seen = store.read(scene_group(SCENE, FUSED), SEEN) > 0
    write_fused_pt(feats / f"{SCENE}_0.pt", store.read(scene_group(SCENE, FUSED), FEAT)[seen], seen)
    assert run_scene(FuseStage(), ctx, SCENE).status == DONE


# NYU40 classes of the synthetic scenes -> ScanNet200 class names
TO_200 = {1: "wall", 2: "floor", 3: "cabinet", 4: "bed", 5: "chair", 6: "couch", 7: "table", 8: "door",
          9: "window", 11: "picture"}


def test_scannet200_through_pointcept_and_openscene_features(native, tmp_path):
    """segment200 ground truth, OpenScene-style features made for the 200-class vocabulary: fuse,
    purify, score (f-mIoU, splits), report, query and the benchmark export all in ScanNet200 ids."""
    from geopurify.stages.fuse.text import hashed_embeddings
    from geopurify.stages.labelsets import label_set
    from geopurify.stages.purify.query import query_scene
    from geopurify.workflows.export import export_benchmark
    from geopurify.workflows.report import write_report

    _, _, store = native
    names = list(label_set("scannet200").names)
    nyu = _points(store, LABEL)
    index = np.array([names.index(TO_200[int(v)]) if int(v) in TO_200 else -1 for v in nyu])
    write_pointcept(tmp_path / "pc" / SCENE, _points(store, XYZ), _points(store, RGB), nyu, index)
    rng = np.random.default_rng(0)
    emb = hashed_embeddings(names, 512)
    feat = emb[np.maximum(index, 0)] + 0.05 * rng.standard_normal((len(index), 512)).astype(np.float32)
    mask = rng.random(len(index)) < 0.9
    write_fused_pt(tmp_path / FEAT / f"{SCENE}_0.pt", feat[mask], mask)
    cfg = config(tmp_path / "s200.zarr", "pointcept", tmp_path / "pc", "fuse.source='openscene'",
                 f"fuse.openscene.dir={str(tmp_path / FEAT)!r}", "fuse.vocab='scannet200'")
    s200 = run_stages(cfg, IngestStage(), FuseStage(), purify_stage())
    assert "label_scannet200" in s200.group(scene_group(SCENE, POINTS))
    result = score_scenes(cfg.store, [SCENE], PURIFIED, "scannet200")
    assert result["miou"] > 60 and result["fmiou"] is not None and set(result["splits"]) == {"head", "common", "tail"}
    present = {r["class"] for r in result["per_class"] if r["present"]}
    assert present == {TO_200[int(v)] for v in np.unique(nyu) if int(v) in TO_200}
    with pytest.raises(ConfigError, match="fuse.vocab = 'scannet20'"):
        score_scenes(cfg.store, [SCENE], PURIFIED, "scannet20")
    report = write_report([cfg.store], tmp_path / "report", None, "scannet200")
    assert "| method | f-mIoU | head | common | tail |" in report.read_text()
    summary = query_scene(cfg.store, SCENE, ["couch"], tmp_path / "q.ply", of=FUSED, threshold=0.5)
    assert summary["prompts"][0]["share_above"] > 0
    (path,) = export_benchmark(cfg.store, [SCENE], PURIFIED, tmp_path / "bench")
    exported = np.loadtxt(path, dtype=np.int64)
    assert set(np.unique(exported)) <= set(label_set("scannet200").ids)
