"""Label sets beyond ScanNet-20: ScanNet200 (mIoU, f-mIoU, head/common/tail) on a hand-built
confusion, Matterport's lists, and scoring stores whose labels live in those spaces."""

from __future__ import annotations

import io

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    EMBEDDINGS, FEAT, FUSED, LABEL, POINTS, PURIFIED, XYZ, scene_group, text_group,
)
from geopurify.stages import labelsets
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.fuse.text import encode_vocab
from geopurify.stages.score import confusion_matrix, metrics, score_scenes
from geopurify.workflows.tables import print_score_table

# ScanNet category ids (ScanNet200): wall 1, chair 2, floor 3, cushion 39 (common), ceiling 41,
# paper 79 (tail); 12 is a ScanNet category outside the 200, 0 is unannotated
WALL, CHAIR, FLOOR, CUSHION, CEILING, PAPER = 1, 2, 3, 39, 41, 79
ROWS = [  # (ground truth, prediction, points)
    (WALL, WALL, 3), (WALL, FLOOR, 1),
    (FLOOR, FLOOR, 4),
    (CEILING, WALL, 2),
    (CHAIR, CHAIR, 2), (CHAIR, CUSHION, 2), (CHAIR, 12, 1),  # 12: a prediction outside the protocol
    (CUSHION, CUSHION, 1), (CUSHION, CHAIR, 1),
    (PAPER, PAPER, 3),
    (0, PAPER, 2), (12, WALL, 1),  # not evaluated
]
GT = np.concatenate([np.full(n, g) for g, _, n in ROWS])
PRED = np.concatenate([np.full(n, p) for _, p, n in ROWS])
# by hand (IoU = tp / (gt + predicted on evaluated points - tp)):
#   wall    tp 3, gt 4, predicted 5 (3 + 2 ceiling)  -> 3/6  = 50
#   floor   tp 4, gt 4, predicted 5 (4 + 1 wall)     -> 4/5  = 80
#   ceiling tp 0, gt 2, predicted 0                  -> 0
#   chair   tp 2, gt 5, predicted 3 (2 + 1 cushion)  -> 2/6  = 33.33
#   cushion tp 1, gt 2, predicted 3 (1 + 2 chair)    -> 1/4  = 25
#   paper   tp 3, gt 3, predicted 3                  -> 100
IOU = {"wall": 50.0, "floor": 80.0, "ceiling": 0.0, "chair": 100 / 3, "cushion": 25.0, "paper": 100.0}
MIOU = sum(IOU.values()) / 6                               # 48.06
FMIOU = (IOU["chair"] + IOU["cushion"] + IOU["paper"]) / 3  # 52.78, without wall / floor / ceiling
HEAD = (IOU["wall"] + IOU["floor"] + IOU["ceiling"] + IOU["chair"]) / 4


def test_scannet200_hand_built_confusion():
    m = metrics(confusion_matrix(GT, PRED, "scannet200"), "scannet200")
    got = {r["class"]: r["iou"] for r in m["per_class"] if r["present"]}
    assert got == pytest.approx(IOU, abs=1e-4)
    assert m["miou"] == pytest.approx(MIOU, abs=1e-4)
    assert m["fmiou"] == pytest.approx(FMIOU, abs=1e-4)
    assert m["fmiou_excludes"] == ["wall", "floor", "ceiling"]
    assert m["splits"] == pytest.approx({"head": HEAD, "common": 25.0, "tail": 100.0}, abs=1e-4)
    assert m["evaluated_points"] == 20 and m["oacc"] == pytest.approx(65.0)
    assert len(m["absent_classes"]) == 194
    chair = next(r for r in m["per_class"] if r["class"] == "chair")
    assert chair["id"] == chair["scannet200_id"] == CHAIR and chair[POINTS] == 5 and chair["predicted"] == 3


def test_scannet200_constants():
    s = labelsets.label_set("scannet200")
    assert len(s.ids) == len(set(s.ids)) == len(s.names) == len(set(s.names)) == 200
    assert s.ids[:4] == (1, 2, 3, 4) and s.ids[-1] == 1191 and s.names[:4] == ("wall", "chair", "floor", "table")
    assert {k: len(v) for k, v in s.splits.items()} == {"head": 66, "common": 68, "tail": 66}
    assert sorted(sum(s.splits.values(), ())) == sorted(s.ids)
    assert s.structure_ids() == (WALL, FLOOR, CEILING)


