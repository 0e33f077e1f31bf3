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
    if cfg is None:
        run_cfg = cfgmod.merge(RunConfig(), attrs.get("config", {}))
    else:  # a scene's raw files stay where it was ingested from (eval or training dataset)
        recorded = store.attrs(f"scenes/{scene_id}/points").get("config", {}).get("dataset")
        run_cfg = cfgmod.merge(cfg, {"dataset": recorded}) if recorded else cfg
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


def student_state(store_path: str, table: dict[str, dict[str, Cell]], cfg: RunConfig | None = None) -> Cell:
    """The store's student: stale when a training scene's fused or teacher group changed since it
    was trained (or is itself not done), or when the given config's distill settings differ."""
    from geopurify.stages.distill.config import MODEL_GROUP, DistillConfig

    store = Store(store_path, create=False)
    attrs = store.attrs(MODEL_GROUP)
    if not attrs.get("complete"):
        return Cell("incomplete" if attrs else "missing")
    seconds = attrs.get("training", {}).get("seconds")
    for scene, groups in attrs.get("inputs", {}).items():
        row = table.get(scene, {})
        for command, group in (("fuse", "fused"), ("teacher", "teacher")):
            if row.get(command) is not None and row[command].state != "done":
                return Cell("stale", seconds, f"{scene} {command} is not done")
            current = store.attrs(f"scenes/{scene}/{group}").get("fingerprint")
            if group in groups and current != groups[group]:
                return Cell("stale", seconds, f"{scene} {group} changed since training")
    if cfg is not None:
        trained = cfgmod.from_dict(DistillConfig, attrs.get("config", {}), "distill.")
        if cfgmod.fingerprinted_dict(trained) != cfgmod.fingerprinted_dict(cfg.distill):
            return Cell("stale", seconds, "distill settings changed")
    return Cell("done", seconds)
