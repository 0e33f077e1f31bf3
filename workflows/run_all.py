"""``all``: ingest -> fuse -> teacher -> distill -> purify -> score as one Dask graph.

Per-scene stages of different scenes run in parallel; distill is the join over the training
scenes; every node is resumable because every stage skips groups that are already done.
Evaluation seeds beyond the first get their own store beside the main one (same config, other
simulator seed, the main store's student), so each store stays one run.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import dask

from geopurify.pipeline import runlog
from geopurify.pipeline.errors import ConfigError, GeopurifyError
from geopurify.pipeline.lock import store_lock
from geopurify.pipeline.readers import list_scenes
from geopurify.pipeline.schedule import compute_graph, store_for_scheduler
from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.stage import Outcome, StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, DISTILL_JOB, DONE, FAILED, GROUP_COMMAND, LABEL, POINTS, SKIPPED, TEACHER_JOB, TEXT,
    scene_group, text_group,
)
from geopurify.stages.distill.reads import READS as DISTILL_READS

from .config import RunConfig
from .joins import distill_student, teacher_checkpoint
from .registry import STAGE_CLASSES, UPSTREAM, scene_stage, with_affinity
from .validate import validate


@dataclass
class AllResult:
    outcomes: list[Outcome] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    """The main store, then one per further evaluation seed."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage, summed over scenes."""
    log_errors: list[str] = field(default_factory=list)
    """Run-log writes that failed (a read-only or full store); the outcomes keep their own reasons."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]


def seed_store_path(store: str, seed: int) -> str:
    base = store[:-5] if store.endswith(".zarr") else store
    return f"{base}.seed{seed}.zarr"


def training_source(cfg: RunConfig):
    """The dataset the training scenes are read from: ``train_dataset`` when it names one, else
    ``dataset`` (then ``distill.train_scenes`` picks scenes of it that are not evaluated)."""
    return cfg.train_dataset if cfg.train_dataset.kind else cfg.dataset


def training_patterns(cfg: RunConfig) -> list[str]:
    """The training scenes as ``distill`` reads them: ``distill.train_scenes``, else
    ``train_dataset.scenes``; empty: no student is trained."""
    if cfg.distill.train_scenes:
        return list(cfg.distill.train_scenes)
    return list(cfg.train_dataset.scenes) if cfg.train_dataset.kind else []


def scene_lists(cfg: RunConfig) -> tuple[list[str], list[str]]:
    """Evaluation and training scene ids; they must not overlap (never train on what is scored)."""
    eval_ids = match_scenes(cfg.dataset.scenes, list_scenes(cfg.dataset), cfg.dataset.root)
    train_ids: list[str] = []
    patterns = training_patterns(cfg)
    if patterns:
        source = training_source(cfg)
        train_ids = match_scenes(patterns, list_scenes(source), source.root)
    overlap = sorted(set(eval_ids) & set(train_ids))
    if overlap:
        raise ConfigError(f"scene {overlap[0]} is both an evaluation and a training scene")
    return eval_ids, train_ids


def _after(fn, *args):
    """A graph node: run ``fn(*args[:-n])`` unless an upstream outcome failed."""
    def node(*call_args, upstream=()):
        bad = [u for u in upstream if isinstance(u, Outcome) and u.status == FAILED]
        if bad:
            scene = call_args[2] if len(call_args) > 2 and isinstance(call_args[2], str) else "*"
            name = getattr(call_args[0], "name", fn.__name__)
            return Outcome(scene, name, FAILED, error=f"upstream {bad[0].stage} of {bad[0].scene} failed")
        return fn(*call_args)
    return node


def _node(fn, *args, upstream=()):
    return dask.delayed(_after(fn), pure=False)(*args, upstream=list(upstream))


def _prepare(stage, ctx, scene_ids) -> Outcome:
    """The fuse stage's run-level step: the vocabulary's text embeddings."""
    from geopurify.stages.fuse.text import text_fingerprint

    started = time.perf_counter()
    path = text_group(ctx.cfg.fuse.vocab)
    was_done = ctx.store.is_done(path, text_fingerprint(ctx.cfg.fuse))
    try:
        stage.prepare(ctx, scene_ids)
    except GeopurifyError as exc:  # reported like a scene failure; the dependent nodes are skipped
        return Outcome("*", TEXT, FAILED, error=str(exc))
    except Exception as exc:
        return Outcome("*", TEXT, FAILED, error=f"{type(exc).__name__}: {exc}",
                       detail=traceback.format_exc())
    return Outcome("*", TEXT, SKIPPED if was_done else DONE, time.perf_counter() - started)


def _run_join(name: str, job, cfg, *args) -> Outcome:
    """Distill or teacher pretraining: one job over many scenes, logged as ``name``. Any failure is
    an outcome (with its traceback when unexpected), so the per-scene work that does not need it
    still finishes."""
    started = time.perf_counter()
    try:
        status = job(cfg, *args)
    except GeopurifyError as exc:
        return Outcome("*", name, FAILED, time.perf_counter() - started, str(exc))
    except Exception as exc:  # a bug or an unforeseen input: recorded with its traceback
        return Outcome("*", name, FAILED, time.perf_counter() - started,
                       f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return Outcome("*", name, status, time.perf_counter() - started)


PER_SCENE = tuple(c for c in STAGE_CLASSES if c != "purify")
"""The commands ``all`` runs on every scene, evaluation and training alike (purify: evaluation
scenes only, once per affinity)."""


def build_run_graph(cfg: RunConfig, eval_ids: list[str], train_ids: list[str], force: bool,
                    student_from: str | None = None) -> list:
    """All nodes of one store's run, in an order fit for reporting. A scene's nodes wait for the
    nodes of the groups their stage reads (``registry.UPSTREAM``); fuse also waits for the text
    embeddings, teacher for its checkpoint, student pooling for the distilled student."""
    eval_ctx = StageContext(cfg.store, cfg)
    train_ctx = StageContext(cfg.store, dataclasses.replace(cfg, dataset=training_source(cfg)))
    ctx_of = {**{s: eval_ctx for s in eval_ids}, **{s: train_ctx for s in train_ids}}
    stages = {command: scene_stage(command, cfg) for command in PER_SCENE}
    text = dask.delayed(_prepare, pure=False)(stages["fuse"], eval_ctx, eval_ids + train_ids)
    teacher_ready = dask.delayed(_run_join, pure=False)(TEACHER_JOB, teacher_checkpoint, cfg)
    run_level = {"fuse": [text], "teacher": [teacher_ready]}
    nodes = [text, teacher_ready]
    done: dict[str, dict] = {}  # scene -> command -> node
    for sid in eval_ids + train_ids:
        done[sid] = {}
        for command in PER_SCENE:
            up = [done[sid][u] for u in UPSTREAM[command]] + run_level.get(command, [])
            done[sid][command] = _node(run_scene, stages[command], ctx_of[sid], sid, force, upstream=up)
            nodes.append(done[sid][command])
    student = None
    if student_from is None and train_ids:
        distill_reads = [done[s][GROUP_COMMAND[g]] for s in train_ids for g in DISTILL_READS]
        student = dask.delayed(_run_join, pure=False)(
            DISTILL_JOB, distill_student, cfg, train_ids, force, dask.delayed(list)(distill_reads))
        nodes.append(student)
    for affinity in cfg.evaluation.affinities:
        uses_student = affinity == AFFINITY_STUDENT
        if uses_student and student is None and student_from is None:
            continue  # no training scenes: nothing to distill (validate's notes say so)
        purify_cfg = with_affinity(cfg, affinity, student_from)
        stage, ctx = scene_stage("purify", purify_cfg), StageContext(cfg.store, purify_cfg)
        for sid in eval_ids:
            up = [done[sid][u] for u in UPSTREAM["purify"]] + (
                [student] if uses_student and student is not None else [])
            nodes.append(_node(run_purify, stage, ctx, sid, force, upstream=up))
    return nodes


def run_purify(stage, ctx: StageContext, scene_id: str, force: bool) -> Outcome:
    """Purify one scene with ``stage``'s affinity; the oracle is skipped where there are no labels."""
    points = ctx.store.group(scene_group(scene_id, POINTS))
    if stage.affinity == "oracle" and (points is None or LABEL not in points):
        return Outcome(scene_id, stage.name, SKIPPED, detail="no labels: no oracle")
    return run_scene(stage, ctx, scene_id, force)


