"""Purify: lifted features + an affinity source -> ``scenes/<id>/purified/`` (design.md section 6).

Voxelise the points, average the lifted features per voxel, embed the voxels with the affinity
source, build the k-nearest-voxel graph with softmax weights, pool ``steps`` times and give every
point its voxel's result:

- ``label`` (N,) int16: NYU40 id of the best class of the vocabulary the fuse stage used;
- ``score`` (N,) float16: that class's cosine with the pooled feature when features are kept (full
  path); otherwise the fast path's in-vocabulary cosine, its cosine with the pooled feature's
  projection on the span of the text embeddings (at least the exact value; see pooling.py);
- ``feat`` (N, D) float16, only with ``keep_features``: the pooled feature, L2-normalised.

Labels come from the fast path (C pooled logits) unless features are kept; both give the same labels.
"""

from __future__ import annotations

import time

import numpy as np

from geopurify.pipeline.config import check_values
from geopurify.pipeline.errors import ConfigError, InputError, StoreError
from geopurify.pipeline.geometry import voxel_mean, voxelize
from geopurify.pipeline.points import stored_rgb
from geopurify.pipeline.stage import SceneStage, StageContext, StageOutput
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, FEAT, FUSED, LABEL, NORMAL, POINTS, PURIFIED, RGB, SCORE, STUDENT, TEXT, XYZ,
    purified_group, scene_group,
)
from geopurify.stages.fuse.text import fused_vocab, read_text

from .affinity import make_affinity
from .config import AFFINITIES, PurifyConfig
from .graph import build_graph
from .pooling import pool_fast, pool_full
from .points import ScenePoints


WITHOUT_COLOR = {"geometric": "colour term left out", AFFINITY_STUDENT: "zeros fed to the student for colour",
                 "oracle": "colour not used"}
"""What each affinity does for a scan without colour (recorded in the group)."""


def check_config(cfg: PurifyConfig) -> None:
    """One-line ConfigError for a bad value (each checked by its declaration in config.py)."""
    check_values(cfg, "purify.")


def read_scene_points(store: Store, scene_id: str, with_label: bool) -> ScenePoints:
    pts = scene_group(scene_id, POINTS)
    fused_path = scene_group(scene_id, FUSED)
    fused = store.read(fused_path, FEAT).astype(np.float32)
    xyz = store.read(pts, XYZ)
    if fused.shape[0] != xyz.shape[0]:
        raise InputError(f"{store.path}/{fused_path}/feat",
                         f"{fused.shape[0]} rows for {xyz.shape[0]} points; rerun fuse")
    label = None
    if with_label:
        group = store.group(pts)
        if group is None or LABEL not in group:
            raise StoreError(f"{store.path}/{pts}: no ground-truth labels; the oracle affinity needs them")
        label = store.read(pts, LABEL)
    return ScenePoints(xyz=xyz, rgb=stored_rgb(store, scene_id), normal=store.read(pts, NORMAL),
                       fused=fused, label=label)


class PurifyStage(SceneStage):
    """One affinity's purification; it writes that affinity's own group (``purified_group``)."""

    name = PURIFIED
    """The student's group; each instance writes its own affinity's (``purified_group``)."""
    version = 1
    sections = ("purify",)
    suspects = ("purify.temperature", "purify.geo_position_scale", "purify.geo_normal_scale",
                "purify.geo_color_scale", "purify.student_position_scale", "the student's weights",
                "the fused features")
    reads = (POINTS, FUSED)

    @classmethod
    def from_config(cls, cfg) -> "PurifyStage":
        return cls(cfg.purify.affinity if cfg is not None else AFFINITY_STUDENT)

    def __init__(self, affinity: str = AFFINITY_STUDENT):
        if affinity not in AFFINITIES:
            raise ConfigError(f"purify.affinity {affinity!r}: expected one of {', '.join(AFFINITIES)}")
        self.affinity = affinity
        self.name = purified_group(affinity)

    def input_fingerprints(self, ctx: StageContext, scene_id: str) -> dict[str, str]:
        cfg: PurifyConfig = ctx.cfg.purify
        check_config(cfg)
        if cfg.affinity != self.affinity:
            raise ConfigError(f"purify.affinity {cfg.affinity!r}: this stage writes {self.name}")
        store = ctx.store
        out = self.upstream_fingerprints(ctx, scene_id)
        vocab = fused_vocab(store, scene_id, ctx.cfg.fuse.vocab)
        out[TEXT] = f"{vocab}:{read_text(store, vocab)[1]}"
        if cfg.affinity == AFFINITY_STUDENT:
            from .student import student_fingerprint

            out[STUDENT] = student_fingerprint(cfg, store)
        return out

    def compute(self, ctx: StageContext, scene_id: str) -> StageOutput:
        cfg: PurifyConfig = ctx.cfg.purify
        store = ctx.store
        times = {}
        t0 = time.perf_counter()
        text, _ = read_text(store, fused_vocab(store, scene_id, ctx.cfg.fuse.vocab))
        points = read_scene_points(store, scene_id, with_label=cfg.affinity == "oracle")
        if points.fused.shape[1] != text.embeddings.shape[1]:
            raise StoreError(f"{scene_id}: fused features have {points.fused.shape[1]} channels, the "
                             f"text embeddings {text.embeddings.shape[1]}; rerun fuse")
        affinity = make_affinity(cfg, store)
        times["read_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        coords, point_to_voxel = voxelize(points.xyz, cfg.voxel_size)
        feats = voxel_mean(points.fused, point_to_voxel, len(coords))
        z = affinity.embed(points, coords, point_to_voxel)
        times["embed_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        graph = build_graph(coords, z, cfg.k, cfg.temperature)
        times["graph_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        if cfg.keep_features:
            result = pool_full(graph, feats, text.embeddings, cfg.steps)
        else:
            result = pool_fast(graph, feats, text.embeddings, cfg.steps, cfg.score_rank)
        times["pool_s"] = time.perf_counter() - t0

        arrays = {
            LABEL: text.nyu40_ids.astype(np.int16)[result.labels][point_to_voxel],
            SCORE: result.score.astype(np.float16)[point_to_voxel],
        }
        if result.features is not None:
            arrays[FEAT] = result.features.astype(np.float16)[point_to_voxel]
        attrs = {
            "affinity": affinity.kind,
            "path": "full" if cfg.keep_features else "fast",
            SCORE: "cosine" if cfg.keep_features else (
                "in-vocabulary cosine" + (f" + {cfg.score_rank} residual directions" if cfg.score_rank else "")),
            "vocab": text.vocab,
            "voxels": int(len(coords)),
            "neighbours": int(graph.neighbours.shape[1]),
            "timings": {k: round(v, 3) for k, v in times.items()},
            "has_color": points.rgb is not None,
        }
        if points.rgb is None:
            attrs["without_color"] = WITHOUT_COLOR[affinity.kind]
        return StageOutput(arrays, attrs)
