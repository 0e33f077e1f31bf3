import json

import numpy as np
import pytest
import zarr

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import FORMAT_VERSION, Store
from geopurify.pipeline.vocabulary import (
    DONE, FEAT, FUSED, POINTS, STATE_DONE, STATE_INCOMPLETE, STATE_STALE, XYZ, scene_group,
)


def test_write_then_read_roundtrip_and_attrs(tmp_path):
    store = Store(tmp_path / "s.zarr")
    xyz = np.random.default_rng(0).normal(size=(70000, 3)).astype(np.float32)
    store.write_group(scene_group("a", POINTS), {XYZ: xyz}, {"fingerprint": "f1", "stage": POINTS})
    assert np.array_equal(store.read(scene_group("a", POINTS), XYZ), xyz)
    arr = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")[f"{scene_group('a', POINTS)}/{XYZ}"]
    assert arr.chunks == (65536, 3)  # chunked along points, feature axis whole
    assert store.state(scene_group("a", POINTS), "f1") == DONE
    assert store.state(scene_group("a", POINTS), "f2") == STATE_STALE
    assert store.state(scene_group("b", POINTS), "f1") == "missing"
    assert store.scene_ids() == ["a"]


def test_a_failed_rewrite_leaves_the_previous_group_whole(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.zarr")
    store.write_group(scene_group("a", FUSED), {FEAT: np.ones((5, 2), np.float16)}, {"fingerprint": "old"})

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(zarr.Group, "create_array", boom)
    with pytest.raises(RuntimeError):
        store.write_group(scene_group("a", FUSED), {FEAT: np.zeros((5, 2), np.float16)}, {"fingerprint": "new"})
    assert store.state(scene_group("a", FUSED), "old") == STATE_DONE  # the new group was staged, never swapped in
    assert np.array_equal(store.read(scene_group("a", FUSED), FEAT), np.ones((5, 2), np.float16))
    assert not list((tmp_path / "s.zarr" / "logs" / "staging").iterdir())  # nothing left behind


def test_incompatible_store_version_is_refused(tmp_path):
    Store(tmp_path / "s.zarr")
    meta = tmp_path / "s.zarr" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["geopurify_store_format"] = FORMAT_VERSION + 1
    meta.write_text(json.dumps(doc))
    with pytest.raises(StoreError, match="incompatible"):
        Store(tmp_path / "s.zarr")


def test_truncated_group_metadata_counts_as_incomplete(tmp_path):
    store = Store(tmp_path / "s.zarr")
    store.write_group(scene_group("a", POINTS), {XYZ: np.zeros((3, 3), np.float32)}, {"fingerprint": "f"})
    meta = tmp_path / "s.zarr" / "scenes" / "a" / POINTS / "zarr.json"
    meta.write_text(meta.read_text()[:20])  # a crash in the middle of writing the metadata
    store = Store(tmp_path / "s.zarr")
    assert store.state(scene_group("a", POINTS), "f") == STATE_INCOMPLETE
    store.write_group(scene_group("a", POINTS), {XYZ: np.ones((3, 3), np.float32)}, {"fingerprint": "f"})
    assert store.state(scene_group("a", POINTS), "f") == DONE
