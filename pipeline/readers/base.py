"""The dataset section of the config and the reader interface every dataset format implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Protocol

from annotated_types import Gt

from ..choices import DatasetKind, OpenSceneLabels, PlyLabels
from ..config import CHECKED, NOT_FINGERPRINTED, Float, OptionalText, Text
from ..scene import Scene


@dataclass
class DatasetConfig:
    __pydantic_config__ = CHECKED

    kind: Literal[DatasetKind, ""] = "scannet"
    """Reader: ``scannet`` (exported frames or the raw ``.sens`` recording; also the synthetic
    scenes), ``nerfstudio`` (``transforms.json`` captures), ``generic``, ``pointcloud``,
    ``pointcept`` or ``openscene`` (docs/generic-layout.md, docs/own-scans.md); empty: no dataset
    (``train_dataset`` only)."""
    root: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """Folder holding one entry per scene. A moved dataset is the same data, so not fingerprinted."""
    scenes: list[Text] = field(default_factory=list, metadata=NOT_FINGERPRINTED)
    """Scene names, globs or ``@file`` lists to process when ``--scenes`` is not given."""
    ply_labels: PlyLabels = field(default="nyu40", metadata=NOT_FINGERPRINTED)
    """``pointcloud`` reader: what the vertex property ``label`` holds: ``nyu40`` (NYU40 ids) or
    ``scannet200`` (ScanNet category ids, as in ScanNet's ScanNet200 meshes). Fingerprinted through
    the reader when not the default."""
    openscene_labels: OpenSceneLabels = field(default="scannet20", metadata=NOT_FINGERPRINTED)
    """``openscene`` reader: the class list its labels index (``scannet20``, ``matterport21``,
    ``matterport40|80|160``). It enters the ingest fingerprint through the reader, for openscene
    scenes only, so other datasets' fingerprints do not depend on it."""
    openscene_frames: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """``openscene`` reader, optional: OpenScene's ScanNet 2D export (``intrinsics.txt`` and
    ``<scene>/color|depth|pose``), giving the scans their frames. Its files are fingerprinted."""
    nerfstudio_depth_unit: Annotated[Float, Gt(0)] = field(default=1e-3, metadata=NOT_FINGERPRINTED)
    """``nerfstudio`` reader: metres per depth-map unit (nerfstudio's ``depth_unit_scale_factor``;
    1e-3: millimetre PNGs, as ``ns-process-data`` writes them). Fingerprinted through the reader,
    for nerfstudio scenes only."""


class SceneReader(Protocol):
    def list_scenes(self, root: Path) -> list[str]:
        """Scene ids present under ``root``."""

    def source_files(self, root: Path, scene_id: str) -> list[Path]:
        """Every file ``read`` would use, without reading them (cheap: used for staleness)."""

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        """Load and validate one scene; raises InputError naming the bad file. ``check_images=False``
        skips decoding every frame (for callers that decode them anyway and handle bad ones).
        A capture with posed depth frames but no point cloud returns ``xyz`` None: ingest
        reconstructs it (``stages/ingest/reconstruct``)."""

    # Optional: ``has_points(root, scene_id) -> bool``, cheap (file listings): False for a capture
    # that ``read`` returns without points. Ingest then puts the reconstruction settings into that
    # scene's fingerprint; a reader without it is taken to always have points.


class FolderReader:
    """Shared part of the readers whose scenes are folders under the root (ScanNet, generic):
    subclasses set ``find_files(root, scene_id)``, returning an object whose ``all()`` lists the
    scene's files."""

    image_workers: int = 2
    """Threads decoding images during validation."""
    max_unreadable_frames: float = 0.0
    """Share of a scene's frames whose images may fail to decode (counted in ``Scene.unreadable_frames``);
    ingest sets ``fuse.max_unreadable_frames``, the rule fuse applies to the same frames."""

    def list_scenes(self, root: Path) -> list[str]:
        from .checks import scene_folders

        return scene_folders(root)

    def source_files(self, root: Path, scene_id: str) -> list[Path]:
        return self.find_files(Path(root), scene_id).all()
