"""Distill: training speed and memory, and the student's affinity purity on a held-out scene.

    python bench/distill.py --store S \
        --train-scenes @train.txt --eval-scene scene0000_00 [--epochs N] [--paper-speed]

1. Speed (each preset in a fresh process, so its peak RSS is its own): training steps per second on
   the largest training scene (augmentation, voxel inputs, mining, forward, backward, AdamW step).
2. Training, once per positive mode (``outside-voxel``, then ``paper``, the default, so the store's
   ``models/student`` ends as the default), each in a fresh process via ``distill()``, exported to
   ``<out-dir>/student_<mode>.pt``; its wall time and peak RSS. Checkpoints make a rerun cheap.
   ``--fresh`` ignores checkpoints and a finished student (timing a whole run); ``--modes paper``
   trains one mode and takes the other's student from ``<out-dir>`` as it is.
3. Affinity purity@16 (bench/affinity_purity.py, labels only here, for scoring) on the evaluation
   scene of: the raw fused features, their 2 cm voxel means (the student's input), the teacher, and
   the two students. Two candidate pools: the 128 nearest labelled points within 0.5 m (local), and
   128 random among the 1024 nearest within 0.5 m (wider; 10k sampled anchors).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import FEAT, FUSED, LABEL, POINTS, TEACHER, XYZ, scene_group


MODES = ("outside-voxel", "paper")


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _config(args, **changes):
    from dataclasses import replace

    from geopurify.stages.distill.config import DistillConfig

    cfg = DistillConfig()
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    return replace(cfg, **changes)


def speed(args) -> dict:
    """Child process: timed training steps of one preset on one scene."""
    import torch

    from geopurify.pipeline.store import Store
    from geopurify.stages.distill.network import build_student, network_config, parameter_count
    from geopurify.stages.distill.scenes import load_training_scene
    from geopurify.stages.distill.train import train_step

    cfg = _config(args, preset=args.speed)
    scene = load_training_scene(Store(args.store, create=False), args.scene)
    torch.manual_seed(0)
    model = build_student(network_config(cfg, scene.fused.shape[1]), "cpu").train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    times, info = [], {}
    for i in range(args.steps + 1):  # the first step warms up (kernels, allocator)
        t0 = time.perf_counter()
        loss, info = train_step(model, scene, cfg, np.random.default_rng(i), torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return {"preset": args.speed, "scene": args.scene, POINTS: int(len(scene.xyz)),
            "voxels": info["voxels"], "anchors": info["anchors"], "parameters": parameter_count(model),
            "step_s": float(np.median(times)), "steps_per_s": float(1 / np.median(times)),
            "peak_rss_gib": round(_peak_gib(), 2), "threads": torch.get_num_threads()}


def train(args) -> dict:
    """Child process: one full default training run with the given positive mode."""
    from geopurify.stages.distill.train import distill

    out = Path(args.out_dir) / f"student_{args.train}.pt"
    summary = distill(args.store, args.train_scenes, _config(args, positive=args.train), out=out,
                      progress=False, force=args.fresh, resume=not args.fresh)
    summary.pop("epoch_loss", None)
    return {**summary, "process_peak_rss_gib": round(_peak_gib(), 2)}


def _child(args, *extra) -> dict:
    cmd = [sys.executable, __file__, "--store", args.store, "--out-dir", args.out_dir,
           "--epochs", str(args.epochs or 0), "--train-scenes", *args.train_scenes, *extra]
    if args.fresh:
        cmd.append("--fresh")
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def purity_table(args, students: dict[str, Path]) -> list[dict]:
    from geopurify.pipeline.geometry import voxel_mean, voxelize
    from geopurify.pipeline.store import Store
    from affinity_purity import affinity_purity, approximation_note
    from geopurify.stages.distill.infer import load_student_file, scene_embeddings

    store = Store(args.store, create=False)
    pts = scene_group(args.eval_scene, POINTS)
    xyz, label = store.read(pts, XYZ), store.read(pts, LABEL)
    fused = store.read(scene_group(args.eval_scene, FUSED), FEAT).astype(np.float32)
    _, p2v = voxelize(xyz, 0.02)
    features = {
        "fused (raw, per point)": fused,
        "fused (2 cm voxel mean)": voxel_mean(fused, p2v, int(p2v.max()) + 1)[p2v],
        "teacher": store.read(scene_group(args.eval_scene, TEACHER), FEAT).astype(np.float32),
    }
    for mode, file in students.items():
        model, _ = load_student_file(file)
        _, s_p2v, z = scene_embeddings(store, args.eval_scene, model)
        features[f"student ({mode} positives)"] = z[s_p2v]
    rows = []
    for name, feat in features.items():
        t0 = time.perf_counter()
        local = affinity_purity(feat, xyz, label, k=16, radius=0.5)
        wide = affinity_purity(feat, xyz, label, k=16, radius=0.5, pool="ball", sample=10000, seed=0)
        rows.append({"features": name, "purity16_local": round(local, 4), "purity16_ball": round(wide, 4),
                     "seconds": round(time.perf_counter() - t0, 1)})
    rows.append({"note_local": approximation_note(), "note_ball": approximation_note(pool="ball")})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--train-scenes", nargs="+", default=[])
    p.add_argument("--eval-scene", default="scene0000_00")
    p.add_argument("--epochs", type=int, default=0, help="0: the config default")
    p.add_argument("--out-dir", default=str(Path(tempfile.gettempdir()) / "geopurify-bench-distill"))
    p.add_argument("--steps", type=int, default=5, help="timed steps per preset")
    p.add_argument("--paper-speed", action="store_true", help="also time the paper preset (slow on CPU)")
    p.add_argument("--skip-training", action="store_true", help="reuse <out-dir>/student_<mode>.pt")
    p.add_argument("--speed-only", action="store_true", help="only the step speed table")
    p.add_argument("--modes", default=",".join(MODES), help="positive modes to train (comma-separated)")
    p.add_argument("--fresh", action="store_true",
                   help="train from scratch (no checkpoint, no skip) so the wall time is a whole run's")
    p.add_argument("--json", default="", help="write all figures here")
    p.add_argument("--speed", help=argparse.SUPPRESS)
    p.add_argument("--scene", help=argparse.SUPPRESS)
    p.add_argument("--train", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.speed:
        print(json.dumps(speed(args)))
        return
    if args.train:
        print(json.dumps(train(args)))
        return

    from rich.console import Console
    from rich.table import Table

    from geopurify.pipeline.selection import match_scenes
    from geopurify.pipeline.store import Store

    console = Console(width=150)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    store = Store(args.store, create=False)
    args.train_scenes = match_scenes(args.train_scenes, store.scene_ids(), args.store)
    if args.eval_scene in args.train_scenes:
        raise SystemExit(f"{args.eval_scene} is among the training scenes: the purity would not be held out")
    largest = max(args.train_scenes, key=lambda s: store.group(scene_group(s, POINTS))[XYZ].shape[0])
    results: dict = {"train_scenes": args.train_scenes, "eval_scene": args.eval_scene}

    results["speed"] = [_child(args, "--speed", preset, "--scene", largest, "--steps", str(args.steps))
                        for preset in (["cpu", "paper"] if args.paper_speed else ["cpu"])]
    table = Table(title=f"training step speed ({largest}, 2 cores)")
    for col in ("preset", "parameters", POINTS, "voxels", "anchors", "step_s", "steps_per_s", "peak_rss_gib"):
        table.add_column(col, justify="right")
    for r in results["speed"]:
        table.add_row(r["preset"], f"{r['parameters'] / 1e6:.2f}M", str(r[POINTS]), str(r["voxels"]),
                      str(r["anchors"]), f"{r['step_s']:.2f}", f"{r['steps_per_s']:.2f}", f"{r['peak_rss_gib']:.2f}")
    console.print(table)
    if args.speed_only:
        return

    students = {m: Path(args.out_dir) / f"student_{m}.pt" for m in MODES}
    if not args.skip_training:
        results["training"] = {m: _child(args, "--train", m) for m in args.modes.split(",")}
        table = Table(title="default training runs (each in its own process)")
        for col in ("positives", "status", "steps", "minutes", "mean_step_s", "first_loss", "final_loss",
                    "same_voxel_positives", "peak_rss_gib"):
            table.add_column(col, justify="right")
        for m, r in results["training"].items():
            table.add_row(m, r["status"], str(r.get("steps")), f"{r['wall_s'] / 60:.1f}",
                          f"{r.get('mean_step_s', float('nan')):.2f}", f"{r.get('first_loss', float('nan')):.3f}",
                          f"{r.get('final_loss', float('nan')):.3f}", f"{r.get('same_voxel_positives', float('nan')):.2f}",
                          f"{r['process_peak_rss_gib']:.2f}")
        console.print(table)

    rows = purity_table(args, students)
    results["purity"] = rows
    table = Table(title=f"affinity purity@16 on {args.eval_scene} (held out)")
    table.add_column("features")
    table.add_column("local (128 nearest)", justify="right")
    table.add_column("ball (128 of 1024 in 0.5 m)", justify="right")
    for r in rows[:-1]:
        table.add_row(r["features"], f"{r['purity16_local']:.4f}", f"{r['purity16_ball']:.4f}")
    console.print(table)
    console.print(f"local: {rows[-1]['note_local']}; ball: {rows[-1]['note_ball']}", highlight=False)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
