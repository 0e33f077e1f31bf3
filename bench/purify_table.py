"""Purify's ablation table on a labelled scene: lift-only, geometric, student and oracle pooling.

    python bench/purify_table.py --student S.pt
    ... --presets realistic --seeds 0 --affinities geometric,oracle     # without a student

For every simulator preset and seed, one store under ``--work`` (default: a folder in the system's temp dir) holds the
scene's ingest and simulated fuse (both skipped when already done), then one purified group per
affinity (``purified`` for the student, ``purified_<affinity>`` for the others, as ``all`` names
them). Scores: 19-class mIoU (protocol scannet19) of the fused argmax (lift-only) and of each
purified group, per seed, then the mean and standard deviation over seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import (
    FAILED, FUSED, LABEL, SCORE, purified_group, scene_group,
)


DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def group_of(affinity: str) -> str:
    return purified_group(affinity)


def run_or_fail(stage, ctx, scene: str):
    from geopurify.pipeline.stage import run_scene

    stage.prepare(ctx, [scene])  # shared inputs (the fuse stage writes text/<vocab>/ here)
    outcome = run_scene(stage, ctx, scene)
    if outcome.status == FAILED:
        raise SystemExit(f"{stage.name} of {scene} failed: {outcome.error}\n{outcome.detail}")
    return outcome


def miou(store, scene: str, of: str) -> float:
    from geopurify.stages.score import confusion_matrix, ground_truth, metrics, predictions

    conf = confusion_matrix(ground_truth(store, scene), predictions(store, scene, of), "scannet19")
    return float(metrics(conf, "scannet19")["miou"])  # already in percent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scene", default="scene0000_00")
    p.add_argument("--root", default=str(DATA / "scannet" / "scans"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "geopurify-bench-table"))
    p.add_argument("--presets", default="realistic,view-noise,swaps")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--affinities", default="geometric,student,oracle")
    p.add_argument("--student", default="", help="student .pt file or run store (for affinity student)")
    p.add_argument("--check-determinism", action="store_true", help="run each purify twice, compare")
    p.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from geopurify.pipeline.stage import StageContext
    from geopurify.pipeline.store import Store
    from geopurify.workflows.config import load_run_config
    from geopurify.workflows.registry import scene_stage

    console = Console()
    affinities = args.affinities.split(",")
    rows: dict[str, dict[str, list[float]]] = {}
    for preset in args.presets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            path = Path(args.work) / f"{preset}.seed{seed}.zarr"
            cfg = load_run_config(None, [f"fuse.simulated.preset={preset}", f"fuse.simulated.seed={seed}",
                                         *args.set], search_cwd=False)
            cfg = dataclasses.replace(cfg, store=str(path),
                                      dataset=dataclasses.replace(cfg.dataset, root=args.root))
            ctx = StageContext(str(path), cfg)
            t0 = time.perf_counter()
            run_or_fail(scene_stage("ingest"), ctx, args.scene)
            run_or_fail(scene_stage("fuse"), ctx, args.scene)
            store = Store(path)
            scores = {"lift-only": miou(store, args.scene, FUSED)}
            timings = {}
            for affinity in affinities:
                stage = scene_stage("purify")
                stage.name = group_of(affinity)
                pcfg = dataclasses.replace(cfg.purify, affinity=affinity, student=args.student)
                actx = StageContext(str(path), dataclasses.replace(cfg, purify=pcfg))
                run_or_fail(stage, actx, args.scene)
                scores[affinity] = miou(store, args.scene, stage.name)
                if args.check_determinism:  # the same run again, into a second group: same bytes?
                    again = scene_stage("purify")
                    again.name = stage.name + "_again"
                    run_or_fail(again, actx, args.scene)
                    same = all(store.read(scene_group(args.scene, stage.name), a).tobytes()
                               == store.read(scene_group(args.scene, again.name), a).tobytes()
                               for a in (LABEL, SCORE))
                    console.print(f"{preset} seed {seed} {affinity}: second run bit-identical: {same}")
                timings[affinity] = store.attrs(scene_group(args.scene, stage.name))["timings"]["compute_s"]
            for name, value in scores.items():
                rows.setdefault(preset, {}).setdefault(name, []).append(value)
            console.print(f"{preset} seed {seed}: " + ", ".join(f"{k} {v:.1f}" for k, v in scores.items())
                          + f"  (purify s: {timings}; {time.perf_counter() - t0:.0f} s in all)")

    columns = ["lift-only", *affinities]
    table = Table(title=f"{args.scene}: 19-class mIoU (%), mean +- std over seeds {args.seeds}")
    table.add_column("preset")
    for col in columns:
        table.add_column(col, justify="right")
    for preset, by in rows.items():
        table.add_row(preset, *(f"{np.mean(by[c]):.1f} +- {np.std(by[c]):.1f}" for c in columns))
    console.print(table)


if __name__ == "__main__":
    main()
