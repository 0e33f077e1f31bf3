"""Open-vocabulary queries: any text prompt scored against a scene's purified (or fused) features.

    query_scene(store, "scene0000_00", ["a bicycle", "a lamp"], Path("scores.ply"))

Per point and prompt: the cosine of the point's feature to the prompt's text embedding, written as a
PLY property ``score_<i>`` (float32), with colours from a heat map of the best prompt's score
(``inferno``, stretched between the 1st and 99th percentile); a scan with faces is written as a mesh. Prompts are embedded by the text
encoder that made the store's ``text/<vocab>/`` embeddings, re-created from the fuse stage's recorded
config; a different encoder (another model, other weights, other templates, another width) is
refused, and so is one that does not reproduce the stored class embeddings. A prompt equal to a class
name therefore gets exactly that class's embedding, so its argmax agrees with ``purified/label``
(up to the float16 storage of the features, see the test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.rows import unit_rows
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    FEAT, FUSED, LABEL, POINTS, PURIFIED, XYZ, scene_group, text_group,
)
from geopurify.stages.fuse.text import fused_vocab

REGION_VOXEL = 0.05
"""Grid (m) on which points above the threshold are joined into regions (26-connected cells)."""
TOP_REGIONS = 3
CHUNK = 65536


def stored_fuse_config(store: Store, scene_id: str):
    """The fuse config the scene's fused group was made with."""
    from geopurify.pipeline.config import from_dict
    from geopurify.stages.fuse.config import FuseConfig

    attrs = store.require_done(scene_group(scene_id, FUSED), f"{scene_id} fuse")
    recorded = attrs.get("config", {}).get("fuse")
    if recorded is None:
        raise StoreError(f"{store.path}/scenes/{scene_id}/fused: no recorded fuse config to re-create "
                         "the text encoder from")
    return from_dict(FuseConfig, recorded, "fuse.")


def prompt_encoder(fuse_cfg, stored_identity: dict) -> Callable[[list[str]], np.ndarray]:
    """A function embedding texts exactly like the stored vocabulary; refuses another encoder."""
    from geopurify.stages.fuse.text import hashed_embeddings, resolve_text_encoder, text_identity

    identity = text_identity(fuse_cfg)
    if identity != stored_identity:
        raise StoreError(f"text encoder mismatch: the store's embeddings were made by {stored_identity}, "
                         f"the query would use {identity}; query with the fuse config that made the store")
    if resolve_text_encoder(fuse_cfg) == "hashed":
        return lambda texts: hashed_embeddings(list(texts), fuse_cfg.hashed_dim)
    from geopurify.stages.fuse.sources.openclip import encode_texts

    return lambda texts: encode_texts(fuse_cfg.openclip, list(texts))


def feature_group(store: Store, scene_id: str, of: str) -> str:
    if of != FUSED and not of.startswith(PURIFIED):
        raise ConfigError(f"--of {of!r}: expected purified (or purified_<affinity>) or fused")
    path = scene_group(scene_id, of)
    store.require_done(path, f"{scene_id} {of}")
    if FEAT not in store.group(path):
        raise StoreError(f"{store.path}/{path}: written without features; rerun purify with "
                         "--keep-features, or query --of fused")
    return path


def point_scores(feat, prompts_unit: np.ndarray) -> np.ndarray:
    """(N, P) float32 cosines, read in chunks (features are float16 on disk)."""
    n = feat.shape[0]
    out = np.empty((n, prompts_unit.shape[0]), dtype=np.float32)
    for start in range(0, n, CHUNK):
        f = np.asarray(feat[start:start + CHUNK], dtype=np.float32)
        f = unit_rows(f)
        out[start:start + CHUNK] = f @ prompts_unit.T
    return out


