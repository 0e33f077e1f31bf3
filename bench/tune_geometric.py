"""Tune the geometric affinity's three scales on the training scenes, never on the evaluation scene.

    python bench/tune_geometric.py --store S --scenes 'scene000[1-8]_*' [--eval-scene scene0000_00]

The geometric pooling baseline has three free scales (position, normal, colour; purify config keys
``geo_*_scale``). Picking them on the scene the method is scored on flatters the baseline. This
grid-searches them on the labelled training scans (labels read here only to score the baseline, as
the simulated 2D model already reads them), pooling each scan's lifted features exactly as the purify
stage does (fast path) and summing one 19-class confusion matrix over the scans. Prints every
combination's training mIoU, the best one, and, with ``--eval-scene``, that combination's and the
current default's mIoU on the evaluation scene (reported, not used to choose).
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace

import numpy as np


def scene_inputs(store, scene_id: str):
    from geopurify.pipeline.geometry import voxel_mean, voxelize
    from geopurify.stages.fuse.text import read_text
    from geopurify.stages.purify.graph import nearest_voxels
    from geopurify.stages.purify.stage import fused_vocab, read_scene_points

    points = read_scene_points(store, scene_id, with_label=True)
    text, _ = read_text(store, fused_vocab(store, scene_id, "scannet20"))
    coords, p2v = voxelize(points.xyz, 0.02)
    feats = voxel_mean(points.fused, p2v, len(coords))
    # the kNN graph's shape does not depend on the scales: computed once per scene
    return points, text, coords, p2v, feats, nearest_voxels(coords, 96)


def pooled_confusion(inputs, cfg, protocol: str) -> np.ndarray:
    from geopurify.stages.purify.affinity import GeometricAffinity

    points, _, coords, p2v, _, _ = inputs
    return confusion_of(inputs, GeometricAffinity(cfg).embed(points, coords, p2v), cfg, protocol)


def confusion_of(inputs, z, cfg, protocol: str) -> np.ndarray:
    """The scene's confusion matrix after pooling its lifted features along embeddings ``z``."""
    from geopurify.stages.purify.graph import VoxelGraph, affinity_weights
    from geopurify.stages.purify.pooling import pool_fast
    from geopurify.stages.score import confusion_matrix

    points, text, coords, p2v, feats, neighbours = inputs
    graph = VoxelGraph(neighbours, affinity_weights(z, neighbours, cfg.temperature))
    result = pool_fast(graph, feats, text.embeddings, cfg.steps)
    pred = text.nyu40_ids.astype(np.int64)[result.labels][p2v]
    return confusion_matrix(points.label.astype(np.int64), pred, protocol)


def tuning_arguments(doc: str) -> argparse.ArgumentParser:
    """The arguments every tuning bench takes: a store, its training scenes, an evaluation scene."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--scenes", nargs="+", required=True, help="training scenes (names, globs)")
    p.add_argument("--eval-scene", default="")
    p.add_argument("--protocol", default="scannet19")
    return p


def training_inputs(args, console):
    """The store, its chosen training scenes (never the evaluation scene) and their pooling inputs."""
    from geopurify.pipeline.selection import match_scenes
    from geopurify.pipeline.store import Store

    store = Store(args.store, create=False)
    scenes = match_scenes(args.scenes, store.scene_ids(), args.store)
    if args.eval_scene in scenes:
        raise SystemExit(f"{args.eval_scene} is among the tuning scenes")
    t0 = time.perf_counter()
    inputs = [scene_inputs(store, s) for s in scenes]
    console.print(f"{len(scenes)} training scenes read and their kNN graphs built in {time.perf_counter() - t0:.1f} s")
    return store, scenes, inputs


def main() -> None:
    p = tuning_arguments(__doc__)
    p.add_argument("--position", default="0.05,0.1,0.2,0.4")
    p.add_argument("--normal", default="0.15,0.3,0.6")
    p.add_argument("--colour", default="0.05,0.1,0.2")
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from geopurify.stages.purify.config import PurifyConfig
    from geopurify.stages.score import metrics

    console = Console()
    store, scenes, inputs = training_inputs(args, console)

    base = PurifyConfig(affinity="geometric")
    grid = list(itertools.product(*(map(float, v.split(",")) for v in (args.position, args.normal, args.colour))))
    rows = []
    for pos, nrm, col in grid:
        cfg = replace(base, geo_position_scale=pos, geo_normal_scale=nrm, geo_color_scale=col)
        conf = sum(pooled_confusion(x, cfg, args.protocol) for x in inputs)
        rows.append(((pos, nrm, col), metrics(conf, args.protocol)["miou"]))
        console.print(f"position {pos:<5} normal {nrm:<5} colour {col:<5} training mIoU {rows[-1][1]:.2f}")
    best, best_miou = max(rows, key=lambda r: r[1])
    default = (base.geo_position_scale, base.geo_normal_scale, base.geo_color_scale)
    default_miou = next((m for s, m in rows if s == default), None)

    table = Table(title=f"geometric affinity scales tuned on {len(scenes)} training scenes ({args.protocol})")
    for col in ("scales (position, normal, colour)", "training mIoU", f"{args.eval_scene or '-'} mIoU"):
        table.add_column(col, justify="right")
    eval_inputs = scene_inputs(store, args.eval_scene) if args.eval_scene else None
    for name, scales, miou in (("best on training", best, best_miou), ("current default", default, default_miou)):
        ev = "-"
        if eval_inputs is not None:
            cfg = replace(base, geo_position_scale=scales[0], geo_normal_scale=scales[1], geo_color_scale=scales[2])
            ev = f"{metrics(pooled_confusion(eval_inputs, cfg, args.protocol), args.protocol)['miou']:.2f}"
        table.add_row(f"{name}: {scales}", "-" if miou is None else f"{miou:.2f}", ev)
    console.print(table)


if __name__ == "__main__":
    main()
