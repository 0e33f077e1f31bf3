"""One check of the run config before any stage runs, so a bad value fails in seconds, naming its
key, with nothing written.

Where each rule lives: a rule about one value (its type, range or choices) is declared with its
field in the config dataclasses and checked by pydantic as the config is read, and again here by
``check_values`` for configs built in code (``dataclasses.replace`` checks nothing). This module
keeps what one value cannot tell: settings that must agree with each other (the stages'
``check_config``), the folders and files the run will read (a checkpoint that is a folder, a
dataset root that does not exist), and the notes worth saying once."""

from __future__ import annotations

from pathlib import Path

from geopurify.pipeline.config import check_values
from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.readers import get_reader
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT
from geopurify.stages.distill.config import check as check_distill
from geopurify.stages.fuse.checkpoint import LOCAL_DIR, checkpoint_kind
from geopurify.stages.fuse.stage import check_config as check_fuse
from geopurify.stages.ingest.config import check_config as check_ingest
from geopurify.stages.labelsets import protocol_ids
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
    check_values(cfg)  # every value, by its declaration
    if not cfg.store:
        raise ConfigError("no store: pass --store or set store in the config")
    parts = COMMAND_CHECKS[command]
    # settings that must agree first (a typo is named before a missing folder), then the paths
    checks = {"dataset": lambda: (check_ingest(cfg.ingest), get_reader(cfg.dataset.kind) if cfg.dataset.kind else None),
              "fuse": lambda: check_fuse(cfg.fuse), "teacher": lambda: check_teacher(cfg.teacher),
              "distill": lambda: check_distill(cfg.distill), "purify": lambda: check_purify(cfg.purify),
              "score": lambda: protocol_ids(cfg.score.protocol), "evaluation": lambda: None}
    for part in parts:
        checks[part]()
    notes = _evaluation_notes(cfg) if "evaluation" in parts else []
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
        raise ConfigError(f"{key}.kind is empty: expected a dataset layout (scannet, nerfstudio, generic, pointcloud, "
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
        kind = checkpoint_kind(ckpt)
        local = ckpt[len(LOCAL_DIR):] if kind == "local-dir" else ckpt
        if kind in ("file", "local-dir") and not Path(local).exists():
            raise InputError(local, "fuse.openclip.checkpoint: not found")
        if not ckpt.startswith("local-dir:") and Path(ckpt).is_dir():
            raise InputError(ckpt, "fuse.openclip.checkpoint: a folder, expected a weights file "
                                   "(local-dir:<folder> for an open_clip model folder)")


def _check_teacher_paths(cfg: RunConfig, pretrain_allowed: bool) -> None:
    teacher = cfg.teacher
    if teacher.kind == "geometric":
        return
    if not teacher.checkpoint:
        raise ConfigError(f"teacher.kind = {teacher.kind!r} needs teacher.checkpoint (--checkpoint FILE)")
    if Path(teacher.checkpoint).is_file():
        return
    if Path(teacher.checkpoint).is_dir():
        raise InputError(teacher.checkpoint, "teacher.checkpoint: a folder, expected a checkpoint file")
    if pretrain_allowed and teacher.kind == "ssl" and teacher.pretrain_geometry:
        for source in teacher.pretrain_geometry:  # `all` will pretrain it from these
            if not Path(source).exists():
                raise InputError(source, "teacher.pretrain_geometry: not found")
        return
    raise InputError(teacher.checkpoint, "teacher.checkpoint: file not found")


def _evaluation_notes(cfg: RunConfig) -> list[str]:
    ev = cfg.evaluation  # its values (known, distinct affinities and seeds) are declared in config.py
    notes = []
    if AFFINITY_STUDENT in ev.affinities and not (cfg.distill.train_scenes or cfg.train_dataset.kind):
        notes.append("no training scenes (train_dataset, distill.train_scenes): no student is trained, "
                     "so student pooling is left out")
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
