"""Settings of the ingest stage. Import-light: no zarr or torch here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestConfig:
    normal_neighbours: int = 16
    """Neighbours for PCA normals when the scan has no faces."""
