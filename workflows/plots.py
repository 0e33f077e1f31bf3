"""The report's figures, with matplotlib (headless): confusion matrix, per-class IoU bars, top-down
renders. Classes are ordered by how many ground-truth points they have, most first."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT, POINTS, XYZ, scene_group
from geopurify.stages.labelsets import UNLABELLED_COLOUR, class_colours, label_set, to_protocol_index
from geopurify.stages.score import ground_truth, predictions

WRONG, RIGHT, NOT_EVALUATED = (214, 39, 40), (190, 190, 190), (238, 238, 238)
DPI = 130


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(run: dict, order: list[str], out: Path, title: str) -> Path:
    """Row-normalised confusion: rows = present classes by frequency, columns = the same, then the
    classes absent from the ground truth, then predictions outside the protocol."""
    plt = _pyplot()
    counts = np.asarray(run["confusion"]["counts"], dtype=np.float64)
    names = [c["class"] for c in run["per_class"]]
    rows = [names.index(c) for c in order]
    cols = rows + [i for i in range(len(names)) if i not in rows] + [len(names)]
    share = counts[rows][:, cols] / np.maximum(counts[rows].sum(axis=1, keepdims=True), 1)
    labels = [(names + ["(outside protocol)"])[i] for i in cols]
    fig, ax = plt.subplots(figsize=(9, 2.5 + 0.3 * len(rows)))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), order, fontsize=7)
    ax.axvline(len(rows) - 0.5, color="0.5", lw=0.8)
    ax.set_xlabel("prediction (right of the line: classes absent from the ground truth)")
    ax.set_ylabel("ground truth (most points first)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the row")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def iou_bars_png(methods: dict, order: list[str], class_points: dict[str, int], out: Path) -> Path:
    """IoU per class and method, classes by ground-truth frequency (share of points in the label)."""
    plt = _pyplot()
    total = max(sum(class_points.values()), 1)
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(7.0, 0.75 * len(order) + 4), 4.8))
    for i, (method, m) in enumerate(methods.items()):
        values = [m["per_class_iou"][n] if m["per_class_iou"][n] is not None else 0.0 for n in order]
        ax.bar(np.arange(len(order)) + i * width, values, width, label=f"{method} ({m['miou_mean']:.1f})")
    ticks = [f"{n} ({100 * class_points[n] / total:.0f}%)" for n in order]
    ax.set_xticks(np.arange(len(order)) + 0.4 - width / 2, ticks, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("IoU %")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, title="method (mIoU)", title_fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Per-class IoU, most frequent class first (share of ground-truth points); "
                 "classes absent from the ground truth left out", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def drawing_spacing(xyz: np.ndarray, sample: int = 20000) -> float:
    """The scan's sampling distance for drawing (m): the median nearest-neighbour distance over a
    fixed sample of points, never 0 (1 cm then). Not ``geometry.median_spacing``, which fuse uses:
    that one is exact over every point (float32), this one cheap and only sizes plot discs."""
    from scipy.spatial import cKDTree

    if len(xyz) < 2:
        return 0.01
    pick = np.random.default_rng(0).choice(len(xyz), min(sample, len(xyz)), replace=False)
    dist, _ = cKDTree(xyz).query(xyz[pick], k=2)
    return float(np.median(dist[:, 1])) or 0.01


def disc_sizes(xyz: np.ndarray, neighbours: int = 3) -> np.ndarray:
    """(N,) disc diameter (m) per point from the local density: 1.5 x the mean distance to its
    nearest ``neighbours`` (a disc that wide covers a square lattice cell at any angle), kept within
    0.5-4 x the scan's median spacing so a stray point does not cover the room. Sparse surfaces
    (large mesh triangles on floors) then read as filled as dense ones."""
    from scipy.spatial import cKDTree

    median = drawing_spacing(xyz)
    if len(xyz) <= neighbours:
        return np.full(len(xyz), 1.5 * median)
    dist, _ = cKDTree(xyz).query(xyz, k=neighbours + 1)
    return 1.5 * np.clip(dist[:, 1:].mean(axis=1), 0.5 * median, 4 * median)


def _legend(ax, gt: np.ndarray, preds: list[np.ndarray], protocol: str) -> None:
    from matplotlib.patches import Patch

    labels = label_set("scannet20" if protocol == "scannet19" else protocol)  # predictions may be any class
    name_of = dict(zip(labels.ids, labels.names))
    ids, counts = np.unique(gt, return_counts=True)
    in_gt = [int(i) for i in ids[np.argsort(-counts, kind="stable")] if int(i) in name_of]
    predicted = sorted({int(i) for p in preds for i in np.unique(p)} & set(name_of) - set(in_gt))
    rgb = lambda c: np.asarray(c) / 255.0  # noqa: E731
    colour = lambda i: rgb(class_colours(np.array([i]), labels.space)[0])  # noqa: E731
    handles = [Patch(color=colour(i), label=name_of[i]) for i in in_gt]
    handles += [Patch(color=colour(i), label=f"{name_of[i]} *") for i in predicted]
    handles.append(Patch(color=rgb(UNLABELLED_COLOUR), label="other / unannotated"))
    errors = [Patch(color=rgb(WRONG), label="wrong"), Patch(color=rgb(RIGHT), label="right"),
              Patch(color=rgb(NOT_EVALUATED), label="not evaluated")]
    ax.axis("off")
    title = "classes, most ground-truth points first" + ("\n(* predicted, not in the ground truth)" if predicted else "")
    first = ax.legend(handles=handles, loc="upper left", fontsize=7.5, ncol=2 if len(handles) > 12 else 1,
                      title=title, title_fontsize=8, frameon=False, columnspacing=1.0, handlelength=1.2)
    ax.add_artist(first)
    ax.legend(handles=errors, loc="lower left", fontsize=8, title="error panels", title_fontsize=8,
              frameon=False)


def _draw(ax, xy: np.ndarray, colours: np.ndarray, sizes_m: np.ndarray, title: str) -> None:
    """Discs ``sizes_m`` wide (in data units), so sampled surfaces read as filled areas."""
    pad = float(sizes_m.max())
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.apply_aspect()
    fig = ax.figure
    points_per_m = ax.get_position().width * fig.get_figwidth() * 72 / np.ptp(ax.get_xlim())
    diameter_pt = np.clip(sizes_m * points_per_m, 0.3, 40)
    ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=diameter_pt ** 2, marker="o", linewidths=0, antialiased=False)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def topdown_png(store: Store, scene_id: str, results: dict[str, str], protocol: str, out: Path) -> Path:
    """Top row: ground truth and every result (``results``: method name -> group), points sorted by
    height so the highest is drawn last; bottom row: the class legend, and where each result is wrong
    on the points the protocol evaluates."""
    plt = _pyplot()
    xyz = store.read(scene_group(scene_id, POINTS), XYZ).astype(np.float64)
    order = np.argsort(xyz[:, 2], kind="stable")
    xy = xyz[order, :2]
    gt = ground_truth(store, scene_id, protocol)
    space = label_set(protocol).space
    preds = {name: predictions(store, scene_id, group) for name, group in results.items()}
    evaluated = to_protocol_index(gt, protocol) >= 0
    sizes = disc_sizes(xyz)[order]
    span = np.ptp(xy, axis=0) + 2 * sizes.max()
    panel_w = 4.0
    panel_h = float(np.clip(panel_w * span[1] / max(span[0], 1e-6), 2.5, 6.0))
    cols = 1 + len(preds)
    fig, axes = plt.subplots(2, cols, figsize=(panel_w * cols, 2 * panel_h + 1.0), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.8 / (2 * panel_h + 1.0), bottom=0.01,
                        wspace=0.04, hspace=0.12)
    _draw(axes[0, 0], xy, class_colours(gt, space)[order] / 255.0, sizes, "ground truth")
    _legend(axes[1, 0], gt, list(preds.values()), protocol)
    for col, (name, pred) in enumerate(preds.items(), start=1):
        _draw(axes[0, col], xy, class_colours(pred, space)[order] / 255.0, sizes, name)
        wrong = evaluated & (pred != gt)
        colours = np.where(wrong[:, None], WRONG, np.where(evaluated[:, None], RIGHT, NOT_EVALUATED))
        share = 100.0 * wrong.sum() / max(int(evaluated.sum()), 1)
        _draw(axes[1, col], xy, colours[order] / 255.0, sizes, f"{name}: wrong on {share:.1f}% of evaluated points")
    fig.suptitle(f"{scene_id} seen from above (highest point on top): {len(xyz):,} points, each a disc "
                 f"1.5 x its distance to its neighbours wide (median {100 * np.median(sizes):.1f} cm)", fontsize=10)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out


def write_all(data: dict, store: Store, order: list[str], out: Path) -> list[Path]:
    """Every figure of a report from its ``collect`` data; ``order``: present classes, most first."""
    methods = data["methods"]
    first = data["runs"][0]
    pngs = []
    groups = {name: m["group"] for name, m in methods.items()}
    affinity = {n: data["provenance"]["results"][g]["affinity"] for n, g in groups.items()}
    # the confusion matrix of the method (student), else of the first pooling, else lift-only's
    best = next((n for n in methods if affinity[n] == AFFINITY_STUDENT),
                next((n for n in methods if affinity[n]), next(iter(methods), None)))
    if best is not None and order:
        pngs.append(confusion_png(first[groups[best]], order, out / "confusion.png",
                                  f"{best} (group {groups[best]}), first store, row-normalised"))
    if methods and order:
        pngs.append(iou_bars_png(methods, order, data["class_points"], out / "per_class_iou.png"))
    if data["scenes"] and groups:
        pngs.append(topdown_png(store, data["scenes"][0], groups, data["protocol"], out / "topdown.png"))
    return pngs
