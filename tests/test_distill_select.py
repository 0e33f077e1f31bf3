"""Label-free training-scene selection: diverse predictions win, labels are never read."""

import numpy as np
import pytest

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import EMBEDDINGS, FUSED, LABEL, NORMAL, XYZ, text_group
from geopurify.stages.distill.select import farthest_first, geometry_summary, choose_training_scenes

from distill_fixtures import synthetic_scene, write_scene


NAMES = ["wall", "floor", "bed", "sofa", "desk", "sink"]


def _store(tmp_path, compositions: dict[str, list[int]]):
    """Scenes whose fused features are noisy text embeddings of the listed classes."""
    rng = np.random.default_rng(0)
    text = rng.normal(size=(len(NAMES), 32)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    store = Store(tmp_path / "s")
    store.write_group(text_group("scannet20"), {EMBEDDINGS: text},
                      {"vocab": "scannet20", "names": NAMES, "nyu40_ids": list(range(1, 7)),
                       "encoder": {"kind": "test"}, "fingerprint": "t"})
    for i, (scene, classes) in enumerate(compositions.items()):
        data = synthetic_scene(i, n=1200)
        cls = np.asarray(classes)[rng.integers(0, len(classes), size=len(data[XYZ]))]
        data[FUSED] = (text[cls] + 0.05 * rng.normal(size=(len(cls), 32))).astype(np.float16)
        write_scene(store, scene, data)
    return store


def test_selection_prefers_scenes_unlike_those_already_chosen(tmp_path, monkeypatch):
    _store(tmp_path, {"kitchen_a": [0, 1], "kitchen_b": [0, 1], "bedroom": [2, 3],
                      "mixed": [0, 1, 2, 3, 4, 5], "office": [4, 5]})
    real_read = Store.read

    def no_labels(self, path, name):
        assert name != LABEL, "selection must not read labels"
        return real_read(self, path, name)

    monkeypatch.setattr(Store, "read", no_labels)
    rows = choose_training_scenes(str(tmp_path / "s"), ["*"], 4)
    chosen = [s for s, _ in rows]
    assert chosen[0] == "mixed"  # the most varied predictions start the set
    assert {"bedroom", "office"} <= set(chosen)
    assert sum(s.startswith("kitchen") for s in chosen) == 1  # never both near-identical kitchens
    assert all(reason for _, reason in rows)
    assert "most varied predictions" in rows[0][1] and "farthest from the chosen" in rows[1][1]


def test_selection_is_deterministic_and_checks_k(tmp_path):
    _store(tmp_path, {"a": [0, 1], "b": [2, 3], "c": [4, 5]})
    assert choose_training_scenes(str(tmp_path / "s"), ["a", "b", "c"], 2) == choose_training_scenes(str(tmp_path / "s"), ["*"], 2)
    with pytest.raises(StoreError, match="k = 4"):
        choose_training_scenes(str(tmp_path / "s"), ["*"], 4)


def test_farthest_first_and_geometry_summary():
    desc = np.array([[0.0], [0.1], [5.0], [2.6]])
    chosen, gaps = farthest_first(desc, 3, 0)
    assert chosen == [0, 2, 3] and gaps[1] == pytest.approx(5.0) and gaps[2] == pytest.approx(2.4)
    d = synthetic_scene(0, n=3000)
    g = geometry_summary(d[XYZ], d[NORMAL])
    assert 1.6 < g["height_m"] < 2.05  # walls 2 m high (2-98th percentile of z)
    assert 6 < g["area_m2"] < 9.5  # a 3 x 3 m room
