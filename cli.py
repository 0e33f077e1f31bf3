"""``geopurify-run``: parse, call a workflow or a stage, print. No logic lives here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console

from geopurify.pipeline import choices
from geopurify.pipeline.errors import GeopurifyError
from geopurify.pipeline.vocabulary import (
    DONE, FAILED, PURIFIED, SKIPPED, STATE_DAMAGED, STATE_DONE, STATE_FAILED, STATE_INCOMPLETE, STATE_MISSING,
    STATE_NOT_NEEDED, STATE_STALE, model_group,
)

app = typer.Typer(help="GeoPurify: posed RGB-D scans -> open-vocabulary 3D semantic segmentation.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("geopurify")
_quiet = False
"""Set by ``-q``: no progress bars, no info lines; results, warnings and errors still print."""

# ---- options shared by the commands ------------------------------------------------------
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Run store (Zarr v3 folder).")]
ScenesOpt = Annotated[Optional[list[str]], typer.Option(
    "--scenes", help="Scene names, globs or @file (repeatable, comma-separated).")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="TOML config (default: ./geopurify.toml when present).")]
SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override: section.key=value (TOML value; the bare word null sets an optional value to none).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="threads | processes | local-cluster | tcp://host:port")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", help="Dask workers.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Recompute even groups that are done.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (for scripts).")]


# ---- global options: version, verbosity -----------------------------------------------------
def _show_version(value: bool) -> None:
    if value:
        from geopurify import __version__

        console.print(f"geopurify {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print debug messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results, warnings and errors: "
                                                             "no progress bars, no info lines.")] = False,
):
    """Options before the command: version and how much is said on stderr."""
    global _quiet
    _quiet = quiet and not verbose
    _configure_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _configure_logging(level: int) -> None:
    """The one place logging is set up: the ``geopurify`` loggers, through rich, on stderr."""
    from rich.logging import RichHandler

    if not any(isinstance(h, RichHandler) for h in log.handlers):
        log.addHandler(RichHandler(console=err_console, show_time=False, show_path=False))
        log.propagate = False
    log.setLevel(level)


def _progress_console() -> Console:
    """Where progress bars draw: stderr, or nowhere under ``-q``."""
    return Console(stderr=True, quiet=True) if _quiet else err_console


def _print_json(data) -> None:
    import json

    print(json.dumps(data, indent=1, default=_json_default))


def _json_default(value):
    """numpy scalars and arrays, paths: as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


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


def _scene_list(scenes: list[str] | None) -> list[str] | None:
    """``--scenes`` as the value of a ``*.scenes`` setting (None: keep the config's)."""
    return list(scenes) if scenes else None


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run_scene_stage(command: str, cfg, scenes, force: bool) -> None:
    from geopurify.workflows.run_stage import run_stage

    result = run_stage(command, cfg, scenes, force, console=_progress_console())
    for o in result.failed:
        err_console.print(f"[red]failed:[/red] {o.scene}: {o.error}", highlight=False, soft_wrap=True)
    if result.log_error:
        err_console.print(f"[yellow]warning:[/yellow] {result.log_error}", highlight=False, soft_wrap=True)
    console.print(result.summary(), highlight=False)
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
        except OSError as exc:  # a read-only folder, a full disk, an unreachable scheduler
            _fail(_os_error_line(exc))
    return wrapper


# ---- per-scene stages ----------------------------------------------------------------------
@app.command()
@_guard
def ingest(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    dataset: Annotated[Optional[choices.DatasetKind], typer.Option(help="Dataset layout.")] = None,
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
    source: Annotated[Optional[choices.FuseSource], typer.Option(
        help="2D features: openclip (default; needs --checkpoint), precomputed, openscene, or simulated (benchmark: renders the ground truth).")] = None,
    preset: Annotated[Optional[choices.SimulatedPreset], typer.Option(help="Simulated source preset.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Simulated source seed.")] = None,
    mode: Annotated[Optional[choices.FusionMode], typer.Option(help="Fusion across views.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(
        help="open_clip weights: a file, local-dir:<folder>, a pretrained tag, or random.")] = None,
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
    kind: Annotated[Optional[choices.TeacherKind], typer.Option("--teacher", help="3D teacher.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(
        help="Weights of the ssl teacher, or a Sonata / Concerto .pth for ptv3.")] = None,
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
    affinity: Annotated[Optional[choices.Affinity], typer.Option(help="Affinity source (oracle: a benchmark ceiling).")] = None,
    student: Annotated[Optional[str], typer.Option(
        help="Student: a .pt file or another store (default: this store's models/student).")] = None,
    keep_features: Annotated[Optional[bool], typer.Option("--keep-features/--labels-only",
                                                          help="Also store purified features.")] = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
):
    """Geometry-guided pooling of the lifted features along the student's affinities."""
    cfg = _config(config, set, **{"store": store, "purify.affinity": affinity,
                                  "purify.keep_features": keep_features,
                                  "purify.student": str(Path(student).resolve()) if student else None,
                                  "run.scheduler": scheduler, "run.workers": workers})
    _run_scene_stage("purify", cfg, scenes, force)


