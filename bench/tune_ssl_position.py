"""Pick the ``ssl`` teacher's position-block weight on labelled training scans, never on the
evaluation scene.

    python bench/tune_ssl_position.py --checkpoint TEACHER.pt
        [--scenes scene0001_00 scene0002_00 ...] [--weights 0,1,2,4,6,8,12] [--sample 4000]

The network sees no horizontal position (stages/teacher/network.py), so nearness enters its
features as a block beside the embedding (``teacher.ssl_position_weight``). This scores each weight
by affinity purity@16 within 0.5 m as defined (every labelled point of the ball; ``--sample``
random anchors per scan), averaged over the labelled ``scannet_geometry`` scans (labels read only
to score; the teacher never sees them), with spatial nearness alone and the raw and geometric
descriptors on the same anchors for reference. Prints the table and the best weight.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from teacher_purity import DEFAULT_DATA, scene_points  # bench/ is the script's own folder

from geopurify.pipeline.vocabulary import LABEL, NORMAL, RGB, XYZ


TRAINING_SCANS = ["scene0001_00", "scene0002_00", "scene0003_00", "scene0004_00", "scene0005_00",
                  "scene0006_00", "scene0008_00"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--scenes", nargs="+", default=TRAINING_SCANS)
    ap.add_argument("--weights", default="0,1,2,4,6,8,12")
    ap.add_argument("--sample", type=int, default=4000, help="random anchors per scan")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    if "scene0000_00" in args.scenes:
        raise SystemExit("scene0000_00 is the evaluation scene: tune on training scans only")

    from rich.console import Console
    from rich.table import Table

    from affinity_purity import affinity_purity
    from geopurify.stages.teacher.geometric import geometric_features, raw_features
    from geopurify.stages.teacher.network import embed_points, load_teacher
    from geopurify.stages.teacher.stage import ssl_features

    console = Console()
    model = load_teacher(args.checkpoint)
    weights = [float(w) for w in args.weights.split(",")]
    names = (["spatial only (16 nearest)", "raw xyz+rgb+normal", "geometric"]
             + [f"ssl, position {w:g}" for w in weights])
    scores = {name: [] for name in names}
    for scene_id in args.scenes:
        pts = scene_points(args.data, scene_id, kind="pointcloud")
        if LABEL not in pts:
            raise SystemExit(f"{scene_id}: no labels to score with")
        xyz, rgb, normal = pts[XYZ], pts[RGB], pts[NORMAL]
        embedding = embed_points(model, xyz, rgb, normal)
        feats = [np.ones((len(xyz), 1), np.float32),  # ties everywhere: the nearest win
                 raw_features(xyz, rgb, normal), geometric_features(xyz, rgb, normal)]
        feats += [ssl_features(embedding, xyz, w) for w in weights]
        for name, f in zip(names, feats):
            scores[name].append(affinity_purity(f, xyz, pts[LABEL], pool="exact", sample=args.sample))
        console.print(f"{scene_id}: " + ", ".join(f"{n} {s[-1]:.4f}" for n, s in scores.items()))

    table = Table(title=f"purity@16 within 0.5 m (whole ball, {args.sample} anchors a scan), "
                        f"mean over {len(args.scenes)} training scans")
    table.add_column("features")
    table.add_column("mean purity", justify="right")
    for name in names:
        table.add_row(name, f"{np.mean(scores[name]):.4f}")
    console.print(table)
    best = max(weights, key=lambda w: np.mean(scores[f"ssl, position {w:g}"]))
    console.print(f"best position weight on the training scans: {best:g}")


if __name__ == "__main__":
    main()
