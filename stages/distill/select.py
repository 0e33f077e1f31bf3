"""Label-free choice of training scenes: diversity of lift-only predictions and of geometry.

The paper picked its 20 scenes from ground-truth label histograms; this never reads labels.
Each scene becomes a descriptor:
- predictions: the share of points whose lift-only label (argmax cosine of the fused feature against
  the vocabulary's text embeddings) is each class, as square roots (Euclidean distance between two
  such vectors is the Hellinger distance times sqrt 2: at most sqrt 2);
- geometry (from xyz and normals only): footprint area (occupied 10 cm floor cells), footprint
  elongation, height, share of horizontal and of vertical surfaces, share of horizontal surfaces at
  furniture height (0.3-1.2 m above the floor). Each is standardised over the candidates and scaled by
  ``geometry_weight / sqrt(#features)`` so the whole geometry part weighs about as much as the
  predictions at ``geometry_weight = 1``.
Choice: farthest-first (greedy k-centre) in that space, starting from the scene whose predictions
are the most varied (highest entropy); ties go to the first scene in sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.rows import unit_rows
from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FEAT, FUSED, NORMAL, POINTS, XYZ, scene_group

GEOMETRY_FEATURES = ("area_m2", "elongation", "height_m", "horizontal", "vertical", "furniture_tops")


@dataclass
class SceneSummary:
    scene: str
    prediction_share: np.ndarray
    """(C,) share of points predicted as each class (lift-only)."""
    geometry: dict[str, float]


def lift_only_shares(fused: np.ndarray, text: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Share of points whose fused feature is most cosine-similar to each text embedding."""
    text = unit_rows(text)
    counts = np.zeros(len(text), np.int64)
    n = fused.shape[0]
    for start in range(0, n, chunk):
        pred = np.argmax(np.asarray(fused[start:start + chunk], np.float32) @ text.T, axis=1)
        counts += np.bincount(pred, minlength=len(text))
    return counts / max(1, n)


