"""The ``openscene`` source: per-point features OpenScene already fused (OpenSeg, LSeg), read from
its ``.pt`` files instead of being lifted from frames.

Layout: ``<fuse.openscene.dir>/<scene>_<k>.pt``, each a dict with ``feat`` (M, D) float16 and
``mask_full`` (N,) bool over the scan's vertices in their file order: row j of ``feat`` belongs to
the j-th True point. Several ``_k`` files of one scene (OpenScene's training chunks) are merged;
a point featured by more than one gets their mean (the chunks of one fusion carry the same value).
The fuse stage fills points without a feature from the nearest featured one; their ``seen`` is 0,
and 1 for featured points (the files do not say how many views saw a point). No frames are read,
so scans without frames (Pointcept, OpenScene's own 3D files) fuse too.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import files_fingerprint
from geopurify.pipeline.readers.openscene import load_torch_file
from geopurify.pipeline.scene import Frame, Scene

from .base import TextEmbeddings

MADE_FOR = "OpenSeg features need CLIP ViT-L-14-336 (768 wide), LSeg ViT-B-32 (512 wide)"


class OpenSceneSource:
    def __init__(self, cfg, text: TextEmbeddings):
        if not cfg.openscene.dir:
            raise ConfigError("fuse.openscene.dir is empty: the openscene source needs the folder of "
                              "OpenScene's fused <scene>_<k>.pt files")
        self.root = Path(cfg.openscene.dir)
        self.dim = int(text.embeddings.shape[1])
        self.encoder = text.encoder

    def identity(self) -> dict:
        return {"source": "openscene", "version": 1}

    def scene_files(self, scene_id: str) -> list[Path]:
        """The scene's ``<scene>_<k>.pt`` files, by k."""
        if not self.root.is_dir():
            raise InputError(self.root, "fused feature folder (fuse.openscene.dir) not found")
        pattern = re.compile(re.escape(scene_id) + r"_(\d+)\.pt")
        found = sorted((int(m.group(1)), p) for p in self.root.iterdir()
                       if (m := pattern.fullmatch(p.name)) and p.is_file())
        if not found:
            raise InputError(self.root / f"{scene_id}_0.pt", "no fused features for this scene "
                                                             f"(expected {scene_id}_<k>.pt)")
        return [p for _, p in found]

    def scene_identity(self, scene_id: str) -> dict:
        """Per-scene input fingerprint: the feature files' names, sizes and times."""
        return {"feature_files": files_fingerprint(self.scene_files(scene_id), self.root)}

    def begin_scene(self, scene: Scene, text: TextEmbeddings) -> None:
        self.scene_files(scene.scene_id)  # fail early, naming the missing file

    def point_features(self, scene: Scene, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) float32 features and (N,) int counts (1 where featured, 0 elsewhere): every file
        of the scene checked and merged; nothing is kept from a file that fails a check."""
        n = len(xyz)
        total = np.zeros((n, self.dim), dtype=np.float32)
        covered = np.zeros(n, dtype=np.int32)
        for path in self.scene_files(scene.scene_id):
            feat, mask = self._read(path, n)
            total[mask] += feat
            covered[mask] += 1
        several = covered > 1
        if several.any():
            total[several] /= covered[several, None].astype(np.float32)
        return total, np.minimum(covered, 1)

    def _read(self, path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
        data = load_torch_file(path)
        if not isinstance(data, dict) or "feat" not in data or "mask_full" not in data:
            found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
            raise InputError(path, f"expected a dict with 'feat' and 'mask_full', found {found}")
        feat, mask = np.asarray(data["feat"]), np.asarray(data["mask_full"])
        if mask.ndim != 1 or not (mask.dtype == bool or (np.issubdtype(mask.dtype, np.integer)
                                                         and np.isin(mask, (0, 1)).all())):
            raise InputError(path, f"mask_full: expected an (N,) bool array, found {mask.dtype} {mask.shape}")
        mask = mask.astype(bool)
        if len(mask) != n:
            raise InputError(path, f"mask_full has {len(mask)} entries but the scan has {n} vertices "
                                   "(features of another scan, or of a resampled one)")
        if feat.ndim != 2 or not np.issubdtype(feat.dtype, np.floating):
            raise InputError(path, f"feat: expected an (M, D) float array, found {feat.dtype} {feat.shape}")
        if feat.shape[0] != int(mask.sum()):
            raise InputError(path, f"feat has {feat.shape[0]} rows but mask_full marks {int(mask.sum())} points")
        if feat.shape[1] != self.dim:
            raise InputError(path, f"features are {feat.shape[1]} wide but the text encoder "
                                   f"({self.encoder.get('model', self.encoder.get('kind'))}) gives {self.dim}: "
                                   f"{MADE_FOR}; set fuse.openclip.model and .checkpoint")
        feat = feat.astype(np.float32)
        if not np.all(np.isfinite(feat)):
            raise InputError(path, "feat has NaN or infinite values")
        return feat, mask

    def frame_features(self, frame: Frame, color: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        raise RuntimeError("the openscene source gives point features, not frame features")
