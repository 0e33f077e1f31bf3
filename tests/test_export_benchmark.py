"""``export --format scannet-benchmark``: the files, scored the way the benchmark's own script
counts (per vertex, written out here), give the score stage's per-class IoU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.readers.label_ids import SCANNET200_IDS
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    EMBEDDINGS, LABEL, POINTS, PURIFIED, XYZ, label_array, purified_group, scene_group, text_group,
)
from geopurify.stages import labelsets
from geopurify.stages.score import score_scenes
from geopurify.workflows.export import export_benchmark

SCANNET20 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]
SIZES = {"scene0000_00": 300, "scene0001_00": 211}


def make_store(tmp_path: Path, vocab: str) -> tuple[str, dict, dict]:
    """Two scenes: ground truth with unannotated and non-benchmark ids, noisy purified labels."""
    ids, names = labelsets.vocabulary(vocab)
    rng = np.random.default_rng(1)
    store = Store(tmp_path / f"{vocab}.zarr")
    gt_name = LABEL if vocab == "scannet20" else label_array(vocab)
    store.write_group(text_group(vocab), {EMBEDDINGS: np.eye(len(ids), 8, dtype=np.float32)},
                      {"names": names, "nyu40_ids": ids, "encoder": {"kind": "test"}, "fingerprint": "x"})
    gts, preds = {}, {}
    for scene, n in SIZES.items():
        common = ids[: min(len(ids), 12)]  # a few classes with many points each
        gt = rng.choice(common + [0, 13 if vocab == "scannet20" else 12], n)  # 13/12: outside the benchmark
        pred = np.where(rng.random(n) < 0.6, gt, rng.choice(common, n))
        pred = np.where(np.isin(pred, ids), pred, common[0])
        gts[scene], preds[scene] = gt, pred
        store.write_group(scene_group(scene, POINTS), {XYZ: np.zeros((n, 3), np.float32),
                                                    gt_name: gt.astype(np.int16)}, {})
        store.write_group(scene_group(scene, PURIFIED), {LABEL: pred.astype(np.int16)}, {"vocab": vocab})
    return str(store.path), gts, preds


def benchmark_iou(pred_files: dict[str, Path], gts: dict, valid: list[int]) -> dict[int, float]:
    """The benchmark's count: over vertices whose ground truth is a valid class; per class c,
    tp = gt c and predicted c, fn = gt c and predicted anything else, fp = gt another valid class
    and predicted c. IoU = tp / (tp + fp + fn), classes without ground truth left out."""
    tp, fp, fn = ({c: 0 for c in valid} for _ in range(3))
    for scene, path in pred_files.items():
        lines = path.read_text().splitlines()
        assert len(lines) == len(gts[scene])
        for gt, pred in zip(gts[scene], (int(x) for x in lines)):
            if gt not in tp:
                continue
            if pred == gt:
                tp[gt] += 1
            else:
                fn[gt] += 1
                if pred in fp:
                    fp[pred] += 1
    return {c: tp[c] / (tp[c] + fp[c] + fn[c]) for c in valid if tp[c] + fn[c] > 0}


@pytest.mark.parametrize("vocab, valid", [("scannet20", SCANNET20), ("scannet200", list(SCANNET200_IDS))])
def test_exported_files_scored_per_vertex_give_the_score_stage_iou(tmp_path, vocab, valid):
    store, gts, _ = make_store(tmp_path, vocab)
    written = export_benchmark(store, list(SIZES), PURIFIED, tmp_path / "out")
    assert sorted(p.name for p in written) == ["scene0000_00.txt", "scene0001_00.txt"]
    assert sorted(os.listdir(tmp_path / "out")) == ["scene0000_00.txt", "scene0001_00.txt"]  # no temporaries
    counted = benchmark_iou({p.stem: p for p in written}, gts, valid)
    result = score_scenes(store, list(SIZES), PURIFIED, vocab)
    stage = {r["id"]: r["iou"] for r in result["per_class"] if r["present"]}
    assert set(stage) == set(counted) and len(counted) >= 10
    for c, iou in counted.items():
        assert stage[c] == pytest.approx(100 * iou, abs=1e-4), c


def test_export_refuses_other_label_spaces_and_writes_nothing(tmp_path):
    store, _, _ = make_store(tmp_path, "matterport40")
    with pytest.raises(ConfigError, match="the ScanNet benchmark takes NYU40 ids"):
        export_benchmark(store, list(SIZES), PURIFIED, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="no scene to export"):
        export_benchmark(store, list(SIZES), purified_group("geometric"), tmp_path / "out", only_done=True)


@pytest.mark.slow
def test_cli_export_scannet_benchmark(tmp_path):
    store, _, preds = make_store(tmp_path, "scannet20")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "geopurify.cli", "export", "--store", store, *args],
                              capture_output=True, text=True, env=env)

    proc = run("--format", "scannet-benchmark", "--out", str(tmp_path / "bench"))
    assert proc.returncode == 0, proc.stderr
    got = np.loadtxt(tmp_path / "bench" / "scene0001_00.txt", dtype=np.int64)
    np.testing.assert_array_equal(got, preds["scene0001_00"])
    proc = run("--format", "scannet-benchmark")
    assert proc.returncode == 2 and "--out DIR is required" in proc.stderr
