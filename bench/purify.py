"""Purify speed and memory on one scene: the published formula against the full and fast paths.

    python bench/purify.py            # scene0000_00
    ... bench/purify.py --store S --scene scene0000_00 --affinity student           # a run store

Three ways to label the scene's voxels, each timed in a fresh process (so its peak RSS is its own),
``--repeat`` times, interleaved in rotating order; the table shows each path's median run (wall
times vary from run to run):

(a) ``direct``: the published formula as written. A = the k-nearest-voxel affinity softmax as a
    scipy CSR matrix; X = the 518-channel voxel means [fused (512) | rgb / 255 (3) | normal (3)]
    (the student's input, design.md section 5.1); X <- A X applied ``steps`` times in float64; label = argmax
    of the cosine of the fused channels (the first D) against the text embeddings.
(b) ``full``: pooling.pool_full: the D fused channels only (A acts channel by channel, so the
    rgb/normal channels never touch the fused ones), float64.
(c) ``fast``: pooling.pool_fast: the C logits (its score is the in-vocabulary cosine, see pooling.py).

Each timing (after the same warm-up on a tiny graph for every path) covers building the graph
(kd-tree kNN + softmax) from the voxel embeddings, pooling, and giving every point its voxel's label. Voxelisation and the affinity embeddings are shared inputs,
timed once. The labels of (b) and (c) must equal those of (a).

Without ``--store`` the scene is read from the ScanNet files and the lifted features are made up
from the ground truth (each labelled point gets its class's hashed text embedding plus noise,
others a random class): the speed does not depend on what the features say.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import LABEL, POINTS, scene_group


DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_from_scannet(scene: str, dim: int, seed: int):
    from plyfile import PlyData

    from geopurify.pipeline.normals import estimate_normals
    from geopurify.stages.fuse.text import hashed_embeddings
    from geopurify.stages.labelsets import vocabulary

    folder = DATA / "scannet" / "scans" / scene
    v = PlyData.read(str(folder / f"{scene}_vh_clean_2.ply"))["vertex"]
    xyz = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float32)
    rgb = np.stack([v["red"], v["green"], v["blue"]], 1).astype(np.uint8)
    label = np.asarray(PlyData.read(str(folder / f"{scene}_vh_clean_2.labels.ply"))["vertex"]["label"])
    normal = estimate_normals(xyz, 16)
    ids, names = vocabulary("scannet20")
    text = hashed_embeddings(names, dim)
    rng = np.random.default_rng(seed)
    row = np.full(256, -1)
    row[ids] = np.arange(len(ids))
    cls = row[label]
    cls[cls < 0] = rng.integers(0, len(ids), (cls < 0).sum())
    fused = text[cls] + rng.standard_normal((len(xyz), dim)).astype(np.float32) * (1.5 / np.sqrt(dim))
    return xyz, rgb, normal, label, fused.astype(np.float16).astype(np.float32), text


def load_from_store(store_path: str, scene: str):
    from geopurify.pipeline.store import Store
    from geopurify.stages.fuse.text import read_text
    from geopurify.stages.purify.stage import fused_vocab, read_scene_points

    store = Store(store_path, create=False)
    pts = read_scene_points(store, scene, with_label=False)
    group = store.group(scene_group(scene, POINTS))
    label = store.read(scene_group(scene, POINTS), LABEL) if LABEL in group else None
    text, _ = read_text(store, fused_vocab(store, scene, "scannet20"))
    return pts.xyz, pts.rgb, pts.normal, label, pts.fused, text.embeddings


def prepare(args, workdir: Path) -> dict:
    from geopurify.pipeline.geometry import voxel_mean, voxelize
    from geopurify.stages.purify.affinity import ScenePoints, make_affinity
    from geopurify.stages.purify.config import PurifyConfig

    t0 = time.perf_counter()
    if args.store:
        xyz, rgb, normal, label, fused, text = load_from_store(args.store, args.scene)
    else:
        xyz, rgb, normal, label, fused, text = load_from_scannet(args.scene, args.dim, args.seed)
    load_s = time.perf_counter() - t0

    cfg = PurifyConfig(affinity=args.affinity, k=args.k, steps=args.steps, student=args.student)
    t0 = time.perf_counter()
    coords, p2v = voxelize(xyz, cfg.voxel_size)
    x518 = voxel_mean(np.concatenate([fused, rgb / 255.0, normal], axis=1), p2v, len(coords))
    voxel_s = time.perf_counter() - t0
    store = None
    if args.store:
        from geopurify.pipeline.store import Store

        store = Store(args.store, create=False)
    t0 = time.perf_counter()
    z = make_affinity(cfg, store).embed(ScenePoints(xyz, rgb, normal, fused, label), coords, p2v)
    embed_s = time.perf_counter() - t0
    np.savez(workdir / "inputs.npz", coords=coords, p2v=p2v, x518=x518, z=z, text=text,
             d=np.array(fused.shape[1]))
    return {POINTS: len(xyz), "voxels": len(coords), "dim": int(fused.shape[1]),
            "classes": int(text.shape[0]), "load_s": load_s, "voxelise_s": voxel_s, "embed_s": embed_s}


def warm_up(temperature: float) -> None:
    """Build and pool a tiny graph once: library imports and first-call kernel set-up (about 1 s of
    torch) are process start-up, not labelling. Every path gets the same warm-up."""
    from geopurify.stages.purify.graph import build_graph
    from geopurify.stages.purify.pooling import pool_fast

    rng = np.random.default_rng(0)
    coords = np.unique(rng.integers(0, 8, (64, 3)), axis=0)
    unit = rng.standard_normal((len(coords), 4))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    for embeddings in (unit, coords.astype(np.float64)):  # float32 and float64 dot kernels
        pool_fast(build_graph(coords, embeddings, 4, temperature), rng.standard_normal((len(coords), 5)),
                  rng.standard_normal((3, 5)), 2)


def child(path: str, workdir: Path, k: int, steps: int, temperature: float, score_rank: int) -> None:
    """One path, timed, in this process; writes labels and a JSON record."""
    from geopurify.stages.purify.graph import build_graph
    from geopurify.stages.purify.pooling import pool_fast, pool_full, unit_rows

    data = np.load(workdir / "inputs.npz")
    coords, p2v, x518, z, text, d = (data[k_] for k_ in ("coords", "p2v", "x518", "z", "text", "d"))
    d = int(d)
    warm_up(temperature)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c0 = time.process_time()
    t0 = time.perf_counter()
    graph = build_graph(coords, z, k, temperature)
    graph_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    if path == "direct":
        a = graph.matrix()
        x = x518.astype(np.float64)
        for _ in range(steps):
            x = a @ x
        fused = x[:, :d]
        cos = (fused / np.linalg.norm(fused, axis=1, keepdims=True)) @ unit_rows(text).T
        labels, score = cos.argmax(axis=1), cos.max(axis=1)
    elif path == "full":
        r = pool_full(graph, x518[:, :d], text, steps)
        labels, score = r.labels, r.score
    else:
        r = pool_fast(graph, x518[:, :d], text, steps, score_rank)
        labels, score = r.labels, r.score
    point_labels = labels[p2v]
    pool_s = time.perf_counter() - t1
    total_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    np.save(workdir / f"{path}_labels.npy", point_labels)
    np.save(workdir / f"{path}_score.npy", score)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    (workdir / f"{path}.json").write_text(json.dumps({
        "graph_s": graph_s, "pool_s": pool_s, "total_s": total_s, "cpu_s": cpu_s, "peak_bytes": peak,
        "inputs_peak_bytes": base_rss * 1024}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scene", default="scene0000_00")
    p.add_argument("--store", default="", help="a run store with points + fused + text (else ScanNet files)")
    p.add_argument("--affinity", default="geometric", choices=["geometric", "oracle", "student"])
    p.add_argument("--student", default="")
    p.add_argument("--dim", type=int, default=512, help="feature width of made-up features")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=96)
    p.add_argument("--steps", type=int, default=19)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--score-rank", type=int, default=0, help="fast path: residual directions for the score")
    p.add_argument("--paths", default="direct,full,fast")
    p.add_argument("--repeat", type=int, default=3, help="runs per path (fresh processes); the median is shown")
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    p.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, Path(args.workdir), args.k, args.steps, args.temperature, args.score_rank)
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench_purify_") as tmp:
        workdir = Path(tmp)
        info = prepare(args, workdir)
        console.print(f"{args.scene}: {info[POINTS]:,} points, {info['voxels']:,} voxels, D = {info['dim']}, "
                      f"C = {info['classes']}, k = {args.k}, T = {args.steps}, affinity = {args.affinity}")
        console.print(f"shared inputs: load {info['load_s']:.2f} s, voxelise + voxel means "
                      f"{info['voxelise_s']:.2f} s, affinity embeddings {info['embed_s']:.2f} s")
        results = {}
        paths = args.paths.split(",")
        runs: dict[str, list[dict]] = {path: [] for path in paths}
        for round_ in range(args.repeat):
            # interleaved, so a slow spell of the machine hits every path, and rotated, so each path
            # follows each other one equally often (here a run right after a long heavy one is slower)
            for path in paths[round_ % len(paths):] + paths[:round_ % len(paths)]:
                cmd = [sys.executable, __file__, "--child", path, "--workdir", str(workdir), "--k", str(args.k),
                       "--steps", str(args.steps), "--temperature", str(args.temperature),
                       "--score-rank", str(args.score_rank)]
                subprocess.run(cmd, check=True)
                runs[path].append(json.loads((workdir / f"{path}.json").read_text()))
        for path in paths:
            # the median run by total time, with its own breakdown and peak
            results[path] = sorted(runs[path], key=lambda r: r["total_s"])[len(runs[path]) // 2]
            results[path]["all_totals"] = [round(r["total_s"], 2) for r in runs[path]]
            results[path]["labels"] = np.load(workdir / f"{path}_labels.npy")
            results[path]["score"] = np.load(workdir / f"{path}_score.npy")

        table = Table(title=f"purify on {args.scene} (2 cores; median of {args.repeat} runs per path)")
        for col in ("path", "graph s", "pool s", "total s", "CPU s", "peak RSS GiB", "labels = (a)", "|score - (a)| mean / max"):
            table.add_column(col, justify="right")
        ref = results.get("direct")
        for path, r in results.items():
            same = "-" if ref is None else ("yes" if np.array_equal(r["labels"], ref["labels"]) else
                                            f"NO ({(r['labels'] != ref['labels']).sum()} points differ)")
            diff = None if ref is None else np.abs(r["score"] - ref["score"])
            err = "-" if diff is None else f"{diff.mean():.1e} / {diff.max():.1e}"
            table.add_row(path, f"{r['graph_s']:.2f}", f"{r['pool_s']:.2f}", f"{r['total_s']:.2f}",
                          f"{r['cpu_s']:.2f}", f"{r['peak_bytes'] / 2**30:.2f}", same, err)
        console.print(table)
        for path, r in results.items():
            console.print(f"{path}: total seconds of every run {r['all_totals']}")
        console.print(f"load average while it ran: {os.getloadavg()[0]:.1f} (2 cores; above 2 the wall "
                      "times include waiting for other processes)")
        if ref is not None:
            for path in ("full", "fast"):
                if path in results:
                    r = results[path]
                    console.print(f"speed-up of {path} over direct: {ref['total_s'] / r['total_s']:.1f}x "
                                  f"end to end, {ref['pool_s'] / r['pool_s']:.1f}x pooling only")


if __name__ == "__main__":
    main()