# ---- jobs over many scenes ---------------------------------------------------------------------
@app.command("pretrain-teacher")
@_guard
def pretrain_teacher(
    geometry: Annotated[list[str], typer.Option(
        help="Folder of point-cloud PLYs, ScanNet scan folders, or a store (repeatable).")],
    out: Annotated[Path, typer.Option(help="Checkpoint file to write (outside the repository).")],
    scenes: ScenesOpt = None,
    preset: Annotated[choices.PretrainPreset, typer.Option(help="cpu: sized for 2 cores; large: real hardware.")] = "cpu",
    epochs: Annotated[Optional[int], typer.Option(help="Override the preset's epochs.")] = None,
    seed: Annotated[int, typer.Option(help="Seeds weights, augmentation and order.")] = 0,
    restart: Annotated[bool, typer.Option("--restart", help="Ignore existing checkpoints.")] = False,
    config: ConfigOpt = None, set: SetOpt = None,
):
    """Self-supervised pretraining of the ssl teacher on unlabelled scans (never the config's
    evaluation scenes, dataset.scenes)."""
    from geopurify.workflows.pretrain_teacher import pretrain_cli

    path = pretrain_cli(_config(config, set), geometry, out, scenes=scenes, preset=preset, epochs=epochs,
                        seed=seed, resume=not restart)
    console.print(f"teacher checkpoint: {path}", highlight=False)


@app.command()
@_guard
def distill(
    store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    train_scenes: Annotated[Optional[list[str]], typer.Option(
        "--train-scenes", help="Training scenes: names, globs or @file.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also export the student to this .pt file.")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="Ignore checkpoints; train from scratch.")] = False,
    force: ForceOpt = False,
):
    """Train the student affinity network on the training scenes (no labels)."""
    from geopurify.workflows.distill_run import run_distill

    cfg = _config(config, set, store=store)
    summary = run_distill(cfg, train_scenes, out=out, restart=restart, force=force)
    console.print(f"distill: {summary['status']}; student in {cfg.store}/{summary['model_group']}"
                           + (f"; exported to {summary['out']}" if summary.get("out") else "")
                           + (f"; loss curve {summary['loss_curve']}" if summary["status"] == DONE else ""),
                           highlight=False, soft_wrap=True)


@app.command()
@_guard
def select(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    k: Annotated[int, typer.Option("--k", help="How many training scenes to choose.")] = 20,
    as_json: JsonOpt = False,
):
    """Choose K training scenes without labels (diversity of lift-only predictions and geometry)."""
    from geopurify.stages.distill.select import choose_training_scenes as choose
    from geopurify.workflows.run_stage import resolve_scenes

    cfg = _config(config, set, store=store)
    chosen = choose(cfg.store, resolve_scenes(cfg, "select", scenes), k)
    if as_json:
        _print_json([{"scene": scene, "why": why} for scene, why in chosen])
        return
    for scene, why in chosen:
        console.print(f"{scene}  {why}", highlight=False, soft_wrap=True)


@app.command()
@_guard
def score(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    of: Annotated[str, typer.Option(help="fused (lift-only) | purified | purified_<affinity>")] = PURIFIED,
    protocol: Annotated[Optional[choices.Protocol], typer.Option(help="Classes scored.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the metrics as JSON.")] = None,
):
    """One confusion matrix over the scenes: IoU and accuracy per class, mIoU, mAcc, overall accuracy."""
    import json

    import dataclasses

    from geopurify.pipeline.schedule import store_for_scheduler
    from geopurify.stages.score import score_scenes
    from geopurify.workflows.tables import print_score_table
    from geopurify.workflows.report import evaluated_scenes
    from geopurify.pipeline.store import Store
    from geopurify.workflows.run_stage import resolve_scenes

    cfg = _config(config, set, **{"store": store, "score.protocol": protocol})
    cfg = dataclasses.replace(cfg, store=store_for_scheduler(cfg.store, cfg.run.scheduler))
    ids = resolve_scenes(cfg, "score", scenes)
    ids = evaluated_scenes(Store(cfg.store, create=False), ids) if not scenes else ids
    result = score_scenes(cfg.store, ids, of, cfg.score.protocol, cfg.fuse.vocab,
                          cfg.run.scheduler, cfg.run.workers)
    from geopurify.workflows.provenance import describe, run_provenance

    result["provenance"] = run_provenance([cfg.store], ids, [of], cfg.score.protocol)
    print_score_table(result, console)
    console.print("\n".join(describe(result["provenance"])).replace("**", ""), markup=False, highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=1))
        console.print(f"metrics: {json_out}", highlight=False)


