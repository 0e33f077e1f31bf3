"""Dataset readers: each turns one dataset layout into ``Scene`` objects.

A plain dict from ``dataset.kind`` to reader; the readers are imported when first used.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, InputError
from ..scene import Scene
from ..vocabulary import POINTS, scene_group
from .base import DatasetConfig, SceneReader


def _scannet() -> SceneReader:
    from .scannet import ScanNetReader

    return ScanNetReader()


def _generic() -> SceneReader:
    from .generic import GenericReader

    return GenericReader()


def _pointcloud() -> SceneReader:
    from .pointcloud import PointCloudReader

    return PointCloudReader()


def _pointcept() -> SceneReader:
    from .pointcept import PointceptReader

    return PointceptReader()


def _openscene() -> SceneReader:
    from .openscene import OpenSceneReader

    return OpenSceneReader()


READERS = {"scannet": _scannet, "generic": _generic, "pointcloud": _pointcloud,
           "pointcept": _pointcept, "openscene": _openscene}
"""``dataset.kind`` -> a function making its reader (each imports its module when called)."""


def get_reader(kind: str | DatasetConfig) -> SceneReader:
    """The reader of ``kind``; given the whole dataset config, a reader with options (openscene)
    takes them from it (``configure``)."""
    cfg = kind if isinstance(kind, DatasetConfig) else None
    kind = cfg.kind if cfg is not None else kind
    if kind not in READERS:
        raise ConfigError(f"dataset.kind {kind!r}: expected one of {', '.join(READERS)}")
    reader = READERS[kind]()
    if cfg is not None and hasattr(reader, "configure"):
        reader.configure(cfg)
    return reader


def dataset_root(cfg: DatasetConfig) -> Path:
    if not cfg.root:
        raise ConfigError("no dataset root: pass --root or set dataset.root in the config")
    root = Path(cfg.root)
    if not root.is_dir():
        raise InputError(root, "dataset root folder not found")
    return root


def list_scenes(cfg: DatasetConfig) -> list[str]:
    return get_reader(cfg).list_scenes(dataset_root(cfg))


def source_files(cfg: DatasetConfig, scene_id: str) -> list[Path]:
    return get_reader(cfg).source_files(dataset_root(cfg), scene_id)


def read_scene(cfg: DatasetConfig, scene_id: str, check_images: bool = True) -> Scene:
    return get_reader(cfg).read(dataset_root(cfg), scene_id, check_images=check_images)


def scene_dataset(store, scene_id: str) -> DatasetConfig:
    """The dataset a scene was ingested from, as recorded in its points group (root included)."""
    from ..config import from_dict
    from ..errors import StoreError

    path = scene_group(scene_id, POINTS)
    attrs = store.attrs(path)
    if not attrs.get("complete"):
        raise StoreError(f"{store.path}/{path}: missing or incomplete; run ingest first")
    return from_dict(DatasetConfig, attrs["config"]["dataset"], "dataset.")


def scene_source(store, scene_id: str, configured: tuple[DatasetConfig, ...]) -> DatasetConfig:
    """Where a later stage reads a scene's files again (fuse: the frames): the first of the run
    config's datasets (``dataset``, then ``train_dataset``) whose root holds the scene, so a dataset
    moved to a new root is read from the root the config gives now (the fingerprints never held
    the root: moved data is the same data). With no dataset root in the config (``fuse`` after
    ``ingest --root``), the root the scene was ingested from."""
    given = [d for d in configured if d.root]
    if not given:
        return scene_dataset(store, scene_id)
    for dataset in given:
        root = Path(dataset.root)
        if root.is_dir() and scene_id in get_reader(dataset).list_scenes(root):
            return dataset
    roots = " nor ".join(dict.fromkeys(d.root for d in given))
    raise InputError(roots, f"scene {scene_id!r} is not here; set dataset.root (or train_dataset.root) "
                            "to where its files are now")


__all__ = ["scene_dataset", "scene_source", "DatasetConfig", "SceneReader", "get_reader", "list_scenes", "read_scene", "source_files"]
