"""The simulated 2D source: ground-truth labels rendered into each view, degraded as a VLM errs.

A benchmark tool for machines without real 2D weights (design.md section 3.5), never the default.
Per view: the labelled points are rendered at ``render_factor`` x the coarse grid (depth-tested
against the frame's depth like the fuse stage's visibility, then splatted with a z-buffer, gaps taking
the nearest label; without depth, the z-buffer alone with wider discs); then, drawn afresh in every view, whole segments are swapped to confusable classes, unlabelled
segments get hallucinated classes, the labels are averaged into a coarse grid of text embeddings
(bilinear sampling of that grid by the fuse stage bleeds across boundaries) and noise is added.
View-consistent errors are drawn once per scene, per (class, world region of ``region_size``): the
points of a swapped region carry the wrong label in every view that sees them.

Every draw comes from generators seeded by (seed, scene id[, frame name]), never by call order, so
the same seed gives bit-identical features whatever frames are used and in what order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.geometry import median_spacing
from geopurify.pipeline.scene import Frame, Scene
from geopurify.stages.fuse import render
from geopurify.stages.fuse.sources.base import TextEmbeddings
from geopurify.stages.fuse.sources.simulated_config import SimulatedConfig, resolve_simulated
from geopurify.stages.labelsets import LABEL_SETS

# Pairs of NYU40 ids a 2D model confuses (symmetric): sofa/chair, table/desk, cabinet/counter,
# curtain/window, door/wall, bookshelf/cabinet, bed/sofa, picture/wall, picture/window, ...
CONFUSABLE_NYU40 = [
    (6, 5), (7, 14), (3, 12), (16, 9), (8, 1), (10, 3), (4, 6), (11, 1), (11, 9), (39, 3), (39, 7),
    (5, 39), (28, 16), (28, 36), (36, 33), (34, 12), (33, 34), (24, 3), (24, 8),
]

UNLABELLED = -1
"""Label of pixels and points outside the vocabulary (no point, annotated 0, or another class)."""
NO_POINT = -2
"""Pixels no depth-consistent point covers, before hole filling."""


class SimulatedSource:
    """Features of ground-truth labels degraded by per-view and view-consistent errors."""

    def __init__(self, cfg, text: TextEmbeddings):
        """``cfg`` is the FuseConfig (its ``simulated`` section) or a SimulatedConfig."""
        sim = getattr(cfg, "simulated", cfg)
        if not isinstance(sim, SimulatedConfig):
            raise TypeError("SimulatedSource needs a FuseConfig with a `simulated` section or a SimulatedConfig")
        self.cfg = resolve_simulated(sim)
        self.use_depth = bool(getattr(cfg, "use_depth", True))
        self.depth_tolerance = float(getattr(cfg, "depth_tolerance", 0.05))
        self.dim = int(text.embeddings.shape[1])
        self._set_text(text)
        self._scene: _SceneState | None = None

    def identity(self) -> dict:
        return {"kind": "simulated", "params": dataclasses.asdict(self.cfg), "vocab": self.text.vocab,
                "encoder": self.text.encoder}

    def _set_text(self, text: TextEmbeddings) -> None:
        if text.vocab in LABEL_SETS and LABEL_SETS[text.vocab].space != "nyu40":
            raise ConfigError(f"fuse.vocab {text.vocab!r}: the simulated source renders NYU40 ground truth, "
                              "so it needs a vocabulary of NYU40 ids (scannet20, matterport21)")
        self.text = text
        emb = np.asarray(text.embeddings, dtype=np.float64)
        self.num_classes = emb.shape[0]
        self.lut = np.full(256, UNLABELLED, dtype=np.int64)  # NYU40 id -> vocabulary row
        for row, nyu in enumerate(np.asarray(text.nyu40_ids)):
            if 0 <= int(nyu) < 256:
                self.lut[int(nyu)] = row
        self.partners = _partners(np.asarray(text.nyu40_ids), self.lut)
        # noise in units of the typical distance between two classes: same effect for any encoder
        d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)[np.triu_indices(self.num_classes, 1)]
        self.class_distance = float(np.median(d)) if d.size else 1.0
        # "none of the vocabulary": a fixed random direction, nearly orthogonal to every class
        bg = np.random.default_rng([self.cfg.seed, 0xB6]).standard_normal(self.dim)
        self.table = np.vstack([emb, bg / np.linalg.norm(bg)]).astype(np.float32)  # row C = background

    # ---- per scene ------------------------------------------------------------------------
    def begin_scene(self, scene: Scene, text: TextEmbeddings) -> None:
        """Draw the scene's view-consistent errors. A scan without frames (a point cloud) gets
        ``virtual_views`` rendered views here, in place (``scene.frames`` and its intrinsics), whose
        images ``frame_images`` supplies."""
        if scene.labels is None:
            raise InputError(scene.root, "the simulated 2D source renders ground-truth labels and this "
                                         "scene has none; use a labelled scene or a real 2D source")
        if not scene.frames:
            virtual = render.virtual_frames(scene, self.cfg.virtual_views, self.cfg.seed, self.cfg.virtual_width)
            scene.frames, scene.color_intrinsic = virtual.frames, virtual.color_intrinsic
            scene.depth_intrinsic, scene.depth_scale = virtual.depth_intrinsic, virtual.depth_scale
        if scene.color_intrinsic is None:
            raise InputError(scene.root, "no colour intrinsics: the simulated source cannot render the views")
        if text is not self.text:
            self._set_text(text)
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, render.stable_key(scene.scene_id), 0xC0])
        labels = self.lut[np.clip(np.asarray(scene.labels, dtype=np.int64), 0, 255)]
        xyz = np.asarray(scene.xyz, dtype=np.float64)

        # world regions on a grid with a random offset: errors decided once per (class, region)
        offset = rng.uniform(0, cfg.region_size, 3)
        cell = np.floor((xyz - xyz.min(axis=0) + offset) / cfg.region_size).astype(np.int64)
        region = np.unique(cell, axis=0, return_inverse=True)[1].reshape(-1)
        pair = region * (self.num_classes + 1) + (labels + 1)  # label -1 -> slot 0
        pairs, pair_of_point = np.unique(pair, return_inverse=True)
        pair_class = pairs % (self.num_classes + 1) - 1

        u_swap = rng.random(len(pairs))
        u_random = rng.random(len(pairs))
        u_pick = rng.random(len(pairs))
        new_class = pair_class.copy()
        for j, c in enumerate(pair_class):
            if c == UNLABELLED:
                if u_swap[j] < cfg.consistent_hallucination_prob:
                    new_class[j] = int(u_pick[j] * self.num_classes)
            elif u_swap[j] < cfg.consistent_swap_prob:
                new_class[j] = self._swap_target(int(c), u_random[j], u_pick[j])
        seen_labels = new_class[pair_of_point.reshape(-1)]
        spacing = median_spacing(xyz)
        self._scene = _SceneState(
            scene.scene_id, xyz, seen_labels, np.asarray(scene.color_intrinsic),
            None if scene.depth_intrinsic is None else np.asarray(scene.depth_intrinsic),
            # with a depth test hidden points are already gone: small discs, holes filled after
            depth_radius=cfg.splat_radius or max(0.01, spacing),
            zbuffer_radius=cfg.splat_radius or max(0.01, 2.0 * spacing))

    def _swap_target(self, c: int, u_random: float, u_pick: float) -> int:
        """A confusable class of ``c`` or, for the random share, any other class; ``c`` itself when
        it has no confusable partner and the draw is not random."""
        if u_random < self.cfg.random_swap_share and self.num_classes > 1:
            other = int(u_pick * (self.num_classes - 1))
            return other + (other >= c)
        if len(self.partners[c]):
            return int(self.partners[c][int(u_pick * len(self.partners[c]))])
        return c

    # ---- per frame -----------------------------------------------------------------------
    def frame_images(self, frame: Frame) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(colour, depth in metres or None) of a virtual view, from memory; None for a real frame
        (the fuse stage then reads its files)."""
        if isinstance(frame, render.VirtualFrame):
            return frame.color, (frame.depth if self.use_depth else None)
        return None

    def frame_features(self, frame: Frame, color: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        if self._scene is None:
            raise RuntimeError("begin_scene must be called before frame_features")
        st, cfg = self._scene, self.cfg
        H, W = color.shape[:2]
        gw = cfg.grid_width
        gh = max(1, int(round(gw * H / W)))
        rw, rh = gw * cfg.render_factor, gh * cfg.render_factor
        K = render.scale_intrinsic(st.color_intrinsic, (W, H), (rw, rh))
        pose = np.asarray(frame.pose)
        if depth is not None and st.depth_intrinsic is not None:
            # depth-tested projection: only points on the surface the sensor sees, gaps filled
            keep = render.depth_consistent(st.xyz, pose, depth, st.depth_intrinsic, self.depth_tolerance)
            image = render.render_values(st.xyz[keep], st.seen_labels[keep], pose, K, (rw, rh),
                                         st.depth_radius, fill=NO_POINT)
            image = render.fill_holes(image, NO_POINT)
            image[image == NO_POINT] = UNLABELLED  # nothing visible at all
        else:  # no depth: the z-buffer alone decides, with discs wide enough to hide what is behind
            image = render.render_values(st.xyz, st.seen_labels, pose, K, (rw, rh), st.zbuffer_radius,
                                         fill=UNLABELLED)

        rng = np.random.default_rng([cfg.seed, render.stable_key(st.scene_id), render.stable_key(frame.name)])
        image = self._degrade_segments(image, rng)
        return self._grid_features(image, gh, gw, rng)

    def _degrade_segments(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per-view errors on whole segments: swaps of labelled ones, hallucinations on unlabelled."""
        from scipy import ndimage

        cfg = self.cfg
        out = image.copy()
        for c in np.unique(image):
            segments, n = ndimage.label(image == c)
            if n == 0:
                continue
            u_event, u_random, u_pick = rng.random(n), rng.random(n), rng.random(n)
            target = np.full(n + 1, int(c))  # class per segment id (0 = outside)
            for s in range(n):
                if c == UNLABELLED:
                    if u_event[s] < cfg.hallucination_prob:
                        target[s + 1] = int(u_pick[s] * self.num_classes)
                elif u_event[s] < cfg.view_swap_prob:
                    target[s + 1] = self._swap_target(int(c), u_random[s], u_pick[s])
            mask = segments > 0
            out[mask] = target[segments[mask]]
        return out

    def _grid_features(self, image: np.ndarray, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        """Average the per-pixel class embeddings into the coarse grid, then add feature noise."""
        f = self.cfg.render_factor
        C1 = self.num_classes + 1
        slot = np.where(image == UNLABELLED, self.num_classes, image)  # background row = C
        cell = (np.arange(gh * f)[:, None] // f) * gw + (np.arange(gw * f)[None, :] // f)
        hist = np.bincount((cell * C1 + slot).ravel(), minlength=gh * gw * C1).reshape(gh * gw, C1)
        feat = (hist.astype(np.float32) / np.float32(f * f)) @ self.table
        if self.cfg.noise_std > 0:
            noise = rng.standard_normal(feat.shape, dtype=np.float32)
            feat += noise * np.float32(self.cfg.noise_std * self.class_distance)
        return feat.reshape(gh, gw, self.dim)


@dataclasses.dataclass
class _SceneState:
    scene_id: str
    xyz: np.ndarray
    seen_labels: np.ndarray
    """(N,) vocabulary row each point shows in every view after the view-consistent errors."""
    color_intrinsic: np.ndarray
    depth_intrinsic: np.ndarray | None
    depth_radius: float
    """World radius (m) of the point discs when the points are depth-tested first."""
    zbuffer_radius: float
    """World radius (m) of the point discs when only the z-buffer decides (frames without depth)."""


def _partners(nyu40_ids: np.ndarray, lut: np.ndarray) -> list[np.ndarray]:
    """Vocabulary rows each row is confusable with (pairs whose both classes are in the vocabulary)."""
    out: list[set[int]] = [set() for _ in range(len(nyu40_ids))]
    for a, b in CONFUSABLE_NYU40:
        ra, rb = lut[a], lut[b]
        if ra >= 0 and rb >= 0:
            out[ra].add(int(rb))
            out[rb].add(int(ra))
    return [np.array(sorted(s), dtype=np.int64) for s in out]