def heat_colours(values: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    lo, hi = np.percentile(values, [1, 99]) if len(values) else (0.0, 1.0)
    t = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
    return (colormaps["inferno"](t)[:, :3] * 255).round().astype(np.uint8)


def regions(xyz: np.ndarray, mask: np.ndarray, cell: float = REGION_VOXEL) -> np.ndarray:
    """Connected regions of the masked points on a ``cell`` grid (26-neighbourhood): a region id per
    masked point (0 = largest), -1 elsewhere."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from geopurify.pipeline.geometry import voxelize

    out = np.full(len(xyz), -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out
    coords, p2v = voxelize(xyz[idx], cell)
    dims = coords.max(axis=0).astype(np.int64) + 3
    key = lambda c: ((c[:, 0] + 1) * dims[1] + c[:, 1] + 1) * dims[2] + c[:, 2] + 1  # noqa: E731
    keys = key(coords.astype(np.int64))
    order = np.argsort(keys)
    rows, cols = [], []
    for off in np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                         if (a, b, c) > (0, 0, 0)]):
        target = key(coords.astype(np.int64) + off)
        pos = np.clip(np.searchsorted(keys, target, sorter=order), 0, len(keys) - 1)
        hit = keys[order[pos]] == target
        rows.append(np.flatnonzero(hit))
        cols.append(order[pos[hit]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(len(coords),) * 2)
    _, comp = connected_components(graph, directed=False)
    point_comp = comp[p2v]
    sizes = np.bincount(point_comp)
    rank = np.empty_like(sizes)
    rank[np.lexsort((np.arange(len(sizes)), -sizes))] = np.arange(len(sizes))  # largest first
    out[idx] = rank[point_comp]
    return out


def query_scene(store_path: str | Path, scene_id: str, prompts: list[str], out: str | Path,
                of: str = PURIFIED, threshold: float = 0.5, fuse_cfg=None) -> dict:
    """Score every point of ``scene_id`` against each prompt, write ``out`` (PLY), return a summary.
    ``fuse_cfg``: the text encoder's config; default = the one recorded with the scene's fused group."""
    from geopurify.pipeline.ply import write_ply
    from geopurify.pipeline.points import stored_faces
    from geopurify.stages.fuse.text import read_text
    from geopurify.stages.labelsets import VOCABULARIES


    prompts = [p.strip() for p in prompts]
    if not prompts or any(not p for p in prompts):
        raise ConfigError("query: give at least one non-empty prompt")
    store = Store(store_path, create=False)
    group = feature_group(store, scene_id, of)
    text, _ = read_text(store, fused_vocab(store, scene_id, "scannet20"))
    encode = prompt_encoder(fuse_cfg if fuse_cfg is not None else stored_fuse_config(store, scene_id),
                            text.encoder)
    # the re-created encoder must reproduce the stored vocabulary (catches changed weights files)
    again = encode(text.names)
    if again.shape != text.embeddings.shape or np.abs(again - text.embeddings).max() > 1e-4:
        raise StoreError(f"{store.path}/{text_group(text.vocab)}: the re-created text encoder does not "
                         "reproduce the stored embeddings (its weights changed?); rerun fuse")
    emb = encode(prompts).astype(np.float64)
    emb = unit_rows(emb)

    xyz = store.read(scene_group(scene_id, POINTS), XYZ)
    feat = store.array(group, FEAT)
    if feat.shape[0] != len(xyz):
        raise StoreError(f"{store.path}/{group}/feat: {feat.shape[0]} rows for {len(xyz)} points")
    scores = point_scores(feat, emb.astype(np.float32))
    best = scores.max(axis=1)
    labels = None
    if of.startswith(PURIFIED) and LABEL in store.group(group):
        labels = store.read(group, LABEL)
    names = dict(zip(*VOCABULARIES.get(text.vocab, ([], []))))
    names.update({int(i): n for i, n in zip(text.nyu40_ids, text.names)})

    summary = {"scene": scene_id, "of": of, "out": str(out), "points": int(len(xyz)),
               "threshold": float(threshold), "encoder": text.encoder, "prompts": []}
    for i, prompt in enumerate(prompts):
        s = scores[:, i]
        above = s >= threshold
        region = regions(xyz, above)
        found = []
        for r in range(min(TOP_REGIONS, int(region.max()) + 1)):
            members = region == r
            entry = {"points": int(members.sum()), "centroid": [round(float(v), 3) for v in xyz[members].mean(0)],
                     "mean_score": round(float(s[members].mean()), 4)}
            if labels is not None:
                ids, counts = np.unique(labels[members], return_counts=True)
                entry["label"] = names.get(int(ids[counts.argmax()]), str(int(ids[counts.argmax()])))
            found.append(entry)
        summary["prompts"].append({"prompt": prompt, "property": f"score_{i}", "max": round(float(s.max()), 4),
                                   "mean": round(float(s.mean()), 4), "share_above": round(float(above.mean()), 4),
                                   "regions": found})
    write_ply(out, xyz, heat_colours(best), extra={f"score_{i}": scores[:, i] for i in range(len(prompts))},
              faces=stored_faces(store, scene_id))
    return summary
