"""OpenScene layout: the 3D files of OpenScene's ScanNet and Matterport data::

    <root>/<scene>_vh_clean_2.pth    ScanNet: a tuple (coords (N, 3) float, colours (N, 3) in [-1, 1],
                                     labels (N,)); the scene id drops the ``_vh_clean_2`` suffix
    <root>/<house>_<region>.pth      Matterport: the same tuple, one file per region (= scene)

Colours are rgb / 127.5 - 1 of 8-bit values. Labels index the list ``dataset.openscene_labels``
names (``scannet20``: the ScanNet-20 order; ``matterport21``; ``matterport40|80|160``: OpenScene's
Matterport lists), 255 (or -100) = unannotated. Frames, optional: OpenScene's ScanNet 2D export
under ``dataset.openscene_frames``::

    <frames>/intrinsics.txt            pinhole of the exported images (colour and depth share it)
    <frames>/<scene>/color/<i>.jpg     colour; depth/<i>.png (uint16 mm); pose/<i>.txt (4x4)

Without frames, fuse with ``fuse.source = "openscene"`` (the fused ``.pt`` features) or
``simulated`` (virtual views).

``.pth`` files are pickles. ``load_torch_file`` reads them with ``torch.load(weights_only=True)``,
whose unpickler builds only tensors, containers and the globals allowed here: numpy's array
reconstruction and dtypes. Nothing else (no function call, no class) can be named by the file, so a
hostile file fails to load instead of running code; object arrays are refused after loading.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from ..scene import Scene
from . import checks
from .label_ids import OPENSCENE_LABELS, decode_indices

SCANNET_SUFFIX = "_vh_clean_2"
IGNORE = (255, -100)
COLOUR_SLACK = 0.02
"""How far (in 8-bit units) (colour + 1) * 127.5 may sit from a whole number."""


def _numpy_globals() -> list:
    """What the weights-only unpickler may build besides tensors: numpy arrays of plain dtypes.
    Files written with numpy 1 name the reconstruction function ``numpy.core...``, numpy 2
    ``numpy._core...``: both names map to the same function."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct
    allowed = [np.ndarray, np.dtype, (_reconstruct, "numpy.core.multiarray._reconstruct"),
               (_reconstruct, "numpy._core.multiarray._reconstruct")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return allowed


def load_torch_file(path: Path):
    """The object in a ``.pth``/``.pt`` file, loaded without running code (see the module docstring);
    tensors come back as numpy arrays. InputError naming the file when it cannot be read."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        fallback = lines[0] if lines else type(exc).__name__
        why = next((ln for ln in lines if "got <" in ln or "Unsupported" in ln), fallback)
        raise InputError(path, f"not a loadable torch file of tensors and numeric arrays ({why[:200]})") from None
    return _to_numpy(path, obj)


def _to_numpy(path: Path, obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise InputError(path, "holds an object array; expected numeric arrays")
        return obj
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_numpy(path, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_numpy(path, v) for k, v in obj.items()}
    return obj


def scene_id_of(file_name: str) -> str:
    stem = file_name[:-4]
    return stem[: -len(SCANNET_SUFFIX)] if stem.endswith(SCANNET_SUFFIX) else stem


class OpenSceneReader:
    """OpenScene's preprocessed 3D scans (ScanNet scenes, Matterport regions)."""

    def __init__(self, labels: str = "scannet20", frames: str = ""):
        self.labels = labels
        self.frames = frames
        self.max_unreadable_frames = 0.0
        """Share of the frames whose images may fail to decode (ingest sets fuse's)."""

    def configure(self, cfg) -> None:
        """Take the label list and the frames folder from the dataset config."""
        if cfg.openscene_labels not in OPENSCENE_LABELS:
            raise ConfigError(f"dataset.openscene_labels {cfg.openscene_labels!r}: expected one of "
                              f"{', '.join(OPENSCENE_LABELS)}")
        self.labels = cfg.openscene_labels
        self.frames = cfg.openscene_frames

    def identity(self) -> dict:
        """What besides the files changes the scene (the label list): part of ingest's fingerprint."""
        return {"openscene_labels": self.labels}

    def list_scenes(self, root: Path) -> list[str]:
        with os.scandir(root) as it:
            return sorted({scene_id_of(e.name) for e in it
                           if e.name.endswith(".pth") and not e.name.startswith(".") and e.is_file()})

    def source_files(self, root: Path, scene_id: str) -> list[Path]:
        files = [self._points_file(root, scene_id)]
        if self.frames:
            intrinsics, frames = _frame_files(Path(self.frames), scene_id)
            files += [intrinsics] + [p for frame in frames for p in frame[1:]]
        return files

    def _points_file(self, root: Path, scene_id: str) -> Path:
        root = Path(root)
        checks.check_scene_name(root, scene_id)
        for name in (f"{scene_id}{SCANNET_SUFFIX}.pth", f"{scene_id}.pth"):
            if (root / name).is_file():
                if name != f"{scene_id}.pth" and (root / f"{scene_id}.pth").is_file():
                    raise InputError(root / name, f"two files for scene {scene_id!r} ({scene_id}.pth too)")
                return root / name
        known = self.list_scenes(root)
        hint = f"{len(known)} scenes here ({', '.join(known[:3])}{', ...' if len(known) > 3 else ''})" \
            if known else "no .pth files here"
        raise InputError(root / f"{scene_id}.pth", f"unknown scene {scene_id!r}: no such file; {hint}")

    def read(self, root: Path, scene_id: str, check_images: bool = True) -> Scene:
        path = self._points_file(root, scene_id)
        data = load_torch_file(path)
        if not isinstance(data, (tuple, list)) or len(data) != 3:
            kind = f"a {type(data).__name__} of {len(data)}" if isinstance(data, (tuple, list, dict)) \
                else f"a {type(data).__name__}"
            raise InputError(path, f"expected a tuple (coords, colours, labels), found {kind}")
        coords, colours, labels = (np.asarray(a) for a in data)
        if coords.ndim != 2 or coords.shape[1] != 3 or not np.issubdtype(coords.dtype, np.floating):
            raise InputError(path, f"coords: expected an (N, 3) float array, found {coords.dtype} {coords.shape}")
        xyz = coords.astype(np.float32)
        checks.check_points(path, xyz)
        n = len(xyz)
        if colours.shape != (n, 3) or not np.issubdtype(colours.dtype, np.floating):
            raise InputError(path, f"colours: expected an ({n}, 3) float array in [-1, 1], found "
                                   f"{colours.dtype} {colours.shape}")
        rgb = _colours(path, colours)
        if labels.shape != (n,):
            raise InputError(path, f"labels: expected ({n},) class indices, found {labels.dtype} {labels.shape}")
        space, ids = decode_indices(path, labels, self.labels, IGNORE, "labels")
        kwargs = {"labels": ids} if space == "nyu40" else {"extra_labels": {space: ids}}
        if self.frames:
            kwargs.update(_read_frames(Path(self.frames), scene_id, check_images, self.max_unreadable_frames))
        return Scene(scene_id=scene_id, root=path, xyz=xyz, rgb=rgb,
                     source_files=self.source_files(root, scene_id), **kwargs)


def _frame_files(frames_root: Path, scene_id: str) -> tuple[Path, list[tuple[str, Path, Path, Path]]]:
    """OpenScene's ScanNet 2D export: the intrinsics file and (name, colour, depth, pose) per frame."""
    intrinsics = frames_root / "intrinsics.txt"
    if not intrinsics.is_file():
        raise InputError(intrinsics, "camera intrinsics of the frames not found (dataset.openscene_frames)")
    folder = frames_root / scene_id
    listing = {}
    for sub, suffix in (("color", ".jpg"), ("depth", ".png"), ("pose", ".txt")):
        if not (folder / sub).is_dir():
            raise InputError(folder / sub, "folder not found")
        with os.scandir(folder / sub) as it:
            listing[sub] = {e.name[: -len(suffix)]: Path(e.path) for e in it
                            if e.name.endswith(suffix) and not e.name.startswith(".") and e.is_file()}
    if not listing["color"]:
        raise InputError(folder / "color", "no colour frames (<i>.jpg)")
    frames = []
    for name in sorted(listing["color"], key=checks.frame_sort_key):
        for sub, suffix in (("depth", ".png"), ("pose", ".txt")):
            if name not in listing[sub]:
                raise InputError(folder / sub / f"{name}{suffix}", f"{sub} of frame {name} not found")
        frames.append((name, listing["color"][name], listing["depth"][name], listing["pose"][name]))
    return intrinsics, frames


def _read_frames(frames_root: Path, scene_id: str, check_images: bool, max_unreadable: float = 0.0) -> dict:
    """Scene fields of the frames: posed frames, the shared intrinsics (4x4 or 3x3 in the file)."""
    intrinsics, files = _frame_files(frames_root, scene_id)
    numbers = intrinsics.read_text(errors="replace").split()
    if len(numbers) not in (9, 16):
        raise InputError(intrinsics, f"expected a 3x3 or 4x4 matrix, found {len(numbers)} numbers")
    side = 3 if len(numbers) == 9 else 4
    K = checks.check_intrinsic(intrinsics, checks.read_matrix(intrinsics, side, side))
    frames, skipped = checks.posed_frames(files, frames_root / scene_id / "pose")
    unreadable = 0
    if check_images:
        same = {"intrinsic": K, "intrinsic_path": intrinsics}
        unreadable = checks.check_frame_images(files, max_unreadable, color=same, depth=same)
    return {"frames": frames, "color_intrinsic": K, "depth_intrinsic": K, "depth_scale": 1000.0,
            "skipped_frames": skipped, "unreadable_frames": unreadable}


def _colours(path: Path, colours: np.ndarray) -> np.ndarray:
    """OpenScene's rgb / 127.5 - 1 back to 8-bit colours (exact for the values it writes)."""
    scaled = (colours.astype(np.float64) + 1.0) * 127.5
    rounded = np.rint(scaled)
    if scaled.size and (not np.all(np.isfinite(scaled)) or rounded.min() < 0 or rounded.max() > 255
                        or np.abs(scaled - rounded).max() > COLOUR_SLACK):
        raise InputError(path, "colours: expected rgb / 127.5 - 1 of 8-bit colours (values in [-1, 1])")
    return rounded.astype(np.uint8)