def geometry_summary(xyz: np.ndarray, normal: np.ndarray) -> dict[str, float]:
    xyz = np.asarray(xyz, np.float64)
    floor, ceiling = np.percentile(xyz[:, 2], [2, 98])
    xy = xyz[:, :2] - xyz[:, :2].mean(axis=0)
    # extents along the footprint's principal axes (robust to a scan's rotation about z)
    _, _, axes = np.linalg.svd(xy[:: max(1, len(xy) // 20000)], full_matrices=False)
    along = xy @ axes.T
    lo, hi = np.percentile(along, [2, 98], axis=0)
    extent = np.sort(hi - lo)[::-1]
    cells = np.unique(np.floor(xyz[:, :2] / 0.1).astype(np.int64), axis=0)
    nz = np.abs(np.asarray(normal, np.float64)[:, 2])
    horizontal = nz > 0.9
    above = xyz[:, 2] - floor
    return {
        "area_m2": float(len(cells) * 0.01),
        "elongation": float(extent[0] / max(extent[1], 1e-6)),
        "height_m": float(ceiling - floor),
        "horizontal": float(horizontal.mean()),
        "vertical": float((nz < 0.3).mean()),
        "furniture_tops": float((horizontal & (above > 0.3) & (above < 1.2)).mean()),
    }


def summarise(store: Store, scene: str, text: np.ndarray) -> SceneSummary:
    """Predictions and geometry of one scene (reads points xyz/normal and fused feat, never label)."""
    fused_path = scene_group(scene, FUSED)
    store.require_done(fused_path, f"fused features of {scene!r} (run fuse)")
    pts = scene_group(scene, POINTS)
    store.require_done(pts, f"points of {scene!r} (run ingest)")
    shares = lift_only_shares(store.array(fused_path, FEAT), text)
    return SceneSummary(scene, shares, geometry_summary(store.read(pts, XYZ), store.read(pts, NORMAL)))


def descriptors(summaries: list[SceneSummary], geometry_weight: float) -> np.ndarray:
    pred = np.sqrt(np.stack([s.prediction_share for s in summaries]))
    geo = np.array([[s.geometry[f] for f in GEOMETRY_FEATURES] for s in summaries], np.float64)
    spread = geo.std(axis=0)
    geo = (geo - geo.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return np.hstack([pred, geo * geometry_weight / np.sqrt(len(GEOMETRY_FEATURES))])


def farthest_first(desc: np.ndarray, k: int, first: int) -> tuple[list[int], list[float]]:
    """Greedy k-centre: indices chosen and each one's distance to the scenes chosen before it."""
    chosen, gaps = [first], [float("inf")]
    nearest = np.linalg.norm(desc - desc[first], axis=1)
    for _ in range(1, k):
        pick = int(np.argmax(np.where(np.isin(np.arange(len(desc)), chosen), -1.0, nearest)))
        chosen.append(pick)
        gaps.append(float(nearest[pick]))
        nearest = np.minimum(nearest, np.linalg.norm(desc - desc[pick], axis=1))
    return chosen, gaps


def _reason(s: SceneSummary, chosen_before: list[SceneSummary], gap: float, names: list[str]) -> str:
    top = [i for i in np.argsort(-s.prediction_share, kind="stable")[:3] if s.prediction_share[i] >= 0.01]
    parts = []
    if not chosen_before:
        entropy = -(s.prediction_share[s.prediction_share > 0] * np.log(s.prediction_share[s.prediction_share > 0])).sum()
        parts.append(f"most varied predictions (entropy {entropy:.2f}, "
                     f"{int((s.prediction_share >= 0.01).sum())} classes >= 1%)")
    else:
        before = np.mean([c.prediction_share for c in chosen_before], axis=0)
        new = [i for i in np.argsort(-s.prediction_share, kind="stable")
               if s.prediction_share[i] >= 0.05 and before[i] < 0.02][:3]
        parts.append(f"farthest from the chosen (distance {gap:.2f})")
        if new:
            parts.append("adds " + ", ".join(f"{names[i]} {s.prediction_share[i]:.0%}" for i in new))
    parts.append("predicted mostly " + ", ".join(f"{names[i]} {s.prediction_share[i]:.0%}" for i in top))
    g = s.geometry
    parts.append(f"{g['area_m2']:.0f} m2 footprint, {g['height_m']:.1f} m high, "
                 f"{g['furniture_tops']:.0%} furniture-height tops")
    return "; ".join(parts)


def choose_training_scenes(store_path: str, scene_ids: list[str], k: int, *, vocab: str | None = None,
                  geometry_weight: float = 1.0) -> list[tuple[str, str]]:
    """Choose ``k`` of ``scene_ids`` (names, globs or @file) for training, without labels.
    Returns (scene, reason) in the order chosen."""
    from geopurify.stages.fuse.text import fused_vocab, read_text

    store = Store(store_path, create=False)
    scenes = match_scenes(list(scene_ids), store.scene_ids(), where=f"{store_path}/scenes")
    if not 1 <= k <= len(scenes):
        raise StoreError(f"select: k = {k} but {len(scenes)} candidate scene(s)")
    text, _ = read_text(store, vocab or fused_vocab(store, scenes[0]))
    summaries = [summarise(store, s, text.embeddings) for s in scenes]
    desc = descriptors(summaries, geometry_weight)
    shares = np.stack([s.prediction_share for s in summaries])
    entropy = -np.sum(np.where(shares > 0, shares * np.log(np.where(shares > 0, shares, 1)), 0), axis=1)
    chosen, gaps = farthest_first(desc, k, int(np.argmax(entropy)))
    rows = [(summaries[i].scene, _reason(summaries[i], [summaries[j] for j in chosen[:n]], gaps[n], text.names))
            for n, i in enumerate(chosen)]
    return rows
