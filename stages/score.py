"""Score: one confusion matrix over the evaluated scenes (design.md section 7.2).

Predictions and ground truth are ids of a label space (NYU40 ids for ScanNet-20, ScanNet category
ids for ScanNet200, ...); both are mapped to the protocol's class list with
``labelsets.to_protocol_index``. Points whose ground truth is not evaluated (unannotated, or a class
outside the protocol) are left out; a prediction outside the protocol on an evaluated point counts
as wrong (a column of its own, so it lowers accuracy and the IoU of the true class only). Classes
absent from the ground truth of every scored scene get no IoU and are left out of the means. Besides
mIoU: f-mIoU (without wall, floor and ceiling) and, where the label set defines them, the means
over its splits (ScanNet200's head, common, tail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geopurify.pipeline.choices import Protocol
from geopurify.pipeline.config import CHECKED
from geopurify.pipeline.errors import ConfigError, StoreError
from geopurify.pipeline.vocabulary import (
    FEAT, FUSED, LABEL, LABEL_PREFIX, POINTS, PURIFIED, PURIFIED_PREFIX, scene_group,
)


@dataclass
class ScoreConfig:
    __pydantic_config__ = CHECKED

    protocol: Protocol = "scannet19"
    """``scannet20`` (OpenScene), ``scannet19`` (GeoPurify, without otherfurniture), ``scannet200``,
    ``matterport21``, ``matterport40``, ``matterport80`` or ``matterport160``; its label space must
    be the vocabulary's (``fuse.vocab``)."""


OF_CHOICES = (FUSED, PURIFIED)


# ---- the arithmetic -----------------------------------------------------------------------------

def confusion_matrix(gt_ids: np.ndarray, pred_ids: np.ndarray, protocol: str) -> np.ndarray:
    """(C, C+1) int64 counts, rows = ground-truth class, columns = predicted class; the last column
    counts predictions outside the protocol. Points with a non-evaluated ground truth are skipped."""
    from geopurify.stages.labelsets import protocol_ids, to_protocol_index

    n = len(protocol_ids(protocol))
    gt = to_protocol_index(gt_ids, protocol)
    pred = to_protocol_index(pred_ids, protocol)
    keep = gt >= 0
    pred = np.where(pred[keep] >= 0, pred[keep], n)
    return np.bincount(gt[keep] * (n + 1) + pred, minlength=n * (n + 1)).reshape(n, n + 1).astype(np.int64)


def metrics(confusion: np.ndarray, protocol: str) -> dict:
    """IoU and accuracy per class, their means over the classes present in the ground truth (all,
    without wall/floor/ceiling, per split), and overall accuracy; all in percent."""
    from geopurify.stages.labelsets import label_set

    labels = label_set(protocol)
    ids = labels.ids
    conf = np.asarray(confusion, dtype=np.int64)
    n = len(ids)
    tp = np.diag(conf[:, :n]).astype(np.float64)
    gt_count = conf.sum(axis=1).astype(np.float64)
    pred_count = conf[:, :n].sum(axis=0).astype(np.float64)
    present = gt_count > 0
    union = gt_count + pred_count - tp
    iou = np.where(present, 100.0 * tp / np.maximum(union, 1), np.nan)
    acc = np.where(present, 100.0 * tp / np.maximum(gt_count, 1), np.nan)
    total = conf.sum()

    def mean_over(members) -> float | None:
        pick = np.isin(np.asarray(ids), list(members)) & present
        return _num(np.mean(iou[pick])) if pick.any() else None

    id_key = "nyu40_id" if labels.space == "nyu40" else f"{labels.space}_id"
    per_class = [{"class": name, "id": int(i), id_key: int(i), "present": bool(present[k]),
                  "points": int(gt_count[k]), "predicted": int(pred_count[k]),
                  "iou": _num(iou[k]), "acc": _num(acc[k])} for k, (i, name) in enumerate(zip(ids, labels.names))]
    structure = set(labels.structure_ids())
    return {
        "miou": _num(np.nanmean(iou)) if present.any() else None,
        "fmiou": mean_over([i for i in ids if i not in structure]),
        "fmiou_excludes": [n for i, n in zip(ids, labels.names) if i in structure],
        "splits": {name: mean_over(members) for name, members in labels.splits.items()},
        "macc": _num(np.nanmean(acc)) if present.any() else None,
        "oacc": _num(100.0 * tp.sum() / total) if total else None,
        "per_class": per_class,
        "absent_classes": [labels.names[k] for k in np.flatnonzero(~present)],
        "evaluated_points": int(total),
    }


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


# ---- reading the store ----------------------------------------------------------------------------

def recorded_vocab(store, scene_id: str, of: str, default: str | None = None) -> str:
    """The vocabulary a scene's predictions were made with: the purify stage's record for purified
    groups, the fuse stage's config for fused ones; ``default`` when nothing is recorded."""
    group = FUSED if of == FUSED else of
    attrs = store.attrs(scene_group(scene_id, group))
    vocab = attrs.get("vocab") if of != FUSED else None
    vocab = vocab or attrs.get("config", {}).get("fuse", {}).get("vocab") or default
    if not vocab:
        raise StoreError(f"{store.path}/scenes/{scene_id}/{group}: cannot tell which vocabulary made it")
    return vocab


