"""The one scene model every reader produces; stages never see a dataset's quirks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Frame:
    """One posed RGB-D view."""

    name: str
    """Frame id as it appears in file names (``"0"``, ``"120"``)."""
    color_path: Path
    """Colour image file."""
    depth_path: Path | None
    """Depth image file (uint16), or None for captures without depth."""
    pose: np.ndarray
    """(4, 4) float64 camera-to-world transform, in the coordinates of the points."""

    # Image access goes through these methods, so a frame may live in a file of its own (this
    # class), inside a container (a ScanNet ``.sens``) or need undistorting (nerfstudio captures):
    # the stages that read frames (fuse, reconstruction) never open the files themselves.
    def read_color(self) -> np.ndarray:
        """(H, W, 3) uint8 pinhole colour image; OSError/ValueError when missing or broken."""
        from PIL import Image

        with Image.open(self.color_path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)

    def read_depth_raw(self) -> np.ndarray | None:
        """(H', W') depth in the scene's depth units (uint16; 0 = no reading), on the pinhole
        grid of ``Scene.depth_intrinsic``; None for a frame without depth."""
        if self.depth_path is None:
            return None
        from PIL import Image

        with Image.open(self.depth_path) as im:
            raw = np.asarray(im)
        if raw.ndim != 2:
            raise ValueError(f"expected a single-channel depth image, found shape {raw.shape}")
        return raw

    def read_depth(self, depth_scale: float) -> np.ndarray | None:
        """(H', W') float32 metres (0 = no reading), ``depth_scale`` being ``Scene.depth_scale``;
        None for a frame without depth."""
        raw = self.read_depth_raw()
        return None if raw is None else raw.astype(np.float32) / np.float32(depth_scale)


@dataclass
class Scene:
    """A scan: points with optional mesh and labels, plus its posed frames."""

    scene_id: str
    """Scene name, unique within a dataset (``scene0000_00``)."""
    root: Path
    """Folder (or file, for point-cloud scans) the scene was read from."""
    xyz: np.ndarray | None
    """(N, 3) float32 point positions in the coordinates the poses use. None: the capture has posed
    depth frames but no point cloud; ingest reconstructs one from them (``stages/ingest/reconstruct``)."""
    rgb: np.ndarray | None
    """(N, 3) uint8 colours; None for a scan without colour (a LiDAR cloud), recorded as absent."""
    faces: np.ndarray | None = None
    """(F, 3) int64 vertex indices of mesh triangles, when the scan has them."""
    labels: np.ndarray | None = None
    """(N,) int16 NYU40 ids (0 = unannotated), when the scan is labelled."""
    extra_labels: dict[str, np.ndarray] = field(default_factory=dict)
    """Ground truth in other label spaces, by space (see ``readers.label_ids``): ``scannet200``
    (ScanNet category ids), ``matterport40|80|160`` (OpenScene's Matterport classes, 1-based); (N,)
    int16, 0 = unannotated."""
    normals: np.ndarray | None = None
    """(N, 3) float32 normals the dataset ships (Pointcept's ``normal.npy``); ingest keeps them
    instead of computing its own. None: ingest computes them (faces, else PCA)."""
    axis_alignment: np.ndarray = field(default_factory=lambda: np.eye(4))
    """(4, 4) transform that axis-aligns the scan (recorded, not applied)."""
    frames: list[Frame] = field(default_factory=list)
    """Usable frames, in capture order."""
    color_intrinsic: np.ndarray | None = None
    """(3, 3) pinhole matrix of the colour images."""
    depth_intrinsic: np.ndarray | None = None
    """(3, 3) pinhole matrix of the depth images."""
    depth_scale: float = 1000.0
    """Depth image units per metre (ScanNet: millimetres, 1000)."""
    skipped_frames: int = 0
    """Frames dropped by the reader because their pose is unusable (ScanNet's -inf marker)."""
    unreadable_frames: int = 0
    """Frames whose colour or depth image does not decode (tolerated up to the reader's
    ``max_unreadable_frames`` share; fuse skips them)."""
    source_files: list[Path] = field(default_factory=list)
    """Every file the reader used: the basis of the scene's input fingerprint."""

    @property
    def num_points(self) -> int:
        return 0 if self.xyz is None else int(self.xyz.shape[0])

    @property
    def has_depth(self) -> bool:
        """Whether the frames carry depth images (what a reconstruction needs)."""
        return bool(self.frames) and self.depth_intrinsic is not None and all(
            f.depth_path is not None for f in self.frames)
