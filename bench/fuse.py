"""Fuse-stage speed and memory on a real scan (default: ScanNet scene0000_00, 81,369 points, 300 frames).

Measures
  1. the geometric part: projection, depth-test visibility, feature-map positions, bilinear sampling
     and fusion (mean and consensus) over every frame, with a fixed stand-in feature map of the
     openclip default grid (20 x 15 x 512 for 648x484 colour at image_size 320); depth images are
     decoded beforehand and timed separately;
  2. the dense ViT-B/16 encoder (random init, default image_size), seconds per frame;
  3. their ratio and the process's peak resident memory.
Targets: geometric part < 10 s and < 5% of the encoder time over the same frames; peak < 3 GiB.

Run (heavy; takes a few minutes):
    python bench/fuse.py [--scene-dir DIR] [--encoder-frames 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

DEFAULT_SCENE = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) \
    / "scannet" / "scans" / "scene0000_00"


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def geometric_part(scene, depths, fmap, cfg, text, mode: str) -> dict:
    from geopurify.stages.fuse.fusion import fill_unseen, make_fusion
    from geopurify.stages.fuse.projection import feature_positions, to_camera, visible_points

    xyz = scene.xyz.astype(np.float32)
    color_size = (484, 648)
    t = {"project_visibility_s": 0.0, "sample_fuse_s": 0.0}
    started = time.perf_counter()
    fusion = make_fusion(mode, len(xyz), fmap.shape[2], text, cfg.logit_scale, cfg.topk)
    pairs = 0
    try:
        for frame, depth in zip(scene.frames, depths):
            t0 = time.perf_counter()
            cam = to_camera(xyz, frame.pose)
            idx = visible_points(cam, scene.depth_intrinsic, depth.astype(np.float32) / np.float32(scene.depth_scale),
                                 cfg.border, cfg.depth_tolerance)
            row, col = feature_positions(cam[idx], scene.color_intrinsic, color_size, fmap.shape[:2])
            t1 = time.perf_counter()
            fusion.add_view(idx, fmap, row, col)
            t["project_visibility_s"] += t1 - t0
            t["sample_fuse_s"] += time.perf_counter() - t1
            pairs += idx.size
        t0 = time.perf_counter()
        feat, count = fusion.finish()
        t["finish_s"] = time.perf_counter() - t0
    finally:
        fusion.close()
    t0 = time.perf_counter()
    filled = fill_unseen(feat, count, xyz)
    t["fill_s"] = time.perf_counter() - t0
    t["total_s"] = time.perf_counter() - started
    t.update(pairs=pairs, seen_share=float((count > 0).mean()), median_views=float(np.median(count[count > 0])),
             filled=filled)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene-dir", type=Path, default=DEFAULT_SCENE)
    ap.add_argument("--encoder-frames", type=int, default=8, help="frames timed through the encoder (0: geometric part only)")
    ap.add_argument("--batch", type=int, default=1, help="frames per encoder forward pass")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from PIL import Image

    from geopurify.pipeline.readers import DatasetConfig, read_scene
    from geopurify.stages.fuse.config import FuseConfig, OpenClipConfig
    from geopurify.stages.fuse.sources.openclip import OpenClipSource, input_size
    from geopurify.stages.fuse.stage import read_color
    from geopurify.stages.labelsets import vocabulary

    t0 = time.perf_counter()
    scene = read_scene(DatasetConfig(kind="scannet", root=str(args.scene_dir.parent)), args.scene_dir.name)
    read_scene_s = time.perf_counter() - t0
    print(f"scene {scene.scene_id}: {scene.num_points} points, {len(scene.frames)} frames "
          f"(read in {read_scene_s:.1f} s)")

    t0 = time.perf_counter()
    depths = [np.asarray(Image.open(f.depth_path)) for f in scene.frames]
    depth_read_s = time.perf_counter() - t0
    print(f"depth images decoded: {depth_read_s:.2f} s ({1000 * depth_read_s / len(depths):.1f} ms/frame)")

    cfg = FuseConfig(source="openclip", openclip=OpenClipConfig(model="ViT-B-16", checkpoint="random"))
    grid = tuple(s // 16 for s in input_size((484, 648), cfg.openclip.image_size, 16))
    _, names = vocabulary(cfg.vocab)
    text = _text(names, 512)
    rng = np.random.default_rng(0)
    fmap = rng.standard_normal((*grid, 512)).astype(np.float32)
    fmap /= np.linalg.norm(fmap, axis=-1, keepdims=True)
    geo = {}
    for mode in ("mean", "consensus"):
        geo[mode] = geometric_part(scene, depths, fmap, cfg, text.embeddings, mode)
        g = geo[mode]
        print(f"geometric part, {mode:9s}: {g['total_s']:.2f} s  (project+visibility {g['project_visibility_s']:.2f}, "
              f"sample+fuse {g['sample_fuse_s']:.2f}, finish {g.get('finish_s', 0):.2f}, fill {g['fill_s']:.2f}); "
              f"{g['pairs']} visible pairs, seen share {g['seen_share']:.3f}, median views {g['median_views']:.0f}")
    print(f"peak memory after the geometric part: {peak_gib():.2f} GiB")
    del depths

    if args.encoder_frames < 1:
        return
    source = OpenClipSource(cfg, text)
    t0 = time.perf_counter()
    source.begin_scene(scene, text)
    load_s = time.perf_counter() - t0
    frames = scene.frames[:: max(1, len(scene.frames) // args.encoder_frames)][: args.encoder_frames]
    colors = [read_color(f) for f in frames]
    source.batch_features(frames[:1], colors[:1], [None])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(frames), args.batch):
        maps = source.batch_features(frames[i:i + args.batch], colors[i:i + args.batch], [None] * args.batch)
    enc_per_frame = (time.perf_counter() - t0) / len(frames)
    print(f"ViT-B-16 dense encoder (random init, input {input_size((484, 648), cfg.openclip.image_size, 16)}, "
          f"map {maps[0].shape}, batch {args.batch}): model load {load_s:.1f} s, {enc_per_frame:.3f} s/frame")

    encoder_total = enc_per_frame * len(scene.frames)
    for mode, g in geo.items():
        print(f"ratio geometric/encoder over {len(scene.frames)} frames, {mode:9s}: "
              f"{g['total_s']:.2f} / {encoder_total:.1f} s = {100 * g['total_s'] / encoder_total:.2f}%")
    print(f"peak memory (whole run): {peak_gib():.2f} GiB")


def _text(names, dim):
    from geopurify.stages.fuse.sources.base import TextEmbeddings
    from geopurify.stages.fuse.text import hashed_embeddings

    return TextEmbeddings("scannet20", np.zeros(len(names), np.int16), names, hashed_embeddings(names, dim), {})


if __name__ == "__main__":
    main()
