"""Teacher pretraining from the command line or a run config: which scans, which recipe, and never
the scenes the run evaluates on."""

from __future__ import annotations

from pathlib import Path

from geopurify.pipeline.errors import ConfigError
from geopurify.pipeline.selection import expand_patterns, match_scenes
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import SCENES
from geopurify.stages.teacher.data import StoreScenes
from geopurify.stages.teacher.pretrain import pretrain_teacher

from .config import RunConfig


def pretrain_cli(cfg: RunConfig, geometry: list[str], out: Path, scenes: list[str] | None = None,
                 preset: str = "cpu", epochs: int | None = None, seed: int = 0,
                 resume: bool = True) -> Path:
    """``geopurify-run pretrain-teacher``: ``geometry`` holds PLY files or folders, ScanNet scan
    folders, or one store (then ``scenes`` picks its scenes; default all). ``cfg``'s evaluation
    scenes (``dataset.scenes``) are refused among them."""
    return pretrain_teacher(geometry_sources(geometry, scenes), Path(out), preset=preset,
                            epochs=epochs, seed=seed, resume=resume,
                            evaluation_scenes=evaluation_scenes(cfg))


def pretrain_from_config(cfg: RunConfig, checkpoint: Path) -> Path:
    """Make ``checkpoint`` from the run config's ``teacher.pretrain_*`` settings (used by ``all``)."""
    teacher = cfg.teacher
    if not teacher.pretrain_geometry:
        raise ConfigError(f"teacher.checkpoint {checkpoint} does not exist and teacher.pretrain_geometry "
                          "is empty: run pretrain-teacher or set teacher.pretrain_geometry")
    return pretrain_teacher(geometry_sources(teacher.pretrain_geometry, teacher.pretrain_scenes or None),
                            Path(checkpoint), preset=teacher.pretrain_preset,
                            epochs=teacher.pretrain_epochs or None, seed=teacher.pretrain_seed,
                            progress=False, evaluation_scenes=evaluation_scenes(cfg))


def evaluation_scenes(cfg: RunConfig) -> tuple[str, ...]:
    """The names and globs of the scenes the run evaluates on (``dataset.scenes``, @files read)."""
    return tuple(expand_patterns(list(cfg.dataset.scenes)))


def geometry_sources(geometry: list[str], scenes: list[str] | None) -> list[Path] | StoreScenes:
    """A store (a folder with ``zarr.json`` and ``scenes/``) becomes StoreScenes; else paths."""
    stores = [g for g in geometry if (Path(g) / "zarr.json").is_file() and (Path(g) / SCENES).is_dir()]
    if not stores:
        if scenes:
            raise ConfigError("--scenes picks scenes of a store; --geometry names no store")
        return [Path(g) for g in geometry]
    if len(geometry) != 1:
        raise ConfigError("--geometry: give one store, or PLY/scan folders, not a mix")
    available = Store(stores[0], create=False).scene_ids()
    chosen = match_scenes(scenes, available, stores[0]) if scenes else available
    return StoreScenes(stores[0], chosen)
