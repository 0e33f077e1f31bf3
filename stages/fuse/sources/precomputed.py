"""The ``precomputed`` 2D source: per-frame feature maps made elsewhere, read from ``.npy`` files.

Layout: ``<fuse.precomputed_dir>/<scene>/<frame name>.npy``, each an (h, w, D) array (any float
dtype) covering the whole colour image; D must equal the text embeddings' width.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import files_fingerprint
from geopurify.pipeline.scene import Frame, Scene

from ..config import FuseConfig
from .base import TextEmbeddings


class PrecomputedSource:
    def __init__(self, cfg: FuseConfig, text: TextEmbeddings):
        if not cfg.precomputed_dir:
            raise ConfigError("fuse.precomputed_dir is empty: the precomputed source needs the folder "
                              "of <scene>/<frame>.npy feature maps")
        self.root = Path(cfg.precomputed_dir)
        self.dim = int(text.embeddings.shape[1])
        self.folder: Path | None = None

    def identity(self) -> dict:
        return {"source": "precomputed", "version": 1}

    def scene_folder(self, scene_id: str) -> Path:
        folder = self.root / scene_id
        if not folder.is_dir():
            raise InputError(folder, "no precomputed feature maps for this scene")
        return folder

    def scene_identity(self, scene_id: str) -> dict:
        """Per-scene input fingerprint: the feature files' names, sizes and times."""
        folder = self.scene_folder(scene_id)
        return {"feature_files": files_fingerprint(sorted(folder.glob("*.npy")), folder)}

    def begin_scene(self, scene: Scene, text: TextEmbeddings) -> None:
        self.folder = self.scene_folder(scene.scene_id)

    def frame_features(self, frame: Frame, color: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        path = self.folder / f"{frame.name}.npy"
        if not path.is_file():
            raise InputError(path, "feature map of this frame not found")
        try:
            fmap = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(path, f"not a readable .npy array ({exc})") from None
        if fmap.ndim != 3 or fmap.shape[2] != self.dim or not np.issubdtype(fmap.dtype, np.floating):
            raise InputError(path, f"expected an (h, w, {self.dim}) float array, found {fmap.dtype} {fmap.shape}")
        return fmap.astype(np.float32, copy=False)
