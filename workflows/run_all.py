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
from geopurify.pipeline.selection import select_scenes
from geopurify.pipeline.stage import Outcome, StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, DONE, FAILED, LABEL, POINTS, SKIPPED, TEXT, scene_group, text_group,
)

from .config import RunConfig
from .joins import distill_student, teacher_checkpoint
from .registry import scene_stage
from .validate import validate


@dataclass
class AllResult:
    outcomes: list[Outcome] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    """The main store, then one per further evaluation seed."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage, summed over scenes."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]


def seed_store_path(store: str, seed: int) -> str:
    base = store[:-5] if store.endswith(".zarr") else store
    return f"{base}.seed{seed}.zarr"


def scene_lists(cfg: RunConfig) -> tuple[list[str], list[str]]:
    """Evaluation and training scene ids; they must not overlap (never train on what is scored)."""
    eval_ids = select_scenes(cfg.dataset.scenes, list_scenes(cfg.dataset), cfg.dataset.root)
    train_ids: list[str] = []
    if cfg.train_dataset.kind:
        train_ids = select_scenes(cfg.train_dataset.scenes, list_scenes(cfg.train_dataset),
                                  cfg.train_dataset.root)
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


def _run_join(job, cfg, *args) -> Outcome:
    """Distill or teacher pretraining: one job over many scenes. Any failure is an outcome (with
    its traceback when unexpected), so the per-scene work that does not need it still finishes."""
    started = time.perf_counter()
    try:
        status = job(cfg, *args)
    except GeopurifyError as exc:
        return Outcome("*", job.__name__, FAILED, time.perf_counter() - started, str(exc))
    except Exception as exc:  # a bug or an unforeseen input: recorded with its traceback
        return Outcome("*", job.__name__, FAILED, time.perf_counter() - started,
                       f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return Outcome("*", job.__name__, status, time.perf_counter() - started)


def build_graph(cfg: RunConfig, eval_ids: list[str], train_ids: list[str], force: bool,
                student_from: str | None = None) -> list:
    """All nodes of one store's run, in an order fit for reporting."""
    eval_ctx = StageContext(cfg.store, cfg)
    train_ctx = StageContext(cfg.store, dataclasses.replace(cfg, dataset=cfg.train_dataset))
    ctx_of = {**{s: eval_ctx for s in eval_ids}, **{s: train_ctx for s in train_ids}}
    ingest, fuse, teacher = scene_stage("ingest"), scene_stage("fuse"), scene_stage("teacher")
    nodes = []
    text = dask.delayed(_prepare, pure=False)(fuse, eval_ctx, eval_ids + train_ids)
    teacher_ready = dask.delayed(_run_join, pure=False)(teacher_checkpoint, cfg)
    nodes += [text, teacher_ready]
    fused, taught = {}, {}
    for sid in eval_ids + train_ids:
        ctx = ctx_of[sid]
        ing = _node(run_scene, ingest, ctx, sid, force)
        fused[sid] = _node(run_scene, fuse, ctx, sid, force, upstream=[ing, text])
        taught[sid] = _node(run_scene, teacher, ctx, sid, force, upstream=[ing, teacher_ready])
        nodes += [ing, fused[sid], taught[sid]]
    student = None
    if student_from is None and train_ids:
        student = dask.delayed(_run_join, pure=False)(
            distill_student, cfg, train_ids, force,
            dask.delayed(list)([fused[s] for s in train_ids] + [taught[s] for s in train_ids]))
        nodes.append(student)
    purified = []
    for affinity in cfg.evaluation.affinities:
        if affinity == AFFINITY_STUDENT and student is None and student_from is None:
            continue  # no training scenes: nothing to distill
        purify = dataclasses.replace(cfg.purify, affinity=affinity)
        if student_from:
            purify = dataclasses.replace(purify, student=student_from)
        stage_cfg = dataclasses.replace(cfg, purify=purify)
        for sid in eval_ids:
            up = [fused[sid], taught[sid]] + (
                [student] if student is not None and affinity == AFFINITY_STUDENT else [])
            node = _node(run_purify, StageContext(cfg.store, stage_cfg), sid, force, upstream=up)
            purified.append(node)
    nodes += purified
    return nodes


def run_purify(ctx: StageContext, scene_id: str, force: bool) -> Outcome:
    """Purify one scene with ``ctx``'s affinity; the oracle is skipped where there are no labels."""
    stage = scene_stage("purify", ctx.cfg)
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
        nodes = build_graph(run_cfg, eval_ids, trains, force, student_from)
        outcomes = compute_graph(nodes, run_cfg.run.scheduler, run_cfg.run.workers, on_result)
        runlog.append(run_cfg.store, outcomes, run_id)
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
    return sum(len(build_graph(cfg, eval_ids, train_ids if i == 0 else [], False,
                               None if i == 0 else cfg.store))
               for i, _ in enumerate(evaluation_seeds(cfg)))


__all__ = ["AllResult", "run_all", "seed_store_path", "scene_lists", "count_nodes", "Path"]
