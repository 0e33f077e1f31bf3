"""per_scene.csv and per_class.csv agree with metrics.json, and report.md prints the papers' table:
on a small store (quick), and on the demo's own report (slow: runs the demo)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geopurify.workflows.report import write_report

from view_fixture import write_view_store


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def number(cell: str):
    return None if cell == "" else float(cell)


def check_tables_agree(report_dir: Path) -> dict:
    metrics = json.loads((report_dir / "metrics.json").read_text())
    per_scene, per_class = rows(report_dir / "per_scene.csv"), rows(report_dir / "per_class.csv")
    expected_scene = {(name, store, scene): s["miou"]
                      for name, m in metrics["methods"].items()
                      for store, run in zip(metrics["stores"], metrics["runs"]) if m["group"] in run
                      for scene, s in run[m["group"]]["scenes"].items()}
    got_scene = {(r["method"], r["store"], r["scene"]): number(r["miou"]) for r in per_scene}
    assert got_scene.keys() == expected_scene.keys()
    for key, value in expected_scene.items():
        assert got_scene[key] == pytest.approx(value, abs=0.005), key
    assert len(per_class) == sum(len(m["per_class_iou"]) for m in metrics["methods"].values())
    for r in per_class:
        m = metrics["methods"][r["method"]]
        assert r["group"] == m["group"]
        iou = m["per_class_iou"][r["class"]]
        assert (number(r["iou"]) is None) == (iou is None) and (iou is None or number(r["iou"]) == pytest.approx(iou, abs=0.005))
        assert int(r["gt_points"]) == metrics["class_points"][r["class"]]
    # one scene and one store: the scene's mIoU is the method's mIoU
    if len(metrics["scenes"]) == 1 and len(metrics["stores"]) == 1:
        for name, m in metrics["methods"].items():
            assert got_scene[(name, metrics["stores"][0], metrics["scenes"][0])] == pytest.approx(m["miou_mean"], abs=0.01)
    # the mean of the present classes' IoU is the mIoU
    for name, m in metrics["methods"].items():
        present = [number(r["iou"]) for r in per_class if r["method"] == name and number(r["iou"]) is not None]
        if len(metrics["stores"]) == 1:
            assert sum(present) / len(present) == pytest.approx(m["miou_mean"], abs=0.02)
    report = (report_dir / "report.md").read_text()
    for name, m in metrics["methods"].items():
        assert any(line.startswith(f"| {name} | {m['miou_mean']:.1f} | {m['macc_mean']:.1f} |")
                   for line in report.splitlines()), f"{name} has no row in the papers' table"
    return metrics


def test_csv_tables_agree_with_metrics_json(tmp_path):
    store = write_view_store(tmp_path / "s.zarr")
    write_report([str(store)], tmp_path / "report", None, "scannet20")
    metrics = check_tables_agree(tmp_path / "report")
    assert set(metrics["methods"]) == {"lift-only", "geometric pooling"}
    head = (tmp_path / "report" / "report.md").read_text()
    assert "| Method | ScanNet (20 classes) mIoU | ScanNet (20 classes) mAcc |" in head


@pytest.mark.slow
def test_the_demos_tables_agree_and_it_prints_the_view_command(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "geopurify.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "300"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"geopurify-run view --store {out.resolve() / 'store.zarr'}" in done.stdout
    metrics = check_tables_agree(out / "report")
    assert {"lift-only", "student pooling", "geometric pooling"} <= set(metrics["methods"])
