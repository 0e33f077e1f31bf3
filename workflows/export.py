"""Export a scene's labelling as a class-coloured PLY (MeshLab, CloudCompare)."""

from __future__ import annotations

from pathlib import Path

from geopurify import __version__
from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.ply import write_ply
from geopurify.pipeline.store import Store

from .provenance import comment_line, store_provenance


def export_scene(store_path: str, scene_id: str, of: str, out: str | Path) -> Path:
    """``of``: ``purified`` (or ``purified_<affinity>``), ``fused`` (lift-only) or ``labels`` (ground
    truth). Vertices carry the class colour and the NYU40 ``label``."""
    from geopurify.stages.labelsets import class_colours
    from geopurify.stages.score import ground_truth, predictions

    store = Store(store_path, create=False)
    if of == "labels":
        labels = ground_truth(store, scene_id)
    elif of == "fused" or of.startswith("purified"):
        labels = predictions(store, scene_id, of)
    else:
        raise ConfigError(f"--of {of!r}: expected purified, purified_<affinity>, fused or labels")
    xyz = store.read(f"scenes/{scene_id}/points", "xyz")
    return write_ply(out, xyz, class_colours(labels), label=labels, comments=[export_comment(store, scene_id, of)])


def export_comment(store: Store, scene_id: str, of: str) -> str:
    """One header line: what the file shows (the result's affinity by name) and what made it."""
    if of == "labels":
        record = {"shows": "ground truth", "scene": scene_id, "package": f"geopurify {__version__}"}
    else:
        record = store_provenance(store, [scene_id], [of])
        record = {"shows": record["results"][of]["method"], "group": of, "scene": scene_id, **record}
    return comment_line(record)
