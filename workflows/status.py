"""What the store holds: per scene and stage, done / stale / incomplete / missing / failed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from geopurify.pipeline import config as cfgmod
from geopurify.pipeline import runlog
from geopurify.pipeline.chunks import DAMAGED, has_checksums
from geopurify.pipeline.errors import GeopurifyError
from geopurify.pipeline.readers import scene_source
from geopurify.pipeline.stage import StageContext
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, DISTILL_JOB, FAILED, GROUP_COMMAND, STATE_DAMAGED, STATE_DONE, STATE_FAILED,
    STATE_INCOMPLETE, STATE_MISSING, STATE_NOT_NEEDED, STATE_STALE, model_group, purified_group,
    scene_group,
)
from geopurify.stages.distill.reads import READS as DISTILL_READS
from geopurify.stages.purify.config import AFFINITIES

from .config import RunConfig
from .registry import GROUP_OF, UPSTREAM, scene_stage, with_affinity


@dataclass
class Cell:
    state: str
    """``done``, ``stale``, ``damaged``, ``incomplete``, ``missing``, ``failed``, or ``not needed`` (a
    training scene's purify: training scenes are fused and taught, never purified)."""
    seconds: float | None = None
    note: str = ""


def column_name(command: str, affinity: str = AFFINITY_STUDENT) -> str:
    return command if affinity == AFFINITY_STUDENT else f"{command}:{affinity}"


def stage_state(store: Store, cfg: RunConfig | None, command: str, scene_id: str,
                failures: dict, affinity: str = AFFINITY_STUDENT) -> Cell:
    stage = scene_stage(command, with_affinity(cfg or RunConfig(), affinity))
    path = stage.group_path(scene_id)
    damaged = store.damaged_metadata(path)
    if damaged:
        return Cell(STATE_INCOMPLETE, note=f"{damaged[0]} does not decode; rerun {command} to rewrite it")
    attrs = store.attrs(path)
    failed = failures.get((scene_id, stage.name))
    if not attrs.get("complete"):
        if failed is not None:
            return Cell(STATE_FAILED, note=failed.get("error", ""))
        return Cell(STATE_INCOMPLETE if attrs else STATE_MISSING)
    seconds = group_seconds(attrs.get("timings", {}))
    if attrs.get(DAMAGED):
        return Cell(STATE_DAMAGED, seconds, attrs[DAMAGED])  # names the chunk and the repair
    note = "; ".join(n for n in (_skipped_frames_note(attrs), _checksum_note(attrs)) if n)
    # judge against the given config, or else the config the group was made with
    try:
        if cfg is None:
            run_cfg = cfgmod.merge(RunConfig(), attrs.get("config", {}))
        else:  # the scene's own dataset section (dataset or train_dataset), at the root given now
            source = scene_source(store, scene_id, (cfg.dataset, cfg.train_dataset))
            run_cfg = dataclasses.replace(with_affinity(cfg, affinity), dataset=source)
        expected = stage.fingerprint(StageContext(store.path, run_cfg), scene_id)
    except GeopurifyError as exc:
        return Cell(STATE_STALE, seconds, f"inputs unavailable: {exc}")
    if expected != attrs.get("fingerprint"):
        return Cell(STATE_STALE, seconds, "inputs or config changed")
    return Cell(STATE_DONE, seconds, note)


def group_seconds(timings: dict) -> float | None:
    """A group's own wall time: compute plus write, else the stage's recorded total. Never the sum of
    every entry: ``compute_s`` already contains the sub-timings (``read_s``, ``fusion_s``, ...)."""
    def number(key):
        value = timings.get(key)
        return value if isinstance(value, (int, float)) else None

    main = number("compute_s")
    if main is None:
        main = number("total_s")
    if main is None:
        return None
    return round(main + (number("write_s") or 0.0), 2)


def _checksum_note(attrs: dict) -> str:
    return "" if has_checksums(attrs) else NO_CHECKSUMS


NO_CHECKSUMS = "no checksums: written before stores were checksummed (`verify` cannot see flipped bits)"


def _skipped_frames_note(attrs: dict) -> str:
    skipped = attrs.get("unreadable_frames")
    return f"{skipped} unreadable frame(s) skipped" if skipped else ""


def store_status(store_path: str, cfg: RunConfig | None = None,
                 commands: tuple[str, ...] = tuple(GROUP_OF)) -> dict[str, dict[str, Cell]]:
    """scene -> column -> Cell, for every scene the store holds or a logged run failed on.
    Columns: the commands, and ``purify:<affinity>`` for each further affinity the store holds."""
    store = Store(store_path, create=False)
    failures = runlog.last_outcomes(store_path)
    failures = {k: v for k, v in failures.items() if v.get("status") == FAILED}
    scene_ids = store.scene_ids()
    logged = sorted({scene for scene, _ in failures if scene != "*" and scene not in scene_ids})
    columns = [(c, AFFINITY_STUDENT) for c in commands]
    if "purify" in commands:
        columns += [("purify", a) for a in AFFINITIES if a != AFFINITY_STUDENT
                    and any(store.group(scene_group(s, purified_group(a))) is not None for s in scene_ids)]
    training = set(store.attrs(model_group()).get("inputs", {}))
    table: dict[str, dict[str, Cell]] = {}
    for scene_id in scene_ids + logged:
        row: dict[str, Cell] = {}
        for command, affinity in columns:  # pipeline order: upstream cells are judged first
            cell = stage_state(store, cfg, command, scene_id, failures, affinity)
            stale_up = [u for u in UPSTREAM[command] if u in row and row[u].state != STATE_DONE]
            if cell.state == STATE_DONE and stale_up:
                cell = Cell(STATE_STALE, cell.seconds, "; ".join(
                    n for n in (f"upstream {stale_up[0]} is not done", cell.note) if n))
            if command == "purify" and cell.state == STATE_MISSING and scene_id in training:
                cell = Cell(STATE_NOT_NEEDED, note="")
            row[column_name(command, affinity)] = cell
        table[scene_id] = row
    return table


def student_state(store_path: str, table: dict[str, dict[str, Cell]], cfg: RunConfig | None = None) -> Cell:
    """The store's student: stale when a training scene's fused or teacher group changed since it
    was trained (or is itself not done), or when the given config's distill settings differ."""
    from geopurify.stages.distill.config import DistillConfig

    store = Store(store_path, create=False)
    attrs = store.attrs(model_group())
    failed = runlog.last_outcomes(store_path).get(("*", DISTILL_JOB))
    if failed is not None and failed.get("status") != FAILED:
        failed = None
    if not attrs.get("complete") or (failed is not None and failed["time"] >= attrs.get("finished_at", "")):
        if failed is not None:
            where = f"; traceback {failed['traceback']}" if failed.get("traceback") else ""
            return Cell(STATE_FAILED, note=failed.get("error", "") + where)
        return Cell(STATE_INCOMPLETE if attrs else STATE_MISSING)
    seconds = attrs.get("training", {}).get("seconds")
    if attrs.get(DAMAGED):
        return Cell(STATE_DAMAGED, seconds, attrs[DAMAGED])
    for scene, groups in attrs.get("inputs", {}).items():
        row = table.get(scene, {})
        for group in DISTILL_READS:
            command = GROUP_COMMAND[group]
            if row.get(command) is not None and row[command].state != STATE_DONE:
                return Cell(STATE_STALE, seconds, f"{scene} {command} is not done")
            current = store.attrs(scene_group(scene, group)).get("fingerprint")
            if group in groups and current != groups[group]:
                return Cell(STATE_STALE, seconds, f"{scene} {group} changed since training")
    if cfg is not None:
        trained = cfgmod.from_dict(DistillConfig, attrs.get("config", {}), "distill.")
        if cfgmod.fingerprinted_dict(trained) != cfgmod.fingerprinted_dict(cfg.distill):
            return Cell(STATE_STALE, seconds, "distill settings changed")
    return Cell(STATE_DONE, seconds, _checksum_note(attrs))


def not_done(table: dict[str, dict[str, Cell]], student: Cell) -> list[str]:
    """``scene/column: state`` for every cell (and the student) that is neither done nor not needed:
    what ``status --check`` fails on (stale, failed, incomplete, missing, or any other state)."""
    lines = [f"{scene}/{column}: {cell.state}" for scene, row in table.items()
             for column, cell in row.items() if cell.state not in (STATE_DONE, STATE_NOT_NEEDED)]
    if student.state != STATE_DONE:
        lines.append(f"student: {student.state}")
    return lines


def status_as_dict(store_path: str, table: dict[str, dict[str, Cell]], student: Cell) -> dict:
    """The status as plain data (``status --json``): scene -> column -> state, seconds, note, and the
    student's cell."""
    return {"store": store_path,
            "scene_states": {scene: {column: dataclasses.asdict(cell) for column, cell in row.items()}
                             for scene, row in table.items()},
            "student_state": dataclasses.asdict(student)}
