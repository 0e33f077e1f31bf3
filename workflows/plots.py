"""The report's figures, with matplotlib (headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.store import Store


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(run: dict, out: Path, title: str) -> Path:
    plt = _pyplot()
    counts = np.asarray(run["confusion"]["counts"], dtype=np.float64)
    names = [c["class"] for c in run["per_class"]] + ["(other)"]
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names) - 1), names[:-1], fontsize=7)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the row")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def iou_bars_png(methods: dict, out: Path) -> Path:
    plt = _pyplot()
    names = list(next(iter(methods.values()))["per_class_iou"])
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for i, (method, m) in enumerate(methods.items()):
        values = [m["per_class_iou"][n] if m["per_class_iou"][n] is not None else 0.0 for n in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=f"{method} ({m['miou_mean']:.1f})")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("IoU %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("Per-class IoU (mean over seeds); legend: mIoU")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def topdown_png(store: Store, scene_id: str, groups: dict[str, str], out: Path,
                protocol: str = "scannet20") -> Path:
    """Side-by-side top-down views (points sorted by height, highest drawn last), one per labelling."""
    from geopurify.stages.labelsets import class_colours, label_set
    from geopurify.stages.score import ground_truth, predictions

    plt = _pyplot()
    xyz = store.read(f"scenes/{scene_id}/points", "xyz")
    order = np.argsort(xyz[:, 2])
    space = label_set(protocol).space
    panels = {"ground truth": ground_truth(store, scene_id, protocol)}
    panels.update({title: predictions(store, scene_id, g) for title, g in groups.items()})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5))
    for ax, (title, labels) in zip(np.atleast_1d(axes), panels.items()):
        colours = class_colours(labels, space)[order] / 255.0
        ax.scatter(xyz[order, 0], xyz[order, 1], c=colours, s=float(np.clip(2e4 / len(xyz), 0.3, 8)), linewidths=0)
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"{scene_id}, seen from above")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_all(data: dict, store: Store, out: Path) -> list[Path]:
    from .report import METHODS

    methods = data["methods"]
    first = data["runs"][0]
    pngs = []
    best = next((g for g in ("purified", "purified_geometric", "fused") if g in first), None)
    if best is not None:
        pngs.append(confusion_png(first[best], out / "confusion.png",
                                  f"{METHODS[best]}, first seed, row-normalised"))
    if methods:
        pngs.append(iou_bars_png(methods, out / "per_class_iou.png"))
    groups = {METHODS[g]: g for g in ("fused", "purified") if g in first}
    if data["scenes"]:
        pngs.append(topdown_png(store, data["scenes"][0], groups, out / "topdown.png", data["protocol"]))
    return pngs
