"""Run one per-scene stage over the selected scenes, with a progress bar and the run log."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geopurify.pipeline import runlog
from geopurify.pipeline.readers import list_scenes
from geopurify.pipeline.schedule import run_stage_over_scenes, store_for_scheduler
from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.stage import Outcome, StageContext
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, FAILED, SKIPPED

from .config import RunConfig
from .registry import GROUP_OF, scene_stage
from .validate import validate

log = logging.getLogger(__name__)


@dataclass
class StageRun:
    command: str
    outcomes: list[Outcome]
    log_error: str = ""
    """Why the run log could not be written ('' when it was)."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    def summary(self) -> str:
        n = {s: sum(o.status == s for o in self.outcomes) for s in (DONE, SKIPPED, FAILED)}
        text = f"{self.command}: {n[DONE]} computed, {n[SKIPPED]} already done, {n[FAILED]} failed"
        if self.outcomes and n[DONE] == 0 and n[FAILED] == 0:
            text += " (nothing to do)"
        return text


def resolve_scenes(cfg: RunConfig, command: str, patterns: list[str] | None) -> list[str]:
    """Ingest picks from the dataset; later stages from the scenes the store holds."""
    patterns = list(patterns or cfg.dataset.scenes)
    if command == "ingest":
        available = list_scenes(cfg.dataset)
        return match_scenes(patterns, available, cfg.dataset.root)
    available = Store(cfg.store, create=False).scene_ids()
    if not patterns:
        return available
    return match_scenes(patterns, available, cfg.store)


def run_stage(command: str, cfg: RunConfig, scenes: list[str] | None = None, force: bool = False,
              console: Console | None = None, run_id: str | None = None) -> StageRun:
    validate(cfg, command)  # the stage's whole config, before any scene is touched
    cfg = dataclasses.replace(cfg, store=store_for_scheduler(cfg.store, cfg.run.scheduler))
    scene_ids = resolve_scenes(cfg, command, scenes)
    stage = scene_stage(command, cfg)
    log.debug("%s: %d scene(s) into %s, scheduler %s with %d worker(s)", command, len(scene_ids),
              cfg.store, cfg.run.scheduler, cfg.run.workers)
    Store(cfg.store)  # create (or check the format of) the store once, before any worker
    ctx = StageContext(cfg.store, cfg)
    console = console or Console(stderr=True)
    with Progress(TextColumn(f"[bold]{command:<8}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task(command, total=len(scene_ids), last="")

        def advance(outcome: Outcome) -> None:
            bar.update(task, advance=1, last=f"{outcome.scene} {outcome.status}")

        try:
            outcomes = run_stage_over_scenes(stage, ctx, scene_ids, cfg.run.scheduler, cfg.run.workers,
                                             force, on_result=advance)
        except BaseException:
            bar.live.transient = True  # the error is the one line left on the terminal
            raise
    log_error = runlog.try_append(cfg.store, outcomes, run_id or uuid.uuid4().hex[:8])
    return StageRun(command, outcomes, log_error)


__all__ = ["GROUP_OF", "StageRun", "resolve_scenes", "run_stage"]
