"""The one run config: every section a stage reads, loaded from TOML plus ``--set`` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from geopurify.pipeline import config as cfgmod
from geopurify.pipeline.choices import Affinity, Scheduler, choices
from geopurify.pipeline.config import CHECKED, NOT_FINGERPRINTED, Ge, Int, MinLen, OptionalText, Text
from geopurify.pipeline.readers.base import DatasetConfig
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT
from geopurify.stages.distill.config import DistillConfig
from geopurify.stages.fuse.checkpoint import checkpoint_kind
from geopurify.stages.fuse.config import FuseConfig
from geopurify.stages.ingest.config import IngestConfig
from geopurify.stages.purify.config import PurifyConfig
from geopurify.stages.score import ScoreConfig
from geopurify.stages.teacher.config import TeacherConfig

DEFAULT_CONFIG_FILE = "geopurify.toml"


def _scheduler(name: str) -> str:
    if name not in choices(Scheduler) and not (name.startswith("tcp://") and len(name) > len("tcp://")):
        raise ValueError("one of " + ", ".join(choices(Scheduler)) + " or tcp://host:port")
    return name


def _distinct(items: list) -> list:
    if len(set(items)) != len(items):
        raise ValueError("no item listed twice")
    return items


@dataclass
class RunOptions:
    __pydantic_config__ = CHECKED

    scheduler: Annotated[Text, AfterValidator(_scheduler),
                         Field(json_schema_extra={"pattern": "^(threads|processes|local-cluster|tcp://.+)$"})] = "threads"
    """``threads``, ``processes``, ``local-cluster`` or ``tcp://host:port``."""
    workers: Annotated[Int, Ge(1)] = 2
    """Dask workers (threads or processes) of the local schedulers."""


@dataclass
class EvaluationConfig:
    __pydantic_config__ = CHECKED

    seeds: Annotated[list[Int], AfterValidator(_distinct)] = field(default_factory=lambda: [0])
    """Simulator seeds of the evaluation scenes; the first is the run's own, each further one gets
    an evaluation store beside the main one (``<store>.seed<k>``), sharing the trained student."""
    affinities: Annotated[list[Affinity], MinLen(1), AfterValidator(_distinct)] = field(
        default_factory=lambda: [AFFINITY_STUDENT, "geometric", "oracle"])
    """Affinity sources the report compares (``oracle`` only where labels exist)."""


@dataclass
class RunConfig:
    __pydantic_config__ = CHECKED

    store: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """Path (or URL) of the run store."""
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    """The evaluation scenes (purified and scored)."""
    train_dataset: DatasetConfig = field(default_factory=lambda: DatasetConfig(kind="", root=""))
    """Extra scenes the student trains on (ingested, fused, taught; not scored). Empty kind: none."""
    ingest: IngestConfig = field(default_factory=IngestConfig)
    fuse: FuseConfig = field(default_factory=FuseConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    purify: PurifyConfig = field(default_factory=PurifyConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    run: RunOptions = field(default_factory=RunOptions, metadata=NOT_FINGERPRINTED)


def load_run_config(config_file: str | Path | None = None, overrides: list[str] = (),
                    search_cwd: bool = True) -> RunConfig:
    """Defaults, then the TOML file (``--config`` or ``./geopurify.toml``), then ``--set`` overrides,
    every value checked as it is read (one-line ConfigError naming the key). Relative paths in a
    config file are taken relative to the file's folder."""
    cfg = RunConfig()
    if config_file is None and search_cwd and Path(DEFAULT_CONFIG_FILE).is_file():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None:
        cfg = config_from_toml(config_file, Path(config_file).resolve().parent)
    data: dict = {}
    for item in overrides:
        data = cfgmod.deep_merge(data, cfgmod.parse_override(item))
    return cfgmod.merge(cfg, data) if data else cfg


def config_from_toml(path: str | Path, base: Path) -> RunConfig:
    """A run config from a TOML file whose relative paths are taken from ``base``; a bad value is
    refused naming the file and the key."""
    from geopurify.pipeline.errors import ConfigError

    data = cfgmod.load_toml(path)
    _resolve_paths(data, base)
    try:
        return cfgmod.merge(RunConfig(), data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def run_config_toml(cfg: RunConfig) -> str:
    """The resolved config as TOML (``geopurify-run config``). Relative paths (from ``--set`` or
    ``--store``, taken from the working folder) are written absolute, so the file reads back as the
    same config wherever it is saved."""
    import dataclasses

    data = dataclasses.asdict(cfg)
    _resolve_paths(data, Path.cwd())
    return cfgmod.to_toml(data)


def run_config_schema() -> dict:
    """The JSON schema of a run config file (``geopurify-run config --schema``), for editors."""
    schema = cfgmod.json_schema(RunConfig)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
            "title": "geopurify run config", "description": __doc__.strip()}


# keys that hold filesystem paths, resolved against the config file's folder
_PATH_KEYS = {("store",), ("dataset", "root"), ("train_dataset", "root"), ("teacher", "checkpoint"),
              ("teacher", "pretrain_geometry"), ("fuse", "precomputed_dir"), ("fuse", "cache_dir"),
              ("purify", "student"), ("fuse", "openclip", "checkpoint"), ("fuse", "openscene", "dir")}
# of those, keys that may also hold a name that is not a path (a model tag, ``random``)
_TAG_KEYS = {("fuse", "openclip", "checkpoint")}


def _resolve_paths(data: dict, base: Path) -> None:
    for key in _PATH_KEYS:
        node = data
        for part in key[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict) or key[-1] not in node:
            continue
        value = node[key[-1]]
        resolve = lambda v: _resolve(v, base, may_be_tag=key in _TAG_KEYS)  # noqa: E731
        node[key[-1]] = [resolve(v) for v in value] if isinstance(value, list) else resolve(value)


def _resolve(value, base: Path, may_be_tag: bool = False):
    if not isinstance(value, str) or not value or "://" in value or Path(value).is_absolute():
        return value
    if value.startswith("local-dir:"):
        return "local-dir:" + _resolve(value[len("local-dir:"):], base)
    if may_be_tag and checkpoint_kind(value) in ("random", "tag"):
        return value  # not a path (stages/fuse/checkpoint.py: the one rule)
    return str((base / value).resolve())
