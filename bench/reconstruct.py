"""Frames-only reconstruction of a real scan against its mesh: cost, points kept, and scores.

    flock /tmp/geopurify-cpu.lock python bench/reconstruct.py [--scene scene0000_00] [--method tsdf|voxel]
        [--voxel-size 0.02] [--sdf-trunc 0.08] [--preset realistic] [--seed 0]

In a temporary folder (removed at the end; nothing lands in the repository), ``../shared/data``'s
``<scene>`` is laid out in the ScanNet layout without its mesh and labels (frames, poses and
intrinsics linked), and ingest reconstructs it from its depth frames (``ingest.reconstruct``).
Printed: reconstruction time, the process's peak RSS over it, vertices and faces kept, and the
distance of the vertices to the mesh's vertices.

Then the scores, beside the mesh path's: ground truth is carried from the mesh to each reconstructed
vertex by its nearest mesh vertex (bench only: a frames-only capture has no labels), the
reconstruction with those labels is written in the ScanNet layout with the same frames, and both
paths are fused with the ``simulated`` source (it renders each path's own labelled points into the
real frames), purified with the geometric affinity and scored: lift-only and geometric-pooling mIoU
(scannet19 and scannet20).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from layouts import run_stages
from scan_args import add_scan_arguments, scan_folder


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def link_frames(scan: Path, scene: str, out: Path) -> Path:
    """``scan``'s frames, poses, intrinsics and axis alignment linked into ``out/scene`` (no mesh)."""
    folder = out / scene
    folder.mkdir(parents=True)
    for sub in ("color", "depth", "pose", "intrinsic"):
        (folder / sub).symlink_to(scan / sub)
    if (scan / f"{scene}.txt").is_file():
        (folder / f"{scene}.txt").symlink_to(scan / f"{scene}.txt")
    return folder


def scores(store_path: str, scene: str) -> dict:
    from geopurify.stages.score import score_scenes

    return {(of, p): score_scenes(store_path, [scene], of, p, scheduler="threads", workers=1)["miou"]
            for of in ("fused", "purified_geometric") for p in ("scannet19", "scannet20")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_scan_arguments(p)
    p.add_argument("--method", default="tsdf", choices=("tsdf", "voxel"))
    p.add_argument("--voxel-size", type=float, default=None, help="default: ingest's")
    p.add_argument("--sdf-trunc", type=float, default=None, help="default: ingest's")
    args = p.parse_args()

    from scipy.spatial import cKDTree

    from geopurify.pipeline.ply import read_ply, write_ply
    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.pipeline.store import Store
    from geopurify.pipeline.vocabulary import FACES, POINTS, RGB, XYZ, scene_group
    from geopurify.stages.ingest.stage import IngestStage
    from geopurify.workflows.config import load_run_config

    scan = scan_folder(args)
    work = Path(tempfile.mkdtemp(prefix="geopurify-reconstruct-"))
    ingest = [f"ingest.reconstruct={args.method!r}"]
    ingest += [f"ingest.voxel_size={args.voxel_size}"] if args.voxel_size else []
    ingest += [f"ingest.sdf_trunc={args.sdf_trunc}"] if args.sdf_trunc else []
    common = ["dataset.kind='scannet'", "fuse.source='simulated'", "fuse.text_encoder='hashed'",
              "purify.affinity='geometric'", f"fuse.simulated.preset={args.preset!r}",
              f"fuse.simulated.seed={args.seed}", *ingest]
    try:
        # 1. the reconstruction alone, from the frames
        frames_root = work / "frames_only"
        link_frames(scan, args.scene, frames_root)
        cfg = load_run_config(None, [f"store={str(work / 'recon.zarr')!r}", f"dataset.root={str(frames_root)!r}",
                                     *common], search_cwd=False)
        Store(cfg.store)
        rss_before = peak_rss_gib()
        started = time.perf_counter()
        outcome = run_scene(IngestStage(), StageContext(cfg.store, cfg), args.scene)
        ingest_s = time.perf_counter() - started
        if outcome.status != "done":
            raise SystemExit(f"ingest failed: {outcome.error}\n{outcome.detail}")
        rss_after = peak_rss_gib()
        store = Store(cfg.store, create=False)
        group = scene_group(args.scene, POINTS)
        rec = store.attrs(group)["reconstruction"]
        xyz, rgb = store.read(group, XYZ), store.read(group, RGB)
        faces = store.read(group, FACES) if FACES in store.group(group) else None

        # 2. ground truth carried from the mesh by nearest vertex; both paths scored
        mesh = read_ply(scan / f"{args.scene}_vh_clean_2.ply")
        labels = read_ply(scan / f"{args.scene}_vh_clean_2.labels.ply").label
        dist, nearest = cKDTree(mesh.xyz).query(xyz)
        carried_root = work / "reconstructed"
        folder = link_frames(scan, args.scene, carried_root)
        write_ply(folder / f"{args.scene}_vh_clean_2.ply", xyz, rgb, faces=faces)
        write_ply(folder / f"{args.scene}_vh_clean_2.labels.ply", xyz, label=labels[nearest])
        paths = {}
        for name, root in (("mesh (ScanNet's, 81,369 vertices)", args.root),
                           (f"frames only ({args.method} reconstruction)", str(carried_root))):
            store_path = str(work / f"{len(paths)}.zarr")
            run_cfg = load_run_config(None, [f"store={store_path!r}", f"dataset.root={root!r}", *common],
                                      search_cwd=False)
            seconds = run_stages(run_cfg, args.scene)
            n = int(Store(store_path, create=False).attrs(group)["num_points"])
            paths[name] = (n, seconds, scores(store_path, args.scene))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.scene}: {rec['frames_used']} depth frames -> {args.method} ({rec['library']}), "
          f"voxel {rec['voxel_size']} m" + (f", sdf_trunc {rec['sdf_trunc']} m" if "sdf_trunc" in rec else "")
          + f", depth_max {rec['depth_max']} m")
    print(f"reconstruction {rec['seconds']:.1f} s (ingest with normals {ingest_s:.1f} s); peak RSS "
          f"{rss_after:.2f} GiB (process before it: {rss_before:.2f} GiB)")
    print(f"kept {rec['vertices']:,} vertices, {rec['faces']:,} faces; distance to the nearest mesh vertex: "
          f"median {np.median(dist) * 100:.1f} cm, 95% {np.percentile(dist, 95) * 100:.1f} cm")
    print(f"{'path':<42} {'points':>8} {'lift-only 19':>13} {'lift-only 20':>13} {'geometric 19':>13} "
          f"{'geometric 20':>13} {'s':>6}")
    for name, (n, seconds, s) in paths.items():
        print(f"{name:<42} {n:>8,} {s[('fused', 'scannet19')]:>13.4f} {s[('fused', 'scannet20')]:>13.4f} "
              f"{s[('purified_geometric', 'scannet19')]:>13.4f} {s[('purified_geometric', 'scannet20')]:>13.4f} "
              f"{seconds:>6.0f}")
    print(f"(simulated source, preset {args.preset}, seed {args.seed}; ground truth of the reconstruction "
          "carried from the mesh by nearest vertex)")


if __name__ == "__main__":
    main()
