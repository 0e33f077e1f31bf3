"""Ingest: a dataset scene -> ``scenes/<id>/points/`` (xyz, rgb, normal, label).

This module holds the config and stays import-light (the run config imports it); the stage itself
lives in ``stages/ingest_stage.py`` and is re-exported here on first use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestConfig:
    normal_neighbours: int = 16
    """Neighbours for PCA normals when the scan has no faces."""


def __getattr__(name: str):
    # ``from geopurify.stages.ingest import IngestStage`` without importing zarr with the config
    if name in ("IngestStage", "points_output"):
        from geopurify.stages import ingest_stage

        return getattr(ingest_stage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