@app.command()
@_guard
def query(
    prompts: Annotated[list[str], typer.Argument(help="Text prompts, e.g. \"a bicycle\".")],
    scene: Annotated[str, typer.Option(help="Scene id.")],
    store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    out_ply: Annotated[Path, typer.Option("--out", help="PLY with a score_<i> property per prompt.")] = Path("scores.ply"),
    of: Annotated[str, typer.Option(help="purified (needs --keep-features) | fused")] = PURIFIED,
    threshold: Annotated[float, typer.Option(help="Cosine above which a point counts as a hit.")] = 0.5,
    as_json: JsonOpt = False,
):
    """Score any text prompt against a scene's purified (or fused) features, per point."""
    from geopurify.stages.purify.query import query_scene
    from geopurify.workflows.tables import print_query_summary

    cfg = _config(config, set, store=store)
    result = query_scene(cfg.store, scene, list(prompts), out_ply, of=of, threshold=threshold)
    if as_json:
        _print_json(result)
        return
    print_query_summary(result, console)


# ---- workflows -----------------------------------------------------------------------------------
def _all_progress(total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]all     "), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=_progress_console())


def _run_all_and_report(cfg, force: bool, report_dir: Path | None):
    from geopurify.workflows.report import write_report
    from geopurify.workflows.run_all import count_nodes, run_all
    from geopurify.workflows.validate import validate

    for note in validate(cfg, "all"):  # said once, before the progress bar
        log.info("note: %s", note)
    with _all_progress(0) as bar:
        task = bar.add_task("all", total=count_nodes(cfg), last="")

        def advance(o):
            bar.update(task, advance=1, last=f"{o.stage} {o.scene} {o.status}")

        try:
            result = run_all(cfg, force, on_result=advance)
        except BaseException:
            bar.live.transient = True  # the error is the one line left on the terminal
            raise
    _print_failures(result)
    report = None
    if not result.failed and report_dir is not None:
        report = write_report(result.stores, report_dir, None, cfg.score.protocol)
    return result, report


def _print_failures(result) -> None:
    for o in result.failed:
        err_console.print(f"[red]failed:[/red] {o.stage} {o.scene}: {o.error}", highlight=False, soft_wrap=True)
    for line in getattr(result, "log_errors", []):
        err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True)


@app.command("all")
@_guard
def run_everything(
    config: ConfigOpt = None, set: SetOpt = None, store: StoreOpt = None, scenes: ScenesOpt = None,
    scheduler: SchedulerOpt = None, workers: WorkersOpt = None, force: ForceOpt = False,
    report: Annotated[Optional[Path], typer.Option(help="Report folder (default: <store>-report).")] = None,
    as_json: JsonOpt = False,
):
    """ingest -> fuse -> teacher -> distill -> purify -> score, one Dask graph, then the report."""
    from geopurify.workflows.reprocess import default_report_dir

    cfg = _config(config, set, **{"store": store, "dataset.scenes": _scene_list(scenes),
                                  "run.scheduler": scheduler, "run.workers": workers})
    result, path = _run_all_and_report(cfg, force, report or default_report_dir(cfg.store))
    done = sum(o.status == DONE for o in result.outcomes)
    if as_json:
        _print_json({"counts": {s: sum(o.status == s for o in result.outcomes) for s in (DONE, SKIPPED, FAILED)},
                     "outcomes": [{"stage": o.stage, "scene": o.scene, "status": o.status,
                                   "seconds": round(o.seconds, 3), "error": o.error} for o in result.outcomes],
                     "stores": result.stores, "report": str(path) if path is not None else None})
        raise typer.Exit(1 if result.failed else 0)
    console.print(f"all: {done} steps computed, {len(result.failed)} failed; stores: {', '.join(result.stores)}",
                  highlight=False, soft_wrap=True)
    if path is not None:
        console.print(f"report: {path}", highlight=False)
    if result.failed:
        raise typer.Exit(1)


