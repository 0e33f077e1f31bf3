"""Exports: a scene's labelling as a class-coloured PLY (MeshLab, CloudCompare): a mesh with the scan's
faces when it has them, else points; and predictions as the ScanNet benchmark's submission files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from geopurify import __version__
from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.ply import write_ply
from geopurify.pipeline.points import stored_faces
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FUSED, POINTS, PURIFIED, XYZ, scene_group

from .provenance import comment_line, store_provenance

BENCHMARK_SPACES = {"nyu40": "NYU40 ids (ScanNet-20)", "scannet200": "ScanNet category ids (ScanNet200)"}


def export_scene(store_path: str, scene_id: str, of: str, out: str | Path, protocol: str = "scannet20") -> Path:
    """``of``: ``purified`` (or ``purified_<affinity>``), ``fused`` (lift-only) or ``labels`` (ground
    truth, of ``protocol``'s label space). Vertices carry the class colour and the ``label`` id; a
    scan with faces is written as a mesh (its vertices in the scan's order, and its faces)."""
    from geopurify.stages.labelsets import class_colours, label_set, vocabulary_space
    from geopurify.stages.score import ground_truth, predictions, recorded_vocab

    store = Store(store_path, create=False)
    if of == "labels":
        labels, space = ground_truth(store, scene_id, protocol), label_set(protocol).space
    elif of == FUSED or of.startswith(PURIFIED):
        labels = predictions(store, scene_id, of)
        space = vocabulary_space(recorded_vocab(store, scene_id, of, "scannet20"))
    else:
        raise ConfigError(f"--of {of!r}: expected purified, purified_<affinity>, fused or labels")
    xyz = store.read(scene_group(scene_id, POINTS), XYZ)
    return write_ply(out, xyz, class_colours(labels, space), label=labels, faces=stored_faces(store, scene_id),
                     comments=[export_comment(store, scene_id, of)])


def export_comment(store: Store, scene_id: str, of: str) -> str:
    """One header line: what the file shows (the result's affinity by name) and what made it."""
    if of == "labels":
        record = {"shows": "ground truth", "scene": scene_id, "package": f"geopurify {__version__}"}
    else:
        record = store_provenance(store, [scene_id], [of])
        record = {"shows": record["results"][of]["method"], "group": of, "scene": scene_id, **record}
    return comment_line(record)


def export_benchmark(store_path: str, scene_ids: list[str], of: str, out_dir: str | Path,
                     only_done: bool = False) -> list[Path]:
    """One ``<scene>.txt`` per scene in ``out_dir``: the predicted id of every mesh vertex, one per
    line, in the scan's vertex order (NYU40 ids for a ScanNet-20 vocabulary, ScanNet category ids
    for ScanNet200): the input of the ScanNet benchmark's evaluation script. Every scene is read
    and checked before the first file is written; each file appears whole (written, then renamed).
    ``only_done``: skip the scenes whose ``of`` group is not done (a run without --scenes)."""
    from geopurify.stages.labelsets import vocabulary_space
    from geopurify.stages.score import predictions, recorded_vocab

    if of != FUSED and not of.startswith(PURIFIED):
        raise ConfigError(f"--of {of!r}: expected purified, purified_<affinity> or fused")
    store = Store(store_path, create=False)
    if only_done:
        scene_ids = [s for s in scene_ids if store.attrs(scene_group(s, of)).get("complete")]
    if not scene_ids:
        raise ConfigError("export: no scene to export (none has its group done; run the stages, or pass --scenes)")
    labelled, spaces = {}, {}
    for scene_id in scene_ids:
        vocab = recorded_vocab(store, scene_id, of, "scannet20")
        spaces[scene_id] = vocabulary_space(vocab)
        if spaces[scene_id] not in BENCHMARK_SPACES:
            raise ConfigError(f"{scene_id}: vocabulary {vocab!r} labels points with {spaces[scene_id]} ids; "
                              f"the ScanNet benchmark takes {' or '.join(BENCHMARK_SPACES.values())}")
        labelled[scene_id] = predictions(store, scene_id, of, vocab)
    if len(set(spaces.values())) > 1:
        raise ConfigError("export: the scenes were labelled in different label spaces "
                          f"({', '.join(f'{s}: {v}' for s, v in spaces.items())}); export them separately")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for scene_id, ids in labelled.items():
        path = out / f"{scene_id}.txt"
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{scene_id}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "\n")
        os.replace(tmp, path)
        written.append(path)
    return written
