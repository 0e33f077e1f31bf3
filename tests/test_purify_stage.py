"""The purify stage on a small fixture store: outputs, affinities, determinism, fingerprints."""

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError

from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, FEAT, FUSED, LABEL, SCORE, SKIPPED, purified_group, scene_group,
)
from geopurify.workflows.config import RunConfig
from geopurify.stages.purify.stage import PurifyStage

from purify_fixture import write_fixture_store


def run(path, **purify):
    cfg = RunConfig(store=str(path))
    for key, value in purify.items():
        setattr(cfg.purify, key, value)
    outcome = run_scene(PurifyStage(cfg.purify.affinity), StageContext(str(path), cfg), "scene_a")
    assert outcome.status in (DONE, SKIPPED), outcome.error + outcome.detail
    return outcome, Store(path)


def accuracy(store, label, group):
    pred = store.read(scene_group("scene_a", group), LABEL)
    return float((pred == label).mean())


def lift_only_accuracy(store, label):
    from geopurify.stages.fuse.text import read_text

    text, _ = read_text(store, "scannet20")
    feat = store.read(scene_group("scene_a", FUSED), FEAT).astype(np.float32)
    return float((text.nyu40_ids[(feat @ text.embeddings.T).argmax(1)] == label).mean())


@pytest.mark.parametrize("affinity", ["geometric", "oracle"])
def test_purify_writes_labels_scores_and_repairs_errors(tmp_path, affinity):
    store, label = write_fixture_store(tmp_path / "s.zarr")
    _, store = run(tmp_path / "s.zarr", affinity=affinity, k=24)
    g = scene_group("scene_a", purified_group(affinity))
    pred, score = store.read(g, LABEL), store.read(g, SCORE)
    assert pred.dtype == np.int16 and pred.shape == label.shape
    assert score.dtype == np.float16 and np.all(np.abs(score.astype(float)) <= 1.0)
    assert FEAT not in store.group(g)
    attrs = store.attrs(g)
    assert attrs["affinity"] == affinity and attrs["path"] == "fast" and attrs["complete"]
    lift = lift_only_accuracy(store, label)
    assert accuracy(store, label, purified_group(affinity)) > lift + 0.03
    if affinity == "oracle":
        assert accuracy(store, label, purified_group(affinity)) > 0.97


def test_keep_features_gives_the_same_labels_and_unit_features(tmp_path):
    write_fixture_store(tmp_path / "a.zarr")
    write_fixture_store(tmp_path / "b.zarr")
    _, fast = run(tmp_path / "a.zarr", affinity="geometric", k=24)
    _, full = run(tmp_path / "b.zarr", affinity="geometric", k=24, keep_features=True)
    g = scene_group("scene_a", purified_group("geometric"))
    np.testing.assert_array_equal(fast.read(g, LABEL), full.read(g, LABEL))
    feat = full.read(g, FEAT).astype(np.float32)
    assert feat.shape == (len(full.read(g, LABEL)), 64)
    np.testing.assert_allclose(np.linalg.norm(feat, axis=1), 1.0, atol=2e-3)
    # the fast score is the exact one where features lie in the text span (+ a few directions)
    assert (np.abs(fast.read(g, SCORE).astype(float)) >= np.abs(full.read(g, SCORE).astype(float)) - 2e-3).all()


def test_two_runs_give_bit_identical_arrays(tmp_path):
    for name in ("a.zarr", "b.zarr"):
        write_fixture_store(tmp_path / name)
        run(tmp_path / name, affinity="geometric", k=24, keep_features=True)
    a, b = Store(tmp_path / "a.zarr"), Store(tmp_path / "b.zarr")
    g = scene_group("scene_a", purified_group("geometric"))
    for name in (LABEL, SCORE, FEAT):
        assert a.read(g, name).tobytes() == b.read(g, name).tobytes()
    assert a.attrs(g)["fingerprint"] == b.attrs(g)["fingerprint"]


def test_config_keys_change_the_fingerprint_and_rerun(tmp_path):
    write_fixture_store(tmp_path / "s.zarr")
    first, store = run(tmp_path / "s.zarr", affinity="geometric", k=24)
    again, _ = run(tmp_path / "s.zarr", affinity="geometric", k=24)
    assert first.status == DONE and again.status == SKIPPED
    fp = store.attrs(scene_group("scene_a", purified_group("geometric")))["fingerprint"]
    for change in ({"k": 16}, {"steps": 5}, {"temperature": 0.1}):
        outcome, store = run(tmp_path / "s.zarr", affinity="geometric", **{"k": 24, **change})
        assert outcome.status == DONE
        assert store.attrs(scene_group("scene_a", purified_group("geometric")))["fingerprint"] != fp


def test_oracle_without_labels_fails_cleanly(tmp_path):
    write_fixture_store(tmp_path / "s.zarr", with_label=False)
    cfg = RunConfig(store=str(tmp_path / "s.zarr"))
    cfg.purify.affinity = "oracle"
    outcome = run_scene(PurifyStage(cfg.purify.affinity), StageContext(str(tmp_path / "s.zarr"), cfg), "scene_a")
    assert outcome.status == FAILED and "labels" in outcome.error and not outcome.detail
    assert Store(tmp_path / "s.zarr").group(scene_group("scene_a", purified_group("oracle"))) is None


def test_unknown_affinity_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="purify.affinity"):
        PurifyStage("magic")
    write_fixture_store(tmp_path / "s.zarr")
    cfg = RunConfig(store=str(tmp_path / "s.zarr"))
    cfg.purify.affinity = "magic"
    outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / "s.zarr"), cfg), "scene_a")
    assert outcome.status == FAILED and "purify.affinity" in outcome.error