@app.command()
@_guard
def reprocess(
    config: ConfigOpt = None, set: SetOpt = None, store: StoreOpt = None, scenes: ScenesOpt = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another run's lock.")] = 0.0,
    report: Annotated[Optional[Path], typer.Option(help="Report folder (default: <store>-report).")] = None,
):
    """For cron: run only what is new or stale, under a store lock; one summary line."""
    from geopurify.workflows.reprocess import reprocess as run_reprocess

    cfg = _config(config, set, **{"store": store, "dataset.scenes": _scene_list(scenes)})
    done = run_reprocess(cfg, wait, report)
    _print_failures(done.result)
    console.print(done.summary(), highlight=False, soft_wrap=True)
    if done.result.failed:
        raise typer.Exit(1)


@app.command()
@_guard
def report(
    store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None, scenes: ScenesOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
    seed_stores: Annotated[Optional[list[str]], typer.Option(
        "--seed-store", help="Further stores of the same run with other simulator seeds.")] = None,
):
    """report.md + metrics.json + PNGs: lift-only against purified, per class, with renders."""
    from geopurify.workflows.report import write_report

    cfg = _config(config, set, store=store)
    path = write_report([cfg.store, *(seed_stores or [])], out_dir, scenes, cfg.score.protocol)
    console.print(f"report: {path}", highlight=False)


@app.command()
@_guard
def export(
    store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None, scenes: ScenesOpt = None,
    scene: Annotated[str, typer.Option(help="Scene id (ply).")] = "",
    of: Annotated[str, typer.Option(help="purified | fused | labels (ground truth, ply only)")] = PURIFIED,
    fmt: Annotated[Literal["ply", "html", "scannet-benchmark"], typer.Option(
        "--format", help="ply: one scene, class-coloured; html: one scene's layers and legend in one file "
                         "that opens with no server; scannet-benchmark: <scene>.txt per scene, one id per "
                         "vertex.")] = "ply",
    out: Annotated[Optional[Path], typer.Option("--out", help="PLY file (default scene.ply), or the "
                                                              "scannet-benchmark folder.")] = None,
):
    """A class-coloured PLY of a scene's predictions, or the ScanNet benchmark's submission files."""
    from geopurify.workflows.export import export_benchmark, export_scene

    cfg = _config(config, set, store=store)
    if fmt == "scannet-benchmark":
        from geopurify.workflows.run_stage import resolve_scenes

        if out is None:
            _fail("--out DIR is required with --format scannet-benchmark")
        ids = resolve_scenes(cfg, "export", scenes)
        paths = export_benchmark(cfg.store, ids, of, out, only_done=not scenes)
        console.print(f"wrote {len(paths)} file(s) to {out}", highlight=False)
        return
    if fmt == "html":
        from geopurify.workflows.view_html import export_html

        if not scene:
            _fail("--scene is required with --format html")
        path = export_html(cfg.store, scene, out or Path(f"{scene}.html"))
        console.print(f"wrote {path} (opens in a browser from the file, no server)", highlight=False)
        return
    if not scene:
        _fail("--scene is required")
    path = export_scene(cfg.store, scene, of, out or Path("scene.ply"), cfg.score.protocol)
    console.print(f"wrote {path}", highlight=False)


@app.command()
@_guard
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the demo's data, store and report go.")] = Path("geopurify-demo"),
):
    """Every stage on a built-in synthetic scene (a few minutes on 2 cores); prints the report's path."""
    from geopurify.workflows.demo import demo_config

    cfg = demo_config(out_dir)
    result, path = _run_all_and_report(cfg, False, out_dir / "report")
    if result.failed:
        raise typer.Exit(1)
    console.print(f"demo done: store {cfg.store}", highlight=False)
    console.print(f"report: {path} (PNGs beside it)", highlight=False)
    console.print(f"see it in a browser: geopurify-run view --store {cfg.store}", highlight=False)


