"""What the store holds: per scene and stage, done / stale / incomplete / missing / failed."""

from __future__ import annotations

from dataclasses import dataclass

from geopurify.pipeline import config as cfgmod
from geopurify.pipeline import runlog
from geopurify.pipeline.errors import GeopurifyError
from geopurify.pipeline.stage import StageContext
from geopurify.pipeline.store import Store

from .config import RunConfig
from .registry import GROUP_OF, UPSTREAM, available, scene_stage


@dataclass
class Cell:
    state: str
    """``done``, ``stale``, ``incomplete``, ``missing`` or ``failed``."""
    seconds: float | None = None
    note: str = ""


def stage_state(store: Store, cfg: RunConfig | None, command: str, scene_id: str,
                failures: dict) -> Cell:
    stage = scene_stage(command)
    path = stage.group_path(scene_id)
    attrs = store.attrs(path)
    failed = failures.get((scene_id, stage.name))
    if not attrs.get("complete"):
        if failed is not None:
            return Cell("failed", note=failed.get("error", ""))
        return Cell("incomplete" if attrs else "missing")
    timings = attrs.get("timings", {})
    seconds = round(sum(v for v in timings.values() if isinstance(v, (int, float))), 2)
    # judge against the given config, or else the config the group was made with
    run_cfg = cfg if cfg is not None else cfgmod.merge(RunConfig(), attrs.get("config", {}))
    try:
        expected = stage.fingerprint(StageContext(store.path, run_cfg), scene_id)
    except GeopurifyError as exc:
        return Cell("stale", seconds, f"inputs unavailable: {exc}")
    if expected != attrs.get("fingerprint"):
        return Cell("stale", seconds, "inputs or config changed")
    return Cell("done", seconds)


def store_status(store_path: str, cfg: RunConfig | None = None,
                 commands: tuple[str, ...] = tuple(GROUP_OF)) -> dict[str, dict[str, Cell]]:
    """scene -> command -> Cell, for every scene the store holds."""
    store = Store(store_path, create=False)
    failures = runlog.last_outcomes(store_path)
    failures = {k: v for k, v in failures.items() if v.get("status") == "failed"}
    commands = tuple(c for c in commands if available(c))
    table: dict[str, dict[str, Cell]] = {}
    for scene_id in store.scene_ids():
        row: dict[str, Cell] = {}
        for c in commands:  # pipeline order: upstream cells are judged first
            cell = stage_state(store, cfg, c, scene_id, failures)
            stale_up = [u for u in UPSTREAM[c] if u in row and row[u].state != "done"]
            if cell.state == "done" and stale_up:
                cell = Cell("stale", cell.seconds, f"upstream {stale_up[0]} is not done")
            row[c] = cell
        table[scene_id] = row
    return table
