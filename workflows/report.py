"""Reports: lift-only against every purified result (one per affinity) on the same scenes, over stores.

Writes ``report.md`` (opening with what made the numbers), ``metrics.json`` (the same record under
``provenance``) and PNGs (confusion matrix, per-class IoU bars by class frequency, top-down renders
of an evaluation scene: ground truth, every result, and where each result is wrong).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FUSED, LABEL, LABEL_PREFIX, POINTS, scene_group
from geopurify.stages.score import score_scenes

from . import plots, report_tables
from .provenance import describe, method_names, result_groups, run_provenance


def labelled_scenes(store: Store, scene_ids: list[str] | None) -> list[str]:
    """Scenes with ground truth in some label space (``label``, ``label_scannet200``, ...)."""
    ids = scene_ids or store.scene_ids()
    groups = {s: store.group(scene_group(s, POINTS)) for s in ids}
    return [s for s, g in groups.items()
            if g is not None and any(k == LABEL or k.startswith(LABEL_PREFIX) for k in g.array_keys())]


def evaluated_scenes(store: Store, scene_ids: list[str] | None) -> list[str]:
    """Labelled scenes that were purified (training scenes are fused, never purified); all
    labelled scenes when nothing was purified yet."""
    labelled = labelled_scenes(store, scene_ids)
    purified = [s for s in labelled if any(g != FUSED for g in result_groups(store, s))]
    return purified or labelled


def available_groups(store: Store, scene_ids: list[str]) -> list[str]:
    """The result groups complete in every one of the scenes, in report order."""
    if not scene_ids:
        return []
    every = [set(result_groups(store, s)) for s in scene_ids]
    return [g for g in result_groups(store, scene_ids[0]) if all(g in e for e in every)]


def collect(stores: list[str], scene_ids: list[str] | None, protocol: str) -> dict:
    """Score every result in every store (one store per simulator seed), aggregate over stores, and
    record what made them."""
    first = Store(stores[0], create=False)
    scenes = evaluated_scenes(first, scene_ids)
    if not scenes:
        raise StoreError(f"{stores[0]}: no labelled scene to score")
    groups = available_groups(first, scenes)
    if not groups:
        raise StoreError(f"{stores[0]}: no result to report on {', '.join(scenes)} (no complete fused or "
                         "purified group in every scene); run fuse and purify first")
    names = method_names(first, scenes, groups)
    per_store = []
    for path in stores:
        present = available_groups(Store(path, create=False), scenes)
        per_store.append({g: score_scenes(path, scenes, g, protocol) for g in groups if g in present})
    summary = {}
    for g in groups:
        runs = [r[g] for r in per_store if g in r]
        miou = [r["miou"] for r in runs]
        class_names = [c["class"] for c in runs[0]["per_class"]]
        per_class = _per_class_mean(runs, class_names, "iou")
        summary[names[g]] = {
            "group": g, "seeds": len(runs),
            "miou_mean": round(float(np.mean(miou)), 2), "miou_std": round(float(np.std(miou)), 2),
            "miou_min": round(float(np.min(miou)), 2), "miou_max": round(float(np.max(miou)), 2),
            "miou_per_seed": [round(m, 2) for m in miou],
            "macc_mean": round(float(np.mean([r["macc"] for r in runs])), 2),
            "oacc_mean": round(float(np.mean([r["oacc"] for r in runs])), 2),
            "per_class_iou": per_class,
            "per_class_acc": _per_class_mean(runs, class_names, "acc"),
            "fmiou_mean": _mean([r.get("fmiou") for r in runs]),
            "splits_mean": {k: _mean([r["splits"][k] for r in runs]) for k in runs[0].get("splits", {})},
        }
    first_run = per_store[0][groups[0]]
    class_points = {c["class"]: c[POINTS] for c in first_run["per_class"]}
    return {"provenance": run_provenance(stores, scenes, groups, protocol),
            "protocol": protocol, "scenes": scenes, "stores": stores, "methods": summary,
            "class_points": class_points,
            "absent_classes": first_run["absent_classes"], "runs": per_store}


def by_frequency(class_points: dict[str, int]) -> list[str]:
    """Classes present in the ground truth, most points first (ties in protocol order)."""
    present = [c for c, n in class_points.items() if n > 0]
    return sorted(present, key=lambda c: -class_points[c])


def _per_class_mean(runs: list[dict], class_names: list[str], key: str) -> dict[str, float | None]:
    """Class -> the mean of ``key`` (``iou``, ``acc``) over the runs that score the class."""
    out = {}
    for i, name in enumerate(class_names):
        values = [r["per_class"][i][key] for r in runs if r["per_class"][i][key] is not None]
        out[name] = round(float(np.mean(values)), 2) if values else None
    return out


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 2) if values else None


def write_report(stores: list[str], out_dir: str | Path, scene_ids: list[str] | None = None,
                 protocol: str = "scannet19") -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = collect(stores, scene_ids, protocol)
    (out / "metrics.json").write_text(json.dumps(data, indent=1))
    report_tables.write_tables(data, out)
    pngs = plots.write_all(data, Store(stores[0], create=False), by_frequency(data["class_points"]), out)
    (out / "report.md").write_text(markdown(data, pngs))
    return out / "report.md"


def markdown(data: dict, pngs: list[Path]) -> str:
    methods = data["methods"]
    simulated = data["provenance"]["source"].get("kind") == "simulated"
    over = "seeds" if simulated else "stores"
    lines = ["# geopurify report", "", "## What made these numbers", ""]
    lines += [f"- {line}" for line in describe(data["provenance"])]
    lines += ["", "## Results", "", "As the papers print them (mean over " + over + "; per scene and per class in "
              "`per_scene.csv` and `per_class.csv`):", ""] + report_tables.paper_table(data)
    student = data["provenance"].get("student") or {}
    if student.get("steps"):
        lines += ["", f"The student behind student pooling was trained for {student['steps']} steps "
                      f"({student['epochs']} epochs over {len(student.get('training_scenes') or [])} scene(s): "
                      f"{', '.join(student.get('training_scenes') or [])})."]
    lines += ["", "In detail:", "",
              f"Protocol `{data['protocol']}`; scenes: {', '.join(data['scenes'])}; "
              + (f"{len(data['stores'])} simulator seed(s), one store each." if simulated
                 else f"{len(data['stores'])} store(s)."), "",
              f"| method | group | mIoU (mean) | spread over {over} | per {over[:-1]} | mAcc | oAcc |",
              "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for name, m in methods.items():
        lines.append(f"| {name} | `{m['group']}` | {m['miou_mean']:.1f} | {m['miou_min']:.1f}-{m['miou_max']:.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in m['miou_per_seed'])} | {m['macc_mean']:.1f} | "
                     f"{m['oacc_mean']:.1f} |")
    if "lift-only" in methods:
        base = methods["lift-only"]["miou_mean"]
        gains = [f"{n}: {m['miou_mean'] - base:+.1f}" for n, m in methods.items() if n != "lift-only"]
        if gains:
            lines += ["", "Gain over lift-only (mIoU points): " + "; ".join(gains) + "."]
    first = next(iter(data["runs"][0].values()), {}) if data["runs"] else {}
    splits = list(first.get("splits", {}))
    if first.get("fmiou_excludes") and data["protocol"] not in ("scannet19", "scannet20"):  # as before for those
        fmt = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
        lines += ["", f"f-mIoU: mIoU without {', '.join(first['fmiou_excludes'])}"
                  + (f"; {', '.join(splits)}: mIoU over the label set's splits." if splits else "."), "",
                  "| method | f-mIoU |" + "".join(f" {k} |" for k in splits),
                  "| --- | ---: |" + " ---: |" * len(splits)]
        for name, m in methods.items():
            lines.append(f"| {name} | {fmt(m['fmiou_mean'])} |"
                         + "".join(f" {fmt(m['splits_mean'][k])} |" for k in splits))
    points = data["class_points"]
    total = max(sum(points.values()), 1)
    lines += ["", f"## Per-class IoU (mean over {over}), most frequent class first", "",
              "| class | share of points | " + " | ".join(methods) + " |",
              "| --- | ---: |" + " ---: |" * len(methods)]
    for cls in by_frequency(points):
        cells = [methods[m]["per_class_iou"][cls] for m in methods]
        lines.append(f"| {cls} | {100 * points[cls] / total:.1f}% | "
                     + " | ".join("—" if c is None else f"{c:.1f}" for c in cells) + " |")
    if data["absent_classes"]:
        lines += ["", f"Classes absent from the ground truth (no IoU, excluded from mIoU and mAcc): "
                      f"{', '.join(data['absent_classes'])}."]
    lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in pngs]
    return "\n".join(lines) + "\n"