@app.command()
@_guard
def view(
    store: StoreOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    scene: Annotated[str, typer.Option(help="Scene shown first (default: the store's first).")] = "",
    port: Annotated[int, typer.Option(help="Port of the web viewer.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: reach it through ssh -L).")] = "127.0.0.1",
):
    """A store's scenes in the browser: layers, legend, text queries, provenance (reads only)."""
    import socket
    import time

    from geopurify.workflows.view_server import Viewer

    cfg = _config(config, set, store=store)
    viewer = Viewer(cfg.store, scene or None, host=host, port=port)
    bound = viewer.server.get_port()
    console.print(f"viewer: http://{host}:{bound}  (Ctrl-C stops it)", highlight=False)
    console.print(f"from another machine: ssh -L {bound}:localhost:{bound} {socket.gethostname()}  "
                  f"then open http://localhost:{bound}", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        viewer.stop()


# ---- the config ------------------------------------------------------------------------------
@app.command("config")
@_guard
def show_config(
    config: ConfigOpt = None, set: SetOpt = None, store: StoreOpt = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the JSON schema of a config file "
                                                          "instead (for editors).")] = False,
):
    """Print the resolved config a run would use (defaults, then the file, then --set) as TOML."""
    if schema:
        import json

        from geopurify.workflows.config import run_config_schema

        typer.echo(json.dumps(run_config_schema(), indent=1))
        return
    from geopurify.workflows.config import run_config_toml

    typer.echo(run_config_toml(_config(config, set, store=store)), nl=False)


# ---- store inspection ----------------------------------------------------------------------
@app.command()
@_guard
def status(
    store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when anything is not done (stale, damaged, "
                                                        "failed, incomplete, missing): for cron and CI.")] = False,
    as_json: JsonOpt = False,
):
    """Table of scene x stage: done / stale / damaged / incomplete / missing / failed, with each group's time."""
    from geopurify.pipeline.selection import match_scenes
    from geopurify.workflows.status import not_done, status_as_dict, store_status, student_state

    cfg = _config(config, set, store=store)
    if not cfg.store:
        _fail("no store: pass --store or set store in the config")
    # judge with the given config only when the user gave one; else each group's own
    given = config is not None or bool(set) or Path("geopurify.toml").is_file()
    table = store_status(cfg.store, cfg if given else None)
    student = student_state(cfg.store, table, cfg if given else None)
    if scenes:
        table = {s: table[s] for s in match_scenes(list(scenes), list(table), cfg.store)}
    if as_json:
        _print_json(status_as_dict(cfg.store, table, student))
    else:
        _print_status(cfg.store, table, student)
    if check:
        problems = not_done(table, student)
        for line in problems:
            err_console.print(f"not done: {line}", highlight=False, soft_wrap=True)
        if problems:
            raise typer.Exit(1)


def _print_status(store: str, table, student) -> None:
    from rich.table import Table

    colours = {STATE_DONE: "green", STATE_STALE: "yellow", STATE_INCOMPLETE: "red", STATE_FAILED: "red",
               STATE_MISSING: "dim", STATE_NOT_NEEDED: "dim", STATE_DAMAGED: "red"}
    commands = list(next(iter(table.values())).keys()) if table else []
    view = Table(title=f"{store}")
    view.add_column("scene")
    for c in commands:
        view.add_column(c)
    notes = []
    for scene_id, row in table.items():
        cells = []
        for c in commands:
            cell = row[c]
            t = f" {cell.seconds:.1f}s" if cell.seconds is not None else ""
            cells.append(f"[{colours.get(cell.state, 'red')}]{cell.state}[/]{t}")
            if cell.note:
                notes.append(f"{scene_id}/{c}: {cell.note}")
        view.add_row(scene_id, *cells)
    console.print(view)
    t = f" {student.seconds:.0f}s" if student.seconds is not None else ""
    console.print(f"student ({model_group()}): [{colours.get(student.state, 'red')}]{student.state}[/]{t}"
                  + (f" ({student.note})" if student.note else ""), highlight=False)
    for note in notes:
        console.print(f"  {note}", highlight=False, soft_wrap=True)


@app.command()
@_guard
def verify(store: StoreOpt = None, scenes: ScenesOpt = None, config: ConfigOpt = None, set: SetOpt = None):
    """Read every chunk of every complete group; mark what fails as damaged (status shows it, the
    next run recomputes it). Exits 1 when something is damaged."""
    from rich.markup import escape

    from geopurify.workflows.verify import verify_store

    cfg = _config(config, set, store=store)
    if not cfg.store:
        _fail("no store: pass --store or set store in the config")
    result = verify_store(cfg.store, scenes)
    for f in result.damaged:
        err_console.print(f"[red]damaged:[/red] {escape(f.reason)}" + (f" ({escape(f.marked)})" if f.marked else ""),
                          highlight=False, soft_wrap=True)
    console.print(result.summary(), highlight=False, soft_wrap=True)
    if result.damaged:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except GeopurifyError as exc:  # raised while parsing, before a command's own guard
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # a read-only folder, a full disk, an unreachable scheduler
        err_console.print(f"error: {_os_error_line(exc)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system failure: the file (when known) and what went wrong."""
    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {what}" if where else f"{what} ({type(exc).__name__})"


if __name__ == "__main__":
    main()
