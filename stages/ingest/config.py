"""Settings of the ingest stage. Import-light: no zarr or torch here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from geopurify.pipeline.config import CHECKED, Ge, Int


@dataclass
class IngestConfig:
    __pydantic_config__ = CHECKED

    normal_neighbours: Annotated[Int, Ge(3)] = 16
    """Neighbours for PCA normals when the scan has no faces (at least 3: a plane needs them)."""