def test_matterport_label_sets():
    m21, m40, m160 = (labelsets.label_set(n) for n in ("matterport21", "matterport40", "matterport160"))
    assert m21.space == "nyu40" and len(m21.ids) == 21 and dict(zip(m21.names, m21.ids))["ceiling"] == 22
    assert m40.names == m160.names[:40] and m40.ids == tuple(range(1, 41)) and len(m160.ids) == 160
    assert m40.ground_truth == ("label_matterport40", "label_matterport80", "label_matterport160")
    assert labelsets.label_set("matterport80").names[40] == "photo"
    # wall, door, ceiling, floor = ids 1..4: f-mIoU leaves out 1, 3, 4
    assert m40.structure_ids() == (1, 3, 4)
    gt = np.array([1, 3, 4, 41, 150, 0])
    pred = np.array([1, 3, 4, 41, 41, 2])
    m = metrics(confusion_matrix(gt, pred, "matterport40"), "matterport40")
    assert m["evaluated_points"] == 3 and m["miou"] == 100.0 and m["fmiou"] is None  # only structure
    # all 160: 1, 3, 4 right (100 each), 41 tp 1 of 2 predicted (50), 150 missed (0) -> 350 / 5
    assert metrics(confusion_matrix(gt, pred, "matterport160"), "matterport160")["miou"] == pytest.approx(70.0)


def test_every_label_set_is_a_vocabulary_in_its_own_ids():
    text = encode_vocab(FuseConfig(vocab="scannet200", text_encoder="hashed", hashed_dim=16))
    assert text.embeddings.shape == (200, 16) and text.nyu40_ids[:3].tolist() == [1, 2, 3]
    assert text.names[-1] == "mattress"
    assert labelsets.vocabulary("matterport21")[1][19:] == ["other", "ceiling"]
    assert "scannet19" not in labelsets.VOCABULARIES  # a protocol of the scannet20 vocabulary
    labelsets.check_compatible("scannet20", "scannet19")
    labelsets.check_compatible("matterport21", "scannet20")  # both NYU40 ids
    with pytest.raises(ConfigError, match="fuse.vocab = 'scannet200'"):
        labelsets.check_compatible("scannet20", "scannet200")
    with pytest.raises(ConfigError, match="label set 'scannet100'"):
        labelsets.label_set("scannet100")


def _store(tmp_path, vocab: str, gt_array: str) -> str:
    ids, names = labelsets.vocabulary(vocab)
    emb = np.eye(len(ids), len(ids), dtype=np.float32)
    store = Store(tmp_path / "store")
    store.write_group(text_group(vocab), {EMBEDDINGS: emb},
                      {"names": names, "nyu40_ids": ids, "encoder": {"kind": "test"}, "fingerprint": "x"})
    keep = np.isin(PRED, ids)  # argmax over the vocabulary cannot give an id outside it
    rows = np.array([ids.index(p) for p in PRED[keep]])
    store.write_group(scene_group("a", POINTS), {XYZ: np.zeros((keep.sum(), 3), np.float32),
                                          gt_array: GT[keep].astype(np.int16)}, {})
    store.write_group(scene_group("a", FUSED), {FEAT: (2 * emb[rows]).astype(np.float16)},
                      {"config": {"fuse": {"vocab": vocab}}})
    store.write_group(scene_group("a", PURIFIED), {LABEL: PRED.astype(np.int16)[keep]}, {"vocab": vocab})
    return str(tmp_path / "store")


def test_score_a_scannet200_store(tmp_path):
    path = _store(tmp_path, "scannet200", "label_scannet200")
    purified = score_scenes(path, ["a"], PURIFIED, "scannet200")
    fused = score_scenes(path, ["a"], FUSED, "scannet200")  # vocabulary: the one the scene was fused with
    assert purified["per_class"] == fused["per_class"]
    assert purified["fmiou"] is not None and purified["confusion"]["scannet200_ids"][:3] == [1, 2, 3]
    with pytest.raises(ConfigError, match="vocabulary 'scannet200' labels points with scannet200 ids"):
        score_scenes(path, ["a"], PURIFIED, "scannet20")
    console = _console()
    print_score_table(purified, console)
    text = console.file.getvalue()
    assert "f-mIoU (without wall, floor, ceiling)" in text and "mIoU tail" in text


def test_the_simulated_source_refuses_a_vocabulary_not_in_nyu40_ids():
    from geopurify.stages.fuse.sources.simulated import SimulatedSource

    cfg = FuseConfig(source="simulated", vocab="scannet200", hashed_dim=16)
    with pytest.raises(ConfigError, match="the simulated source renders NYU40 ground truth"):
        SimulatedSource(cfg, encode_vocab(cfg))
    ok = FuseConfig(source="simulated", vocab="matterport21")
    SimulatedSource(ok, encode_vocab(ok))


def test_missing_ground_truth_names_what_the_protocol_needs(tmp_path):
    path = _store(tmp_path, "matterport160", "label_matterport40")
    with pytest.raises(StoreError, match="needs label_matterport80 or label_matterport160; it has label_matterport40"):
        score_scenes(path, ["a"], PURIFIED, "matterport80")


def _console():
    from rich.console import Console

    return Console(file=io.StringIO(), width=160)
