"""The fuse stage: 2D features of the frames lifted onto the points -> ``scenes/<id>/fused/``.

Per scene: read the scene's frames (poses, intrinsics, images) through the dataset reader and the
points from ``scenes/<id>/points/``; stream every ``frame_stride``-th frame through the 2D source in
batches; per frame, project the points, keep the visible ones (depth test, or frustum only) and hand
their feature-map positions to the fuser (``mean`` or ``consensus``); fill unseen points from their
nearest seen neighbour. Writes feat (N, D) float16 and seen (N,) uint16 (true view count).

``prepare`` writes the vocabulary's text embeddings ``text/<vocab>/`` once per run.

Optional source methods the stage uses when present: ``frame_images(frame) -> (color, depth) | None``
supplies the images of frames the source made itself (virtual views of scans without frames, added
to ``scene.frames`` in ``begin_scene``; None = read the files as usual); ``batch_features(frames,
colors, depths) -> list of maps`` encodes several frames at once; ``scene_identity(scene_id) ->
dict`` adds per-scene inputs (files) to the fingerprint; ``point_features(scene, xyz) -> (feat,
count)`` gives every point's feature directly (features fused elsewhere: no frame is read).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from geopurify.pipeline.config import check_values
from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import digest, files_fingerprint
from geopurify.pipeline.readers import dataset_root, read_scene, scene_source, source_files
from geopurify.pipeline.scene import Frame, Scene
from geopurify.pipeline.stage import SceneStage, StageContext, StageOutput
from geopurify.pipeline.vocabulary import FEAT, FUSED, POINTS, SEEN, TEXT, XYZ, scene_group

from .config import FuseConfig
from .fusion import fill_unseen, make_fusion, seen_counts
from .projection import feature_positions, frustum_points, to_camera, visible_points
from .sources import make_source
from .text import prepare_text, require_current_text

log = logging.getLogger(__name__)
MAX_WARNINGS = 20


def check_config(cfg: FuseConfig) -> None:
    """One-line ConfigError for a bad value (each checked by its declaration in config.py) or for
    settings that cannot work together, before any work is done."""
    check_values(cfg, "fuse.")
    if cfg.text_encoder_kind() == "openclip" and not cfg.openclip.checkpoint:
        needs = "fuse.source = 'openclip'" if cfg.source == "openclip" else "the openclip text encoder"
        raise ConfigError(f"{needs} needs open_clip weights: pass --checkpoint FILE (or set "
                          "fuse.openclip.checkpoint: a file, local-dir:<folder> or a pretrained tag), "
                          "or choose another 2D source with --source precomputed | simulated")


def read_color(frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8; raises OSError/ValueError when the file is missing or broken."""
    from PIL import Image

    with Image.open(frame.color_path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_depth(frame: Frame, depth_scale: float) -> np.ndarray:
    """(H', W') float32 metres (0 = no reading)."""
    from PIL import Image

    with Image.open(frame.depth_path) as im:
        raw = np.asarray(im)
    if raw.ndim != 2:
        raise ValueError(f"expected a single-channel depth image, found shape {raw.shape}")
    return raw.astype(np.float32) / np.float32(depth_scale)


class FuseStage(SceneStage):
    name = FUSED
    version = 1
    sections = ("fuse",)
    reads = (POINTS,)

    @staticmethod
    def source(ctx: StageContext, scene_id: str):
        """The dataset the scene's frames are read from: where the current config says the data
        is (``readers.scene_source``)."""
        return scene_source(ctx.store, scene_id, (ctx.cfg.dataset, ctx.cfg.train_dataset))

    # ---- run-level ----------------------------------------------------------------------
    def prepare(self, ctx: StageContext, scene_ids: list[str]) -> None:
        check_config(ctx.cfg.fuse)
        prepare_text(ctx.store, ctx.cfg.fuse)

    def input_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        cfg = ctx.cfg.fuse
        upstream = self.upstream_fingerprints(ctx, scene_id)
        dataset = self.source(ctx, scene_id)
        text, text_fp = require_current_text(ctx.store, cfg)
        source = make_source(cfg, text)
        ident = source.identity()
        if hasattr(source, "scene_identity"):
            ident = {**ident, "scene": source.scene_identity(scene_id)}
        return {
            **upstream,
            # the frames are read here again: a touched frame makes fuse stale even before re-ingest
            "frames": files_fingerprint(source_files(dataset, scene_id), dataset_root(dataset)),
            TEXT: text_fp,
            "source": digest(ident),
        }

    # ---- per scene ----------------------------------------------------------------------
    def compute(self, ctx: StageContext, scene_id: str) -> StageOutput:
        cfg = ctx.cfg.fuse
        check_config(cfg)
        text, text_fp = require_current_text(ctx.store, cfg)
        # ingest validated the frames; fuse decodes each image anyway and skips unreadable ones
        scene = read_scene(self.source(ctx, scene_id), scene_id, check_images=False)
        xyz = ctx.store.read(scene_group(scene_id, POINTS), XYZ).astype(np.float32)
        return fuse_scene(scene, xyz, cfg, text, text_fp)


def fuse_scene(scene: Scene, xyz: np.ndarray, cfg: FuseConfig, text, text_fp: str = "") -> StageOutput:
    """Fuse one scene's frames onto ``xyz`` (N, 3): the whole per-scene computation, store-free."""
    timings = {"read_s": 0.0, "features_s": 0.0, "geometry_s": 0.0, "fusion_s": 0.0}
    started = time.perf_counter()
    source = make_source(cfg, text)
    source.begin_scene(scene, text)  # may add virtual frames (simulated source, scans without frames)
    timings["begin_scene_s"] = time.perf_counter() - started
    if hasattr(source, "point_features"):  # per-point features, no frames (the openscene source)
        return _point_source_output(source, scene, xyz, cfg, text_fp, timings, started)
    frames = scene.frames[::cfg.frame_stride]
    if not frames:
        raise InputError(scene.root, "no usable frame (every pose invalid, or no frames; a scan without "
                                     "frames fuses with fuse.source = openscene or simulated)")
    if scene.color_intrinsic is None:
        raise InputError(scene.root, "no colour intrinsics")
    dim = int(text.embeddings.shape[1])
    custom_images = getattr(source, "frame_images", None)
    batch_call = getattr(source, "batch_features", None)

    fusion = make_fusion(cfg.mode, len(xyz), dim, text.embeddings, cfg.logit_scale, cfg.topk,
                         cfg.cache_dir or None)
    counts = {"unreadable": 0, "bad_pose": 0, "used": 0, "no_depth": 0}
    unreadable_limit = cfg.max_unreadable_frames * len(frames)
    first_bad: list[tuple[str, str]] = []
    warnings: list[str] = []

    def warn(message: str) -> None:
        log.warning("%s: %s", scene.scene_id, message)
        if len(warnings) < MAX_WARNINGS:
            warnings.append(message)

    def load(frame: Frame):
        """(color, depth or None), or None when the frame cannot be used."""
        if not np.all(np.isfinite(frame.pose)):
            counts["bad_pose"] += 1
            return None
        reading = frame.color_path
        try:
            if custom_images is not None:
                images = custom_images(frame)
                if images is not None:
                    return images
            reading = frame.color_path
            color = read_color(frame)
            depth = None
            if cfg.use_depth and frame.depth_path is not None:
                reading = frame.depth_path
                depth = read_depth(frame, scene.depth_scale)
            return color, depth
        except (OSError, ValueError) as exc:  # PIL raises these for missing or broken images
            counts["unreadable"] += 1
            if not first_bad:
                first_bad.append((str(reading), str(exc)))
            if counts["unreadable"] > unreadable_limit:
                path, why = first_bad[0]
                raise InputError(path, f"unreadable ({why}); {counts['unreadable']} of the scene's "
                                       f"{len(frames)} frames cannot be read, more than "
                                       f"fuse.max_unreadable_frames = {cfg.max_unreadable_frames}") from None
            warn(f"frame {frame.name}: unreadable image, skipped ({exc})")
            return None

    def fuse_batch(batch: list[tuple[Frame, np.ndarray, np.ndarray | None]]) -> None:
        t = time.perf_counter()
        if batch_call is not None:
            maps = batch_call([b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch])
        else:
            maps = [source.frame_features(f, c, d) for f, c, d in batch]
        timings["features_s"] += time.perf_counter() - t
        for (frame, color, depth), fmap in zip(batch, maps):
            if fmap.ndim != 3 or fmap.shape[2] != dim:
                raise InputError(frame.color_path, f"2D source gave a feature map of shape {fmap.shape}, "
                                                   f"expected (h, w, {dim})")
            t = time.perf_counter()
            cam = to_camera(xyz, frame.pose)
            if depth is not None:
                if scene.depth_intrinsic is None:
                    raise InputError(scene.root, "frames have depth but the scene has no depth intrinsics")
                idx = visible_points(cam, scene.depth_intrinsic, depth, cfg.border, cfg.depth_tolerance)
            else:
                counts["no_depth"] += 1
                idx = frustum_points(cam, scene.color_intrinsic, color.shape[:2], cfg.border)
            row, col = feature_positions(cam[idx], scene.color_intrinsic, color.shape[:2], fmap.shape[:2])
            t2 = time.perf_counter()
            timings["geometry_s"] += t2 - t
            fusion.add_view(idx, fmap, row, col)
            timings["fusion_s"] += time.perf_counter() - t2
            counts["used"] += 1

    try:
        batch: list = []
        for frame in frames:
            t = time.perf_counter()
            images = load(frame)
            timings["read_s"] += time.perf_counter() - t
            if images is None:
                continue
            batch.append((frame, images[0], images[1]))
            if len(batch) == cfg.batch_frames:
                fuse_batch(batch)
                batch = []
        if batch:
            fuse_batch(batch)
        if counts["used"] == 0:
            raise InputError(scene.root, f"none of the {len(frames)} frames could be used "
                                         f"({counts['unreadable']} unreadable, {counts['bad_pose']} bad poses)")
        t = time.perf_counter()
        feat, count = fusion.finish()
        timings["fusion_s"] += time.perf_counter() - t
    finally:
        fusion.close()

    seen = count > 0
    if not seen.any():
        raise InputError(scene.root, f"no point is visible in any of the {counts['used']} frames used "
                                     f"(do the points and poses share coordinates?)")
    t = time.perf_counter()
    filled = fill_unseen(feat, count, xyz) if cfg.fill_unseen else 0
    timings["fill_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    attrs = {
        "points": int(len(xyz)),
        "dim": dim,
        "frames_total": len(scene.frames),
        "frame_stride": cfg.frame_stride,
        "frames_used": counts["used"],
        "frames_without_depth": counts["no_depth"],
        "skipped_poses": int(scene.skipped_frames) + counts["bad_pose"],
        "unreadable_frames": counts["unreadable"],
        "seen_share": round(float(seen.mean()), 6),
        "views_per_seen_point_median": float(np.median(count[seen])),
        "filled_unseen": filled,
        "source_identity": source.identity(),
        "text_fingerprint": text_fp,
        "warnings": warnings,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    return StageOutput({FEAT: feat.astype(np.float16), SEEN: seen_counts(count)}, attrs)


def _point_source_output(source, scene: Scene, xyz: np.ndarray, cfg: FuseConfig, text_fp: str,
                         timings: dict, started: float) -> StageOutput:
    """``fuse_scene`` for a source with per-point features: fill the points without one, record."""
    t = time.perf_counter()
    feat, count = source.point_features(scene, xyz)
    timings["features_s"] = time.perf_counter() - t
    seen = count > 0
    if not seen.any():
        raise InputError(scene.root, "the 2D source gives no point of the scan a feature")
    t = time.perf_counter()
    filled = fill_unseen(feat, count, xyz) if cfg.fill_unseen else 0
    timings["fill_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    attrs = {"points": int(len(xyz)), "dim": int(feat.shape[1]), "frames_total": len(scene.frames),
             "frame_stride": cfg.frame_stride, "frames_used": 0, "frames_without_depth": 0,
             "skipped_poses": int(scene.skipped_frames), "unreadable_frames": 0,
             "seen_share": round(float(seen.mean()), 6),
             "views_per_seen_point_median": float(np.median(count[seen])), "filled_unseen": filled,
             "source_identity": source.identity(), "text_fingerprint": text_fp, "warnings": [],
             "timings": {k: round(v, 3) for k, v in timings.items()}}
    return StageOutput({FEAT: feat.astype(np.float16), SEEN: seen_counts(count)}, attrs)
