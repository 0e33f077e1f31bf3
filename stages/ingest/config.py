"""Settings of the ingest stage. Import-light: no zarr or torch here."""

from __future__ import annotations

from dataclasses import dataclass, field

from geopurify.pipeline.config import NOT_FINGERPRINTED
from geopurify.pipeline.errors import ConfigError

RECONSTRUCT_METHODS = ("tsdf", "voxel", "none")

# The reconstruction settings matter only to scans that have no point cloud of their own: they are
# left out of the config fingerprint and enter the ingest fingerprint of exactly those scans (see
# stage.py), so tuning them never makes a ScanNet mesh stale.
_RECONSTRUCTION = NOT_FINGERPRINTED


@dataclass
class IngestConfig:
    normal_neighbours: int = 16
    """Neighbours for PCA normals when the scan has no faces."""
    reconstruct: str = field(default="tsdf", metadata=_RECONSTRUCTION)
    """A capture with posed depth frames and no point cloud: ``tsdf`` (TSDF fusion and marching cubes,
    a coloured triangle mesh), ``voxel`` (back-projected depth averaged on a voxel grid, pure numpy,
    a point cloud) or ``none`` (refuse such captures)."""
    voxel_size: float = field(default=0.02, metadata=_RECONSTRUCTION)
    """Reconstruction grid (metres): the TSDF voxel, or the voxel the back-projected depth is averaged on."""
    sdf_trunc: float = field(default=0.08, metadata=_RECONSTRUCTION)
    """TSDF truncation distance (metres); ``tsdf`` only."""
    depth_max: float = field(default=4.0, metadata=_RECONSTRUCTION)
    """Depth readings farther than this (metres) are not used (far readings are the noisiest)."""
    frame_stride: int = field(default=1, metadata=_RECONSTRUCTION)
    """Every ``frame_stride``-th usable frame is integrated."""
    min_views: int = field(default=2, metadata=_RECONSTRUCTION)
    """``voxel`` only: a voxel is kept when at least this many frames saw a depth reading in it
    (drops single-frame noise)."""

    def reconstruction(self) -> dict:
        """The settings a reconstruction of ``reconstruct`` reads (its fingerprint and record)."""
        keys = {"tsdf": ("voxel_size", "sdf_trunc", "depth_max", "frame_stride"),
                "voxel": ("voxel_size", "depth_max", "frame_stride", "min_views")}.get(self.reconstruct, ())
        return {"method": self.reconstruct, **{k: getattr(self, k) for k in keys}}


def check_config(cfg: IngestConfig) -> None:
    """One-line ConfigError for an ingest setting no run can use."""
    if cfg.reconstruct not in RECONSTRUCT_METHODS:
        raise ConfigError(f"ingest.reconstruct {cfg.reconstruct!r}: expected one of {', '.join(RECONSTRUCT_METHODS)}")
    for key in ("voxel_size", "sdf_trunc", "depth_max"):
        if not getattr(cfg, key) > 0:
            raise ConfigError(f"ingest.{key} = {getattr(cfg, key)}: expected > 0 (metres)")
    if cfg.reconstruct == "tsdf" and cfg.sdf_trunc < cfg.voxel_size:
        raise ConfigError(f"ingest.sdf_trunc = {cfg.sdf_trunc}: expected >= ingest.voxel_size "
                          f"({cfg.voxel_size}); a truncation under one voxel leaves holes")
    for key in ("frame_stride", "min_views"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"ingest.{key} = {getattr(cfg, key)}: expected >= 1")
