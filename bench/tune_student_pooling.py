"""Tune the student pooling's temperature and position scale on the training scenes, as
bench/tune_geometric.py tunes the geometric baseline's scales.

    python bench/tune_student_pooling.py --store S --scenes 'scene000[1-8]_*' \
        [--eval-scene scene0000_00] [--temperature 0.02,0.05,0.1] [--position 0,0.1,0.2,0.4]

The geometric baseline has three tuned scales; the student's pooling has a temperature (the paper's
0.05, never tuned here) and an optional position kernel (``purify.student_position_scale``, 0 = off).
This grid-searches both on the labelled training scans with the store's trained student (labels read
only to score, as in tune_geometric.py; the student never saw them), one 19-class confusion matrix
summed over the scans. With ``--eval-scene`` it then prints the best combination, the current default
and the geometric baseline on the evaluation scene of the store and of its seed stores
(``<store>.seed<k>.zarr``, made by ``all``), mean over seeds (reported, not used to choose).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from tune_geometric import (confusion_of, pooled_confusion, scene_inputs,  # bench/: the script's folder
                            training_inputs, tuning_arguments)


def student_z(student, inputs) -> np.ndarray:
    """The student's unit embeddings of the scene's purify voxels (the purify stage's own affinity
    source, configured without a position block, so the grid can add each one cheaply)."""
    points, _, coords, p2v, _, _ = inputs
    return student.embed(points, coords, p2v)


def student_confusion(inputs, z, cfg, protocol: str) -> np.ndarray:
    from geopurify.stages.purify.student import with_position

    return confusion_of(inputs, with_position(z, inputs[0].xyz, inputs[3], cfg), cfg, protocol)


def seed_stores(store: str) -> list[str]:
    """The store and the seed stores ``all`` wrote beside it (seeds 1, 2, ... while they exist)."""
    from geopurify.workflows.run_all import seed_store_path

    stores, seed = [store], 1
    while Path(seed_store_path(store, seed)).is_dir():
        stores.append(seed_store_path(store, seed))
        seed += 1
    return stores


def main() -> None:
    p = tuning_arguments(__doc__)
    p.add_argument("--temperature", default="0.02,0.05,0.1")
    p.add_argument("--position", default="0,0.1,0.2,0.4", help="student_position_scale values (0: off)")
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from geopurify.pipeline.store import Store
    from geopurify.stages.purify.config import PurifyConfig
    from geopurify.stages.purify.student import StudentAffinity
    from geopurify.stages.score import metrics

    console = Console()
    store, scenes, inputs = training_inputs(args, console)
    student = StudentAffinity(PurifyConfig(affinity="student"), store)
    zs = [student_z(student, x) for x in inputs]

    base = PurifyConfig(affinity="student")
    grid = list(itertools.product(*(map(float, v.split(",")) for v in (args.temperature, args.position))))
    rows = []
    for tau, pos in grid:
        cfg = replace(base, temperature=tau, student_position_scale=pos)
        conf = sum(student_confusion(x, z, cfg, args.protocol) for x, z in zip(inputs, zs))
        rows.append(((tau, pos), metrics(conf, args.protocol)["miou"]))
        console.print(f"temperature {tau:<5} position {pos:<5} training mIoU {rows[-1][1]:.2f}")
    best, best_miou = max(rows, key=lambda r: r[1])
    default = (base.temperature, base.student_position_scale)
    default_miou = next((m for s, m in rows if s == default), None)
    if not args.eval_scene:
        console.print(f"best on training: temperature {best[0]}, position {best[1]} ({best_miou:.2f})")
        return

    stores = seed_stores(args.store)
    evals = []
    for path in stores:
        x = scene_inputs(Store(path, create=False), args.eval_scene)
        evals.append((x, student_z(student, x)))
    table = Table(title=f"student pooling tuned on {len(scenes)} training scenes; {args.eval_scene} over "
                        f"{len(stores)} seed store(s) ({args.protocol})")
    for col in ("affinity", "training mIoU", "eval mIoU mean", "per seed"):
        table.add_column(col, justify="right")
    for name, (tau, pos), miou in (("student, best on training", best, best_miou),
                                   ("student, current default", default, default_miou)):
        cfg = replace(base, temperature=tau, student_position_scale=pos)
        per = [metrics(student_confusion(x, z, cfg, args.protocol), args.protocol)["miou"] for x, z in evals]
        table.add_row(f"{name}: t={tau} s={pos}", "-" if miou is None else f"{miou:.2f}",
                      f"{np.mean(per):.2f}", " ".join(f"{m:.1f}" for m in per))
    geo = PurifyConfig(affinity="geometric")
    per = [metrics(pooled_confusion(x, geo, args.protocol), args.protocol)["miou"] for x, _ in evals]
    table.add_row("geometric pooling (default scales)", "-", f"{np.mean(per):.2f}", " ".join(f"{m:.1f}" for m in per))
    console.print(table)


if __name__ == "__main__":
    main()