def run_all(cfg: RunConfig, force: bool = False, on_result=None, lock_wait: float | None = 0.0) -> AllResult:
    """The whole graph for every evaluation seed. The config is checked first (nothing is written
    when it is bad); the store lock is held throughout (``lock_wait`` None: the caller holds it)."""
    validate(cfg, "all")  # callers that print its notes (the CLI) call it first themselves
    cfg = dataclasses.replace(cfg, store=store_for_scheduler(cfg.store, cfg.run.scheduler))
    eval_ids, train_ids = scene_lists(cfg)
    Store(cfg.store)
    if lock_wait is None:
        result = _run_seeds(cfg, eval_ids, train_ids, force, on_result)
    else:
        with store_lock(cfg.store, lock_wait):
            result = _run_seeds(cfg, eval_ids, train_ids, force, on_result)
    return result


def evaluation_seeds(cfg: RunConfig) -> list[int]:
    """The simulator seeds to evaluate; other 2D sources have none, so one store."""
    if cfg.fuse.source != "simulated":
        return [cfg.fuse.simulated.seed]
    return list(cfg.evaluation.seeds or [cfg.fuse.simulated.seed])


def _run_seeds(cfg: RunConfig, eval_ids: list[str], train_ids: list[str], force: bool, on_result) -> AllResult:
    result = AllResult()
    run_id = uuid.uuid4().hex[:8]
    for i, seed in enumerate(evaluation_seeds(cfg)):
        if i == 0:
            run_cfg, student_from, trains = _with_seed(cfg, seed), None, train_ids
        else:
            run_cfg = dataclasses.replace(_with_seed(cfg, seed), store=seed_store_path(cfg.store, seed))
            student_from, trains = cfg.store, []
        Store(run_cfg.store)
        nodes = build_run_graph(run_cfg, eval_ids, trains, force, student_from)
        outcomes = compute_graph(nodes, run_cfg.run.scheduler, run_cfg.run.workers, on_result)
        log_error = runlog.try_append(run_cfg.store, outcomes, run_id)
        if log_error:
            result.log_errors.append(log_error)
        result.outcomes += outcomes
        result.stores.append(run_cfg.store)
        if any(o.status == FAILED for o in outcomes):
            break
    for o in result.outcomes:
        result.seconds[o.stage] = result.seconds.get(o.stage, 0.0) + o.seconds
    return result


def _with_seed(cfg: RunConfig, seed: int) -> RunConfig:
    sim = dataclasses.replace(cfg.fuse.simulated, seed=seed)
    return dataclasses.replace(cfg, fuse=dataclasses.replace(cfg.fuse, simulated=sim))


def count_nodes(cfg: RunConfig) -> int:
    eval_ids, train_ids = scene_lists(cfg)
    return sum(len(build_run_graph(cfg, eval_ids, train_ids if i == 0 else [], False,
                               None if i == 0 else cfg.store))
               for i, _ in enumerate(evaluation_seeds(cfg)))


__all__ = ["AllResult", "run_all", "seed_store_path", "scene_lists", "count_nodes", "Path"]
