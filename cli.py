"""``geopurify-run``: parse, call a workflow or a stage, print. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from geopurify.pipeline.errors import GeopurifyError

app = typer.Typer(help="GeoPurify: posed RGB-D scans -> open-vocabulary 3D semantic segmentation.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

# ---- options shared by the commands ------------------------------------------------------
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Run store (Zarr v3 folder).")]
ScenesOpt = Annotated[Optional[list[str]], typer.Option(
    "--scenes", help="Scene names, globs or @file (repeatable, comma-separated).")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="TOML config (default: ./geopurify.toml when present).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override: section.key=value.")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="threads | processes | local-cluster | tcp://host:port")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", help="Dask workers.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Recompute even groups that are done.")]


def _config(config: Path | None, sets: list[str] | None, **options):
    """The run config: file, then ``--set``, then the command's own options (when given)."""
    from geopurify.workflows.config import load_run_config

    overrides = list(sets or [])
    for key, value in options.items():
        if value is not None:
            overrides.append(f"{key}={_toml_value(value)}")
    return load_run_config(config, overrides)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run_scene_stage(command: str, cfg, scenes, force: bool) -> None:
    from geopurify.workflows.registry import available
    from geopurify.workflows.run_stage import run_stage

    if not available(command):
        _fail(f"{command}: not built yet")
    result = run_stage(command, cfg, scenes, force, console=err)
    for o in result.failed:
        err.print(f"[red]failed:[/red] {o.scene}: {o.error}", highlight=False, soft_wrap=True)
    out.print(result.summary(), highlight=False)
    if result.failed:
        raise typer.Exit(1)


def _guard(fn):
    """Turn a GeopurifyError anywhere below into one line and exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GeopurifyError as exc:
            _fail(str(exc))
    return wrapper


# ---- per-scene stages ----------------------------------------------------------------------
@app.command()
@_guard
def ingest(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    dataset: Annotated[Optional[str], typer.Option(help="scannet | generic | pointcloud")] = None,
    root: Annotated[Optional[str], typer.Option(help="Folder with one entry per scene.")] = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
):
    """Read scans into the store: points, colours, normals, labels."""
    cfg = _config(config, set, **{"store": store, "dataset.kind": dataset, "dataset.root": root,
                                  "run.scheduler": scheduler, "run.workers": workers})
    _run_scene_stage("ingest", cfg, scenes, force)


@app.command()
@_guard
def fuse(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    source: Annotated[Optional[str], typer.Option(help="openclip | simulated | precomputed")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Simulated preset: realistic | view-noise | swaps")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Simulated source seed.")] = None,
    mode: Annotated[Optional[str], typer.Option(help="Fusion: consensus | mean")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="open_clip weights: file or folder.")] = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
):
    """Lift 2D vision-language features onto the points."""
    cfg = _config(config, set, **{"store": store, "fuse.source": source, "fuse.simulated.preset": preset,
                                  "fuse.simulated.seed": seed, "fuse.mode": mode,
                                  "fuse.openclip.checkpoint": checkpoint,
                                  "run.scheduler": scheduler, "run.workers": workers})
    _run_scene_stage("fuse", cfg, scenes, force)


@app.command()
@_guard
def teacher(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    kind: Annotated[Optional[str], typer.Option("--teacher", help="ssl | geometric")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="Weights of the ssl teacher.")] = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
):
    """Cache 3D teacher features per point."""
    cfg = _config(config, set, **{"store": store, "teacher.kind": kind, "teacher.checkpoint": checkpoint,
                                  "run.scheduler": scheduler, "run.workers": workers})
    _run_scene_stage("teacher", cfg, scenes, force)


@app.command()
@_guard
def purify(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    affinity: Annotated[Optional[str], typer.Option(help="student | geometric | oracle")] = None,
    keep_features: Annotated[Optional[bool], typer.Option("--keep-features/--labels-only",
                                                          help="Also store purified features.")] = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
):
    """Geometry-guided pooling of the lifted features along the student's affinities."""
    cfg = _config(config, set, **{"store": store, "purify.affinity": affinity,
                                  "purify.keep_features": keep_features,
                                  "run.scheduler": scheduler, "run.workers": workers})
    _run_scene_stage("purify", cfg, scenes, force)


# ---- store inspection ----------------------------------------------------------------------
@app.command()
@_guard
def status(store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None):
    """Table of scene x stage: done / stale / incomplete / missing / failed, with timings."""
    from rich.table import Table

    from geopurify.workflows.status import store_status

    cfg = _config(config, set, store=store)
    if not cfg.store:
        _fail("no store: pass --store or set store in the config")
    # judge with the given config only when the user gave one; else each group's own
    given = config is not None or bool(set) or Path("geopurify.toml").is_file()
    table = store_status(cfg.store, cfg if given else None)
    colours = {"done": "green", "stale": "yellow", "incomplete": "red", "failed": "red", "missing": "dim"}
    commands = list(next(iter(table.values())).keys()) if table else []
    view = Table(title=f"{cfg.store}")
    view.add_column("scene")
    for c in commands:
        view.add_column(c)
    notes = []
    for scene_id, row in table.items():
        cells = []
        for c in commands:
            cell = row[c]
            t = f" {cell.seconds:.1f}s" if cell.seconds is not None else ""
            cells.append(f"[{colours[cell.state]}]{cell.state}[/]{t}")
            if cell.note:
                notes.append(f"{scene_id}/{c}: {cell.note}")
        view.add_row(scene_id, *cells)
    out.print(view)
    for note in notes:
        out.print(f"  {note}", highlight=False, soft_wrap=True)


def main() -> None:
    try:
        app()
    except GeopurifyError as exc:  # raised while parsing, before a command's own guard
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