def predictions(store, scene_id: str, of: str, vocab: str | None = None, text=None) -> np.ndarray:
    """(N,) label ids predicted for a scene, in the vocabulary's label space: ``fused`` = argmax
    cosine of the lifted features against the vocabulary's text embeddings (``vocab``, default the
    one the scene was fused with); ``purified`` = the purify stage's labels."""
    if of.startswith(PURIFIED):  # purified, or an ablation's purified_<affinity>
        path = scene_group(scene_id, of)
        store.require_done(path, f"purify of scene {scene_id}")
        return store.read(path, LABEL).astype(np.int64)
    if of != FUSED:
        raise ConfigError(f"--of {of!r}: expected one of {', '.join(OF_CHOICES)}")
    if text is None:
        from geopurify.stages.fuse.text import read_text

        vocab = vocab or recorded_vocab(store, scene_id, FUSED, "scannet20")
        text = read_text(store, vocab)[0]
    path = scene_group(scene_id, FUSED)
    store.require_done(path, f"fuse of scene {scene_id}")
    feat = store.read(path, FEAT)
    emb = np.asarray(text.embeddings, dtype=np.float32)
    if feat.shape[1] != emb.shape[1]:
        raise StoreError(f"{store.path}/{path}/feat: {feat.shape[1]} channels but the text embeddings of "
                         f"{text.vocab!r} have {emb.shape[1]}; fuse and text come from different encoders")
    best = np.empty(feat.shape[0], dtype=np.int64)
    for start in range(0, feat.shape[0], 65536):  # cosine argmax = argmax of dot with unit text rows
        best[start:start + 65536] = np.argmax(feat[start:start + 65536].astype(np.float32) @ emb.T, axis=1)
    return np.asarray(text.nyu40_ids, dtype=np.int64)[best]


def ground_truth(store, scene_id: str, protocol: str = "scannet20") -> np.ndarray:
    """(N,) ground-truth ids of the protocol's label space (the first of its arrays the points
    group holds: ``label`` for NYU40, ``label_scannet200``, ``label_matterport<k>``)."""
    from geopurify.stages.labelsets import label_set

    path = scene_group(scene_id, POINTS)
    store.require_done(path, f"ingest of scene {scene_id}")
    group = store.group(path)
    wanted = label_set(protocol).ground_truth
    for name in wanted:
        if name in group:
            return store.read(path, name).astype(np.int64)
    have = sorted(k for k in group.array_keys() if k == LABEL or k.startswith(LABEL_PREFIX))
    raise StoreError(f"{store.path}/{path}: scene {scene_id} has no ground truth for protocol {protocol!r} "
                     f"(needs {' or '.join(wanted)}; it has {', '.join(have) or 'no labels'})")


def scene_confusion(store_path: str, scene_id: str, of: str, protocol: str, vocab: str | None = None) -> np.ndarray:
    """The confusion matrix of one scene (a Dask task: opens the store itself)."""
    from geopurify.pipeline.store import Store
    from geopurify.stages.labelsets import check_compatible

    store = Store(store_path, create=False)
    made_with = vocab if of == FUSED and vocab else recorded_vocab(store, scene_id, of, vocab or "scannet20")
    check_compatible(made_with, protocol)
    gt = ground_truth(store, scene_id, protocol)
    pred = predictions(store, scene_id, of, made_with)
    if pred.shape != gt.shape:
        raise StoreError(f"{store.path}/scenes/{scene_id}: {len(pred)} predictions for {len(gt)} points")
    return confusion_matrix(gt, pred, protocol)


def score_scenes(store_path: str, scene_ids: list[str], of: str, protocol: str, vocab: str | None = None,
                 scheduler: str = "threads", workers: int | None = None) -> dict:
    """Score predictions (``of`` = ``fused`` or ``purified``) of ``scene_ids`` against the ground
    truth: one confusion matrix summed over the scenes, metrics from it, and per-scene mIoU.
    ``vocab``: the vocabulary fused features are labelled with (default: the one each scene was
    fused with); purified labels carry their own."""
    from geopurify.pipeline.schedule import run_tasks
    from geopurify.stages.labelsets import label_set

    if of not in OF_CHOICES and not of.startswith(PURIFIED_PREFIX):
        raise ConfigError(f"--of {of!r}: expected one of {', '.join(OF_CHOICES)}")
    labels = label_set(protocol)
    if not scene_ids:
        raise ConfigError("no scenes to score")
    confs = run_tasks([(scene_confusion, (store_path, sid, of, protocol, vocab)) for sid in scene_ids],
                      scheduler, workers)
    total = np.sum(confs, axis=0)
    result = {"of": of, "protocol": protocol, "vocab": vocab, **metrics(total, protocol)}
    result["scenes"] = {sid: {"miou": metrics(c, protocol)["miou"], "points": int(c.sum())}
                        for sid, c in zip(scene_ids, confs)}
    id_key = "nyu40_ids" if labels.space == "nyu40" else f"{labels.space}_ids"
    result["confusion"] = {"rows": "ground truth", "columns": "prediction (last: outside the protocol)",
                           "ids": list(labels.ids), id_key: list(labels.ids), "counts": total.tolist()}
    result["note"] = ("classes absent from the ground truth of the scored scenes are excluded from "
                      "mIoU and mAcc" if result["absent_classes"] else "every class is present")
    return result
