"""Ingest: a dataset scene -> ``scenes/<id>/points/`` (xyz, rgb, normal, label)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestConfig:
    normal_neighbours: int = 16
    """Neighbours for PCA normals when the scan has no faces."""
