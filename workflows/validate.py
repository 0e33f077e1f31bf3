"""One check of the run config before any stage runs: every stage's settings, ``evaluation.*``
and the paths the run will read, so a bad value fails in seconds, naming its key, with nothing
written."""

from __future__ import annotations

from pathlib import Path

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.readers import get_reader
from geopurify.pipeline.schedule import check_scheduler
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT
from geopurify.stages.distill.config import check as check_distill
from geopurify.stages.fuse.stage import check_config as check_fuse
from geopurify.stages.ingest.config import check_config as check_ingest
from geopurify.stages.labelsets import protocol_ids
from geopurify.stages.purify.config import AFFINITIES
from geopurify.stages.purify.stage import check_config as check_purify
from geopurify.stages.teacher.stage import check_config as check_teacher

from .config import RunConfig

COMMAND_CHECKS = {
    "ingest": ("dataset",),
    "fuse": ("fuse",),
    "teacher": ("teacher",),
    "distill": ("distill",),
    "purify": ("purify",),
    "all": ("dataset", "fuse", "teacher", "distill", "purify", "score", "evaluation"),
}
"""Command -> the parts of the run config it depends on."""


def validate(cfg: RunConfig, command: str) -> list[str]:
    """Raise a one-line ConfigError / InputError for the first bad setting ``command`` depends on;
    return notes worth saying once (``evaluation.*`` replacing a stage's own key)."""
    if not cfg.store:
        raise ConfigError("no store: pass --store or set store in the config")
    check_scheduler(cfg.run.scheduler)
    if cfg.run.workers is not None and cfg.run.workers < 1:
        raise ConfigError(f"run.workers = {cfg.run.workers}: expected >= 1")
    parts = COMMAND_CHECKS[command]
    # values first (a typo is named before a missing folder), then the paths the run reads
    checks = {"dataset": lambda: (check_ingest(cfg.ingest), get_reader(cfg.dataset.kind) if cfg.dataset.kind else None),
              "fuse": lambda: check_fuse(cfg.fuse), "teacher": lambda: check_teacher(cfg.teacher),
              "distill": lambda: check_distill(cfg.distill), "purify": lambda: check_purify(cfg.purify),
              "score": lambda: protocol_ids(cfg.score.protocol), "evaluation": lambda: None}
    for part in parts:
        checks[part]()
    notes = _check_evaluation(cfg) if "evaluation" in parts else []
    if "dataset" in parts:
        _check_dataset(cfg.dataset, "dataset")
        if command == "all" and cfg.train_dataset.kind:
            _check_dataset(cfg.train_dataset, "train_dataset")
    if "fuse" in parts:
        _check_fuse_paths(cfg)
    if "teacher" in parts:
        _check_teacher_paths(cfg, pretrain_allowed=command == "all")
    if "purify" in parts and cfg.purify.student and not Path(cfg.purify.student).exists():
        raise InputError(cfg.purify.student, "purify.student not found (a .pt file or a run store)")
    return notes


def _check_dataset(dataset, key: str) -> None:
    if not dataset.kind:
        raise ConfigError(f"{key}.kind is empty: expected a dataset layout (scannet, generic, pointcloud, "
                          "pointcept, openscene)")
    get_reader(dataset.kind)  # an unknown kind, named
    if not dataset.root:
        raise ConfigError(f"{key}.root is empty: pass --root or set {key}.root in the config")
    if not Path(dataset.root).is_dir():
        raise InputError(dataset.root, f"{key}.root: folder not found")


def _check_fuse_paths(cfg: RunConfig) -> None:
    fuse = cfg.fuse
    if fuse.source == "precomputed" and not (fuse.precomputed_dir and Path(fuse.precomputed_dir).is_dir()):
        raise InputError(fuse.precomputed_dir or "(empty)", "fuse.precomputed_dir: folder not found")
    if fuse.source == "openscene" and not (fuse.openscene.dir and Path(fuse.openscene.dir).is_dir()):
        raise InputError(fuse.openscene.dir or "(empty)", "fuse.openscene.dir: folder not found")
    ckpt = fuse.openclip.checkpoint
    uses_openclip = fuse.source == "openclip" or fuse.text_encoder_kind() == "openclip"
    if uses_openclip and ckpt:
        local = ckpt[len("local-dir:"):] if ckpt.startswith("local-dir:") else ckpt
        looks_like_path = ckpt.startswith("local-dir:") or "/" in ckpt or Path(ckpt).suffix
        if looks_like_path and not Path(local).exists():
            raise InputError(local, "fuse.openclip.checkpoint: not found")


def _check_teacher_paths(cfg: RunConfig, pretrain_allowed: bool) -> None:
    teacher = cfg.teacher
    if teacher.kind == "geometric":
        return
    if not teacher.checkpoint:
        raise ConfigError(f"teacher.kind = {teacher.kind!r} needs teacher.checkpoint (--checkpoint FILE)")
    if Path(teacher.checkpoint).is_file():
        return
    if pretrain_allowed and teacher.kind == "ssl" and teacher.pretrain_geometry:
        for source in teacher.pretrain_geometry:  # `all` will pretrain it from these
            if not Path(source).exists():
                raise InputError(source, "teacher.pretrain_geometry: not found")
        return
    raise InputError(teacher.checkpoint, "teacher.checkpoint: file not found")


def _check_evaluation(cfg: RunConfig) -> list[str]:
    ev = cfg.evaluation
    if not ev.affinities:
        raise ConfigError("evaluation.affinities is empty: expected some of " + ", ".join(AFFINITIES))
    for affinity in ev.affinities:
        if affinity not in AFFINITIES:
            raise ConfigError(f"evaluation.affinities: {affinity!r} is not one of {', '.join(AFFINITIES)}")
    if len(set(ev.affinities)) != len(ev.affinities):
        raise ConfigError("evaluation.affinities: an affinity is listed twice")
    if len(set(ev.seeds)) != len(ev.seeds):
        raise ConfigError("evaluation.seeds: a seed is listed twice")
    notes = []
    if cfg.purify.affinity != AFFINITY_STUDENT:
        notes.append(f"evaluation.affinities = {ev.affinities} replaces purify.affinity "
                     f"({cfg.purify.affinity!r}): each affinity writes its own group")
    if cfg.fuse.source == "simulated":
        if ev.seeds and ev.seeds[0] != cfg.fuse.simulated.seed:
            notes.append(f"evaluation.seeds = {ev.seeds} replace fuse.simulated.seed "
                         f"({cfg.fuse.simulated.seed}): one store per seed")
    elif len(ev.seeds) > 1:
        notes.append(f"evaluation.seeds = {ev.seeds} ignored: seeds are the simulated source's, "
                     f"and fuse.source is {cfg.fuse.source!r} (one store)")
    return notes
