"""A small run config over synthetic scenes, for the workflow tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from geopurify.pipeline.synthetic import generate_scene
from geopurify.workflows.config import RunConfig, load_run_config

SCENES = {"wf_eval": 7, "wf_train0": 8, "wf_train1": 9}


def write_scenes(root: Path) -> None:
    for scene_id, seed in SCENES.items():
        if not (root / scene_id).is_dir():
            generate_scene(root, scene_id, seed=seed, num_frames=6)


def small_overrides(tmp: Path, data: Path, store: str = "s.zarr") -> list[str]:
    """The small run as ``--set`` overrides (what ``small_config`` reads; the CLI tests pass them)."""
    return [
        f"store={str(tmp / store)!r}",
        "dataset.kind='scannet'", f"dataset.root={str(data)!r}", "dataset.scenes=['wf_eval']",
        "train_dataset.kind='scannet'", f"train_dataset.root={str(data)!r}",
        "train_dataset.scenes=['wf_train*']",
        "fuse.source='simulated'", "teacher.kind='geometric'",
        "distill.epochs=2", "distill.width=16", "distill.anchors=512",
        "evaluation.seeds=[0]", "evaluation.affinities=['student', 'geometric', 'oracle']",
    ]


def small_config(tmp: Path, data: Path, store: str = "s.zarr", **sections) -> RunConfig:
    cfg = load_run_config(None, small_overrides(tmp, data, store), search_cwd=False)
    for name, changes in sections.items():
        cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(getattr(cfg, name), **changes)})
    return cfg
