"""Settings of the ingest stage. Import-light: no zarr or torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from geopurify.pipeline.choices import Reconstruct
from geopurify.pipeline.config import CHECKED, NOT_FINGERPRINTED, Float, Ge, Gt, Int, check_values
from geopurify.pipeline.errors import ConfigError

# The reconstruction settings matter only to scans that have no point cloud of their own: they are
# left out of the config fingerprint and enter the ingest fingerprint of exactly those scans (see
# stage.py), so tuning them never makes a ScanNet mesh stale.
_RECONSTRUCTION = NOT_FINGERPRINTED


@dataclass
class IngestConfig:
    __pydantic_config__ = CHECKED

    normal_neighbours: Annotated[Int, Ge(3)] = 16
    """Neighbours for PCA normals when the scan has no faces (at least 3: a plane needs them)."""
    reconstruct: Reconstruct = field(default="tsdf", metadata=_RECONSTRUCTION)
    """A capture with posed depth frames and no point cloud: ``tsdf`` (TSDF fusion and marching cubes,
    a coloured triangle mesh), ``voxel`` (back-projected depth averaged on a voxel grid, pure numpy,
    a point cloud) or ``none`` (refuse such captures)."""
    voxel_size: Annotated[Float, Gt(0)] = field(default=0.02, metadata=_RECONSTRUCTION)
    """Reconstruction grid (metres): the TSDF voxel, or the voxel the back-projected depth is averaged on."""
    sdf_trunc: Annotated[Float, Gt(0)] = field(default=0.08, metadata=_RECONSTRUCTION)
    """TSDF truncation distance (metres), at least ``voxel_size``; ``tsdf`` only."""
    depth_max: Annotated[Float, Gt(0)] = field(default=4.0, metadata=_RECONSTRUCTION)
    """Depth readings farther than this (metres) are not used (far readings are the noisiest)."""
    frame_stride: Annotated[Int, Ge(1)] = field(default=1, metadata=_RECONSTRUCTION)
    """Every ``frame_stride``-th usable frame is integrated."""
    min_views: Annotated[Int, Ge(1)] = field(default=2, metadata=_RECONSTRUCTION)
    """``voxel`` only: a voxel is kept when at least this many frames saw a depth reading in it
    (drops single-frame noise)."""

    def reconstruction(self) -> dict:
        """The settings a reconstruction of ``reconstruct`` reads (its fingerprint and record)."""
        keys = {"tsdf": ("voxel_size", "sdf_trunc", "depth_max", "frame_stride"),
                "voxel": ("voxel_size", "depth_max", "frame_stride", "min_views")}.get(self.reconstruct, ())
        return {"method": self.reconstruct, **{k: getattr(self, k) for k in keys}}


def check_config(cfg: IngestConfig) -> None:
    """One-line ConfigError for an ingest setting no run can use: each value by its declaration,
    then the truncation against the voxel."""
    check_values(cfg, "ingest.")
    if cfg.reconstruct == "tsdf" and cfg.sdf_trunc < cfg.voxel_size:
        raise ConfigError(f"ingest.sdf_trunc = {cfg.sdf_trunc}: expected >= ingest.voxel_size "
                          f"({cfg.voxel_size}); a truncation under one voxel leaves holes")
