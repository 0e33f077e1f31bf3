"""Teacher quality: affinity purity@16 on a labelled scan, and the cost of teacher inference.

For raw xyz+rgb+normal, the ``geometric`` teacher and the ``ssl`` teacher (a checkpoint made with the
default ``pretrain-teacher`` recipe; scene0000_00 is never in its pretraining set; shown as its
embedding alone and as the teacher's features, embedding plus the configured position block; by
default weighted as the geometric descriptor's, else a row of the geometric descriptor re-weighted
alike is added, the fair comparison):
purity@16 within 0.5 m (bench/affinity_purity.py), exactly as defined (the whole ball, sampled
anchors) and with two bounded candidate pools (a local one and a random subset of the ball), each
printed with what it ranks over. Then the wall time and peak memory of teacher inference on the
scene, measured in a fresh process (so the peak is inference's own, not this script's).

    python bench/teacher_purity.py --checkpoint TEACHER.pt [--scene scene0000_00]
        [--data ../shared/data] [--sample 20000] [--json out.json]

The points (xyz, rgb, labels, normals) are made exactly as ``ingest`` makes them.
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
from dataclasses import replace
from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import LABEL, NORMAL, POINTS, RGB, XYZ


DEFAULT_DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def scene_points(data: Path, scene_id: str, kind: str = "scannet") -> dict[str, np.ndarray]:
    """A scene's points made exactly as ``ingest`` makes them: a ScanNet scan (``scannet``) or a
    ``scannet_geometry`` PLY (``pointcloud``)."""
    from geopurify.pipeline.readers import get_reader
    from geopurify.stages.ingest.config import IngestConfig
    from geopurify.stages.ingest.stage import points_output

    root = data / "scannet" / "scans" if kind == "scannet" else data / "scannet_geometry"
    scene = get_reader(kind).read(root, scene_id)
    return points_output(scene, IngestConfig(), kind).arrays


def measure_inference(points_file: str, kind: str, checkpoint: str) -> dict:
    """Child-process mode: load points, run the teacher once, report time and peak RSS."""
    import torch

    from geopurify.stages.teacher.config import TeacherConfig
    from geopurify.stages.teacher.stage import teacher_features

    torch.set_num_threads(2)
    pts = dict(np.load(points_file))
    if kind == "ssl":
        from geopurify.stages import sparse

        sparse.spconv()  # the one-off import (~10 s) is not inference
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    feat = teacher_features(TeacherConfig(kind=kind, checkpoint=checkpoint), pts[XYZ], pts[RGB],
                            pts[NORMAL])
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_rss_gib": peak / 2**20, "before_rss_gib": before / 2**20,
            "dim": int(feat.shape[1]), POINTS: int(feat.shape[0])}


def run_child(points_file: str, kind: str, checkpoint: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", points_file, "--kind", kind,
                          "--checkpoint", checkpoint or ""], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="", help="ssl teacher checkpoint (omit: no ssl row)")
    ap.add_argument("--scene", default="scene0000_00")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sample", type=int, default=20000, help="anchors of the exact and ball pools")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure_inference(args.measure, args.kind, args.checkpoint)))
        return

    from rich.console import Console
    from rich.table import Table

    from affinity_purity import affinity_purity, approximation_note
    from geopurify.stages.teacher.config import TeacherConfig
    from geopurify.stages.teacher.geometric import raw_features
    from geopurify.stages.teacher.stage import ssl_features, teacher_features

    console = Console()
    pts = scene_points(args.data, args.scene)
    if LABEL not in pts:
        sys.exit(f"{args.scene}: no labels, purity needs a labelled scene")
    xyz, label = pts[XYZ], pts[LABEL]
    feats = {"raw xyz+rgb+normal": raw_features(xyz, pts[RGB], pts[NORMAL]),
             "geometric": teacher_features(TeacherConfig(kind="geometric"), xyz, pts[RGB], pts[NORMAL])}
    if args.checkpoint:
        ssl = TeacherConfig(kind="ssl", checkpoint=args.checkpoint)
        embedding = teacher_features(replace(ssl, ssl_position_weight=0.0), xyz, pts[RGB], pts[NORMAL])
        feats["ssl embedding alone"] = embedding
        feats[f"ssl (teacher features: + position block {ssl.ssl_position_weight:g})"] = ssl_features(
            embedding, xyz, ssl.ssl_position_weight)
        geometric_weights = TeacherConfig().geometric_weights
        if ssl.ssl_position_weight != geometric_weights[0]:
            # the fair comparison: the hand-made descriptor with the same position weight as ssl's
            matched = replace(TeacherConfig(kind="geometric"),
                              geometric_weights=[ssl.ssl_position_weight, *geometric_weights[1:]])
            feats[f"geometric, position weight {ssl.ssl_position_weight:g} (matched to ssl)"] = \
                teacher_features(matched, xyz, pts[RGB], pts[NORMAL])
    const = np.ones((len(xyz), 1), np.float32)  # ties everywhere: the 16 spatially nearest

    pools = [("exact", {"pool": "exact", "sample": args.sample}), ("nearest", {"pool": "nearest"}),
             ("ball", {"pool": "ball", "sample": args.sample})]
    results: dict[str, dict] = {}
    table = Table(title=f"affinity purity@16 within 0.5 m on {args.scene} "
                        f"({int((label != 0).sum())} labelled points)")
    table.add_column("features")
    table.add_column("dim", justify="right")
    for name, _ in pools:
        table.add_column(f"pool={name}", justify="right")
    rows = [("(spatial only: 16 nearest)", const)] + list(feats.items())
    for name, f in rows:
        values = {pool: affinity_purity(f, xyz, label, k=16, radius=0.5, **kw) for pool, kw in pools}
        results[name] = {"dim": int(f.shape[1]), **values}
        table.add_row(name, str(f.shape[1]), *(f"{values[p]:.4f}" for p, _ in pools))
    console.print(table)
    console.print(f"pool=exact: {approximation_note(pool='exact')}, {args.sample} random anchors (seed 0)")
    console.print(f"pool=nearest: {approximation_note(pool='nearest')}, every labelled point an anchor")
    console.print(f"pool=ball: {approximation_note(pool='ball')}, {args.sample} random anchors (seed 0)")

    with tempfile.TemporaryDirectory() as tmp:
        points_file = str(Path(tmp) / "points.npz")
        np.savez(points_file, xyz=xyz, rgb=pts[RGB], normal=pts[NORMAL])
        timing = Table(title=f"teacher inference on {args.scene} ({len(xyz)} points), fresh process, "
                             f"torch threads 2")
        for col in ("teacher", "wall s", "peak RSS GiB", "RSS before GiB"):
            timing.add_column(col, justify="right")
        kinds = ["geometric"] + (["ssl"] if args.checkpoint else [])
        for kind in kinds:
            m = run_child(points_file, kind, args.checkpoint)
            results[f"inference_{kind}"] = m
            timing.add_row(kind, f"{m['seconds']:.2f}", f"{m['peak_rss_gib']:.2f}", f"{m['before_rss_gib']:.2f}")
        console.print(timing)
        console.print("wall s: checkpoint load + voxelising + network + mapping to points (spconv's "
                      "one-off import excluded); peak RSS: the whole child process")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
