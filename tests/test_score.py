"""Scoring (stages/score.py) against hand-computed confusion matrices."""

from __future__ import annotations

import io

import numpy as np
import pytest

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    EMBEDDINGS, FEAT, FUSED, LABEL, POINTS, PURIFIED, SEEN, XYZ, purified_group, scene_group,
    text_group,
)
from geopurify.stages import labelsets
from geopurify.stages.score import confusion_matrix, metrics, score_scenes
from geopurify.workflows.tables import print_score_table

# wall x3, floor x3, chair x2, then three points that are not evaluated under scannet19:
# unannotated (0), "otherprop" (40) and otherfurniture (39, dropped by the 19-class protocol)
GT = np.array([1, 1, 1, 2, 2, 2, 5, 5, 0, 40, 39])
PRED = np.array([1, 1, 2, 2, 2, 0, 5, 1, 1, 1, 1])  # the 0 at a floor point: outside the protocol
# by hand: wall  tp 2, gt 3, predicted 3 -> IoU 2/4 = 50,   acc 2/3
#          floor tp 2, gt 3, predicted 3 -> IoU 2/4 = 50,   acc 2/3 (one prediction outside)
#          chair tp 1, gt 2, predicted 1 -> IoU 1/2 = 50,   acc 1/2
#          8 evaluated points, 5 right -> overall 62.5


def test_confusion_matrix_by_hand():
    conf = confusion_matrix(GT, PRED, "scannet19")
    ids = labelsets.protocol_ids("scannet19")
    wall, floor, chair = ids.index(1), ids.index(2), ids.index(5)
    expect = np.zeros((19, 20), np.int64)
    expect[wall, wall] = 2
    expect[wall, floor] = 1
    expect[floor, floor] = 2
    expect[floor, 19] = 1  # predicted outside the protocol
    expect[chair, chair] = 1
    expect[chair, wall] = 1
    assert np.array_equal(conf, expect)


def test_metrics_exclude_absent_classes():
    m = metrics(confusion_matrix(GT, PRED, "scannet19"), "scannet19")
    assert m["miou"] == pytest.approx(50.0)
    assert m["macc"] == pytest.approx(100 * (2 / 3 + 2 / 3 + 1 / 2) / 3, abs=1e-3)
    assert m["oacc"] == pytest.approx(62.5)
    assert m["evaluated_points"] == 8
    assert len(m["absent_classes"]) == 16 and "wall" not in m["absent_classes"]
    sofa = next(r for r in m["per_class"] if r["class"] == "sofa")
    assert sofa["present"] is False and sofa["iou"] is None


def test_ignored_labels_do_not_count_and_protocols_differ():
    # under scannet20 the otherfurniture point is evaluated (and wrong: predicted wall)
    m19 = metrics(confusion_matrix(GT, PRED, "scannet19"), "scannet19")
    m20 = metrics(confusion_matrix(GT, PRED, "scannet20"), "scannet20")
    assert m20["evaluated_points"] == 9 and m19["evaluated_points"] == 8
    of = next(r for r in m20["per_class"] if r["class"] == "otherfurniture")
    assert of["iou"] == 0.0 and of[POINTS] == 1
    # changing predictions on ignored points changes nothing
    other = PRED.copy()
    other[8:10] = 7
    assert np.array_equal(confusion_matrix(GT, other, "scannet19"), confusion_matrix(GT, PRED, "scannet19"))


def _store_with_two_scenes(tmp_path) -> str:
    ids, names = labelsets.vocabulary("scannet20")
    emb = np.eye(len(ids), 24, dtype=np.float32)  # orthonormal text rows, D = 24
    store = Store(tmp_path / "store")
    store.write_group(text_group("scannet20"), {EMBEDDINGS: emb},
                      {"names": names, "nyu40_ids": ids, "encoder": {"kind": "test"}, "fingerprint": "x"})
    rng = np.random.default_rng(0)
    for sid, sl in (("a", slice(0, 6)), ("b", slice(6, None))):
        gt, pred = GT[sl], PRED[sl]
        # fused features: scaled, noisy copies of the predicted class's row (cosine argmax = pred);
        # a prediction outside the vocabulary cannot come out of argmax, so use purified for that
        rows = np.array([ids.index(p) if p in ids else ids.index(7) for p in pred])
        feat = 3.0 * emb[rows] + 0.05 * rng.standard_normal((len(rows), 24)).astype(np.float32)
        store.write_group(scene_group(sid, POINTS), {XYZ: np.zeros((len(gt), 3), np.float32),
                                                   LABEL: gt.astype(np.int16)}, {})
        store.write_group(scene_group(sid, FUSED), {FEAT: feat.astype(np.float16),
                                                  SEEN: np.ones(len(gt), np.uint16)}, {})
        store.write_group(scene_group(sid, PURIFIED), {LABEL: pred.astype(np.int16)}, {})
    return str(tmp_path / "store")


def test_score_scenes_sums_confusions_over_scenes(tmp_path):
    path = _store_with_two_scenes(tmp_path)
    res = score_scenes(path, ["a", "b"], PURIFIED, "scannet19")
    assert {"of", "protocol", "miou", "macc", "oacc", "per_class", "scenes", "absent_classes",
            "confusion"} <= set(res)
    assert res["miou"] == pytest.approx(50.0) and res["oacc"] == pytest.approx(62.5)
    assert np.array_equal(np.array(res["confusion"]["counts"]), confusion_matrix(GT, PRED, "scannet19"))
    assert set(res["scenes"]) == {"a", "b"}
    # scene a alone: wall tp 2 / union 3; floor tp 2 / union 4 (gt 3, predicted 3; its 0 is outside)
    assert res["scenes"]["a"]["miou"] == pytest.approx(100 * (2 / 3 + 2 / 4) / 2, abs=1e-3)

    fused = score_scenes(path, ["a", "b"], FUSED, "scannet19")
    # the floor point predicted "0" becomes table (7) from the features: a table false positive
    ids = labelsets.protocol_ids("scannet19")
    counts = np.array(fused["confusion"]["counts"])
    assert counts[ids.index(2), ids.index(7)] == 1 and counts[:, 19].sum() == 0
    table = next(r for r in fused["per_class"] if r["class"] == "table")
    assert table["present"] is False  # predicted but absent from the ground truth: still excluded
    assert fused["miou"] == pytest.approx(50.0)

    out = io.StringIO()
    from rich.console import Console

    print_score_table(res, Console(file=out, width=120))
    text = out.getvalue()
    assert "50.0" in text and "excluded from mIoU" in text and "sofa" in text


def test_missing_groups_are_clear_errors(tmp_path):
    path = _store_with_two_scenes(tmp_path)
    with pytest.raises(StoreError, match="purify of scene c|ingest of scene c"):
        score_scenes(path, ["c"], PURIFIED, "scannet19")


def test_ablation_groups_score_like_purified(tmp_path):
    path = _store_with_two_scenes(tmp_path)
    store = Store(path)
    for sid, n in (("a", 6), ("b", 5)):
        store.write_group(scene_group(sid, purified_group("oracle")), {LABEL: np.ones(n, np.int16)}, {})  # all wall
    res = score_scenes(path, ["a", "b"], purified_group("oracle"), "scannet19")
    wall = next(r for r in res["per_class"] if r["class"] == "wall")
    assert wall["iou"] == pytest.approx(100 * 3 / 8) and res["oacc"] == pytest.approx(100 * 3 / 8)
