"""Open-vocabulary queries: the PLY they write, agreement with the labels, encoder checks."""

import dataclasses

import numpy as np
import pytest
from plyfile import PlyData

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, FUSED, LABEL, POINTS, XYZ, purified_group, scene_group
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.labelsets import vocabulary
from geopurify.stages.purify.query import query_scene, regions
from geopurify.workflows.tables import print_query_summary
from geopurify.stages.purify.stage import PurifyStage
from geopurify.workflows.config import RunConfig

from purify_fixture import write_fixture_store


OF = purified_group("geometric")  # the fixture purifies with the geometric affinity


@pytest.fixture(scope="module")
def purified_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "s.zarr"
    write_fixture_store(path)
    cfg = RunConfig(store=str(path))
    cfg.purify.affinity, cfg.purify.k, cfg.purify.keep_features = "geometric", 24, True
    outcome = run_scene(PurifyStage(cfg.purify.affinity), StageContext(str(path), cfg), "scene_a")
    assert outcome.status == DONE, outcome.error + outcome.detail
    return path


def test_query_writes_a_ply_with_one_score_per_prompt(purified_store, tmp_path):
    out = tmp_path / "scores.ply"
    summary = query_scene(purified_store, "scene_a", ["table", "a red box"], out, of=OF, threshold=0.5)
    n = len(Store(purified_store).read(scene_group("scene_a", POINTS), XYZ))
    vertex = PlyData.read(str(out))["vertex"]
    assert vertex.count == n
    names = [p.name for p in vertex.properties]
    assert names == ["x", "y", "z", "red", "green", "blue", "score_0", "score_1"]
    s0 = np.asarray(vertex["score_0"])
    assert np.all(np.abs(s0) <= 1.0 + 1e-6)
    table = summary["prompts"][0]
    assert table["share_above"] == pytest.approx(float((s0 >= 0.5).mean()), abs=1e-4)
    # the largest region above the threshold for "table" is mostly table
    assert table["regions"] and table["regions"][0]["label"] == "table"
    print_query_summary(summary)


def test_class_name_prompts_agree_with_purified_labels(purified_store, tmp_path):
    ids, names = vocabulary("scannet20")
    query_scene(purified_store, "scene_a", names, tmp_path / "all.ply", of=OF)
    vertex = PlyData.read(str(tmp_path / "all.ply"))["vertex"]
    scores = np.stack([np.asarray(vertex[f"score_{i}"]) for i in range(len(names))], 1)
    label = Store(purified_store).read(scene_group("scene_a", purified_group("geometric")), LABEL)
    picked = np.asarray(ids)[scores.argmax(1)]
    # the features are stored as float16: only near-ties (margin below float16 rounding) may differ
    top2 = np.sort(scores, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2e-3
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(picked[clear], label[clear])


def test_query_of_fused_and_missing_features(purified_store, tmp_path):
    summary = query_scene(purified_store, "scene_a", ["floor"], tmp_path / "f.ply", of=FUSED)
    assert summary["of"] == FUSED
    other = tmp_path / "nofeat.zarr"
    write_fixture_store(other)
    cfg = RunConfig(store=str(other))
    cfg.purify.affinity, cfg.purify.k = "geometric", 24
    run_scene(PurifyStage(cfg.purify.affinity), StageContext(str(other), cfg), "scene_a")
    with pytest.raises(StoreError, match="keep-features"):
        query_scene(other, "scene_a", ["floor"], tmp_path / "x.ply", of=OF)
    assert not (tmp_path / "x.ply").exists()


def test_a_mismatched_text_encoder_is_refused(purified_store, tmp_path):
    wrong = FuseConfig(source="simulated", hashed_dim=32)
    with pytest.raises(StoreError, match="text encoder mismatch"):
        query_scene(purified_store, "scene_a", ["floor"], tmp_path / "x.ply", of=OF, fuse_cfg=wrong)
    right = dataclasses.replace(wrong, hashed_dim=64)
    query_scene(purified_store, "scene_a", ["floor"], tmp_path / "y.ply", of=OF, fuse_cfg=right)


def test_regions_are_connected_components_largest_first():
    xyz = np.concatenate([np.random.default_rng(0).random((50, 3)) * 0.1,
                          np.random.default_rng(1).random((20, 3)) * 0.1 + 2.0,
                          [[5.0, 5.0, 5.0]]])
    mask = np.ones(len(xyz), bool)
    mask[-1] = False
    r = regions(xyz, mask)
    assert set(r[:50]) == {0} and set(r[50:70]) == {1} and r[70] == -1
