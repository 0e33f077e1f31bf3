"""Reports: lift-only against purified (student, geometric, oracle) on the same scenes, over seeds.

Writes ``report.md``, ``metrics.json`` and PNGs (confusion matrix, per-class IoU bars, top-down
renders of an evaluation scene coloured by ground truth, lift-only and purified predictions).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.store import Store

# store group -> method name in the report, in report order
METHODS = {"fused": "lift-only", "purified_geometric": "geometric pooling", "purified": "student pooling",
           "purified_oracle": "oracle pooling"}


def labelled_scenes(store: Store, scene_ids: list[str] | None) -> list[str]:
    """Scenes with ground truth in some label space (``label``, ``label_scannet200``, ...)."""
    ids = scene_ids or store.scene_ids()
    groups = {s: store.group(f"scenes/{s}/points") for s in ids}
    return [s for s, g in groups.items()
            if g is not None and any(k == "label" or k.startswith("label_") for k in g.array_keys())]


def evaluated_scenes(store: Store, scene_ids: list[str] | None) -> list[str]:
    """Labelled scenes that were purified (training scenes are fused, never purified); all
    labelled scenes when nothing was purified yet."""
    labelled = labelled_scenes(store, scene_ids)
    purified = [s for s in labelled if any(store.attrs(f"scenes/{s}/{g}").get("complete")
                                           for g in METHODS if g != "fused")]
    return purified or labelled


def available_methods(store: Store, scene_ids: list[str]) -> list[str]:
    out = []
    for group in METHODS:
        if all(store.attrs(f"scenes/{s}/{group}").get("complete") for s in scene_ids):
            out.append(group)
    return out


def collect(stores: list[str], scene_ids: list[str] | None, protocol: str) -> dict:
    """Score every method in every store (one store per simulator seed) and aggregate over stores."""
    from geopurify.stages.score import score_scenes

    first = Store(stores[0], create=False)
    scenes = evaluated_scenes(first, scene_ids)
    if not scenes:
        raise StoreError(f"{stores[0]}: no labelled scene to score")
    methods = available_methods(first, scenes)
    per_store = []
    for path in stores:
        store = Store(path, create=False)
        per_store.append({g: score_scenes(path, scenes, g, protocol) for g in methods
                          if g in available_methods(store, scenes)})
    summary = {}
    for g in methods:
        runs = [r[g] for r in per_store if g in r]
        miou = [r["miou"] for r in runs]
        names = [c["class"] for c in runs[0]["per_class"]]
        per_class = {}
        for i, name in enumerate(names):
            values = [r["per_class"][i]["iou"] for r in runs if r["per_class"][i]["iou"] is not None]
            per_class[name] = round(float(np.mean(values)), 2) if values else None
        summary[METHODS[g]] = {
            "group": g, "seeds": len(runs),
            "miou_mean": round(float(np.mean(miou)), 2), "miou_std": round(float(np.std(miou)), 2),
            "miou_min": round(float(np.min(miou)), 2), "miou_max": round(float(np.max(miou)), 2),
            "miou_per_seed": [round(m, 2) for m in miou],
            "macc_mean": round(float(np.mean([r["macc"] for r in runs])), 2),
            "oacc_mean": round(float(np.mean([r["oacc"] for r in runs])), 2),
            "per_class_iou": per_class,
            "fmiou_mean": _mean([r.get("fmiou") for r in runs]),
            "splits_mean": {k: _mean([r["splits"][k] for r in runs]) for k in runs[0].get("splits", {})},
        }
    absent = per_store[0][methods[0]]["absent_classes"] if methods else []
    return {"protocol": protocol, "scenes": scenes, "stores": stores, "methods": summary,
            "absent_classes": absent, "runs": per_store}


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 2) if values else None


def write_report(stores: list[str], out_dir: str | Path, scene_ids: list[str] | None = None,
                 protocol: str = "scannet19") -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = collect(stores, scene_ids, protocol)
    (out / "metrics.json").write_text(json.dumps(data, indent=1))
    from . import plots

    pngs = plots.write_all(data, Store(stores[0], create=False), out)
    (out / "report.md").write_text(markdown(data, pngs))
    return out / "report.md"


def markdown(data: dict, pngs: list[Path]) -> str:
    methods = data["methods"]
    lines = ["# geopurify report", "",
             f"Protocol `{data['protocol']}`; scenes: {', '.join(data['scenes'])}; "
             f"{len(data['stores'])} simulator seed(s) / store(s).", "",
             "| method | mIoU (mean) | spread over seeds | per seed | mAcc | oAcc |",
             "| --- | ---: | ---: | --- | ---: | ---: |"]
    for name, m in methods.items():
        lines.append(f"| {name} | {m['miou_mean']:.1f} | {m['miou_min']:.1f}-{m['miou_max']:.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in m['miou_per_seed'])} | {m['macc_mean']:.1f} | "
                     f"{m['oacc_mean']:.1f} |")
    if "lift-only" in methods:
        base = methods["lift-only"]["miou_mean"]
        gains = [f"{n}: {m['miou_mean'] - base:+.1f}" for n, m in methods.items() if n != "lift-only"]
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
    names = list(next(iter(methods.values()))["per_class_iou"]) if methods else []
    lines += ["", "## Per-class IoU (mean over seeds)", "",
              "| class | " + " | ".join(methods) + " |", "| --- |" + " ---: |" * len(methods)]
    for cls in names:
        cells = [methods[m]["per_class_iou"][cls] for m in methods]
        lines.append(f"| {cls} | " + " | ".join("—" if c is None else f"{c:.1f}" for c in cells) + " |")
    if data["absent_classes"]:
        lines += ["", f"Classes absent from the ground truth (no IoU, excluded from mIoU and mAcc): "
                      f"{', '.join(data['absent_classes'])}."]
    lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in pngs]
    return "\n".join(lines) + "\n"
