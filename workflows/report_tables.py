"""The report's numbers in the forms a researcher pastes: ``per_scene.csv``, ``per_class.csv`` and a
results table in the papers' layout (one row per method, mIoU and mAcc of the protocol, ScanNet200's
head / common / tail where the label set scores them).

Every figure comes from the ``collect`` record that ``metrics.json`` holds, so the three agree
(``tests/test_report_tables.py``).
"""

from __future__ import annotations

import csv
from pathlib import Path

PER_SCENE_FIELDS = ("method", "group", "store", "scene", "evaluated_points", "miou")
PER_CLASS_FIELDS = ("method", "group", "class", "id", "gt_points", "iou", "acc")
PROTOCOL_TITLES = {"scannet19": "ScanNet (19 classes)", "scannet20": "ScanNet (20 classes)",
                   "scannet200": "ScanNet200"}


def _cell(value) -> str:
    return "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def per_scene_rows(data: dict) -> list[dict]:
    """One row per method, store (simulator seed) and scene: the scene's own mIoU."""
    rows = []
    for name, m in data["methods"].items():
        for store, run in zip(data["stores"], data["runs"]):
            if m["group"] not in run:
                continue
            for scene, s in run[m["group"]]["scenes"].items():
                rows.append({"method": name, "group": m["group"], "store": store, "scene": scene,
                             "evaluated_points": s["points"], "miou": s["miou"]})
    return rows


def per_class_rows(data: dict) -> list[dict]:
    """One row per method and class of the protocol: IoU and accuracy (means over the stores), the
    class's ground-truth points; empty IoU/accuracy for a class absent from the ground truth."""
    rows = []
    for name, m in data["methods"].items():
        first = next(r[m["group"]] for r in data["runs"] if m["group"] in r)
        for c in first["per_class"]:
            rows.append({"method": name, "group": m["group"], "class": c["class"], "id": c["id"],
                         "gt_points": data["class_points"][c["class"]],
                         "iou": m["per_class_iou"][c["class"]], "acc": m["per_class_acc"][c["class"]]})
    return rows


def write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row[k]) for k in fields})
    return path


def write_tables(data: dict, out: Path) -> list[Path]:
    return [write_csv(out / "per_scene.csv", PER_SCENE_FIELDS, per_scene_rows(data)),
            write_csv(out / "per_class.csv", PER_CLASS_FIELDS, per_class_rows(data))]


def paper_table(data: dict) -> list[str]:
    """Markdown lines: the results as the papers print them (mean over the stores)."""
    protocol = data["protocol"]
    title = PROTOCOL_TITLES.get(protocol, protocol)
    methods = data["methods"]
    splits = [k for k in next(iter(methods.values()), {}).get("splits_mean", {})
              if any(m["splits_mean"].get(k) is not None for m in methods.values())]
    head = f"| Method | {title} mIoU | {title} mAcc |" + "".join(f" {k} |" for k in splits)
    rule = "| --- | ---: | ---: |" + " ---: |" * len(splits)
    lines = [head, rule]
    for name, m in methods.items():
        cells = [f"{m['miou_mean']:.1f}", f"{m['macc_mean']:.1f}"]
        cells += ["—" if m["splits_mean"].get(k) is None else f"{m['splits_mean'][k]:.1f}" for k in splits]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
