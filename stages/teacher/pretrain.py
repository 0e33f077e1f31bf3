"""Self-supervised pretraining of the ``ssl`` teacher on unlabelled scans (design.md section 4.2).

Recipe (PointContrast / masked-scene-contrast family, grouped by segments):
- Each step takes one scan and draws two views of it (``augment.make_view``): square xy crops around
  a shared random centre, point dropout, colour jitter (or grey), a random turn about z with a small
  tilt, a mirror, scale and position jitter, then 10 cm cells with colour and normal masked (the
  network must fill them in from context).
- The loss (``pretrain_loss``): point-to-segment InfoNCE across the views. The scan is
  over-segmented once, without labels (``segments.segment_scan``); each matched point must pick its
  own segment's mean embedding in the other view among the segments near its own. Features become
  invariant to the augmentations and constant over surfaces, and differ between neighbouring ones.
- AdamW, linear warm-up then cosine decay, one scan per step, every scan once per epoch.
- At the end the batch-norm statistics are recomputed exactly over the whole, unaugmented scans
  (what inference sees), before the checkpoint is written.

Reproducible and resumable: every random draw comes from ``np.random.default_rng([seed, epoch,
step])``, weights from ``torch.manual_seed(seed)``, the torch thread count from the recipe, and the
training state is written atomically after every epoch, so a killed run resumes from its last epoch
and continues with the same loss curve as an uninterrupted one. Files: ``pretrain_files``.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import InputError
from geopurify.stages.training.progress import training_bar
from geopurify.stages.training.schedule import warmup_cosine
from geopurify.stages.training.threads import torch_threads

from .data import StoreScenes, load_scan, resolve_sources
from .pretrain_files import load_state, output_paths, refuse_repository, save_checkpoint, save_state, write_curve
from .pretrain_recipe import PretrainRecipe, recipe_for
from .pretrain_step import scan_segments, train_step


def pretrain_teacher(geometry: list[Path] | StoreScenes, out: Path, preset: str = "cpu",
                     epochs: int | None = None, seed: int = 0, resume: bool = True,
                     progress: bool = True, evaluation_scenes: tuple[str, ...] = (),
                     recipe: PretrainRecipe | None = None, device: str = "cpu") -> Path:
    """Pretrain the teacher on the scans in ``geometry`` and write the checkpoint ``out``.

    ``evaluation_scenes`` (names or globs): scans the teacher is judged on; one among the inputs is
    refused, naming it. ``recipe`` replaces the preset (tests use tiny ones). ``resume`` continues
    from ``out``'s training state when it was made with the same recipe, seed and scans (else it
    refuses; pass ``resume=False`` to start over). Returns ``out``."""
    recipe = recipe or recipe_for(preset, epochs)
    sources = resolve_sources(geometry)
    refuse_evaluation_scenes(sources, evaluation_scenes)
    if not sources:
        raise InputError(str(geometry), "no pretraining scans")
    paths = output_paths(out)
    refuse_repository(paths["checkpoint"])
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    identity = {"recipe": json.loads(json.dumps(asdict(recipe), default=str)), "seed": seed,
                "scans": sorted(scene_name(s) for s in sources)}

    state = load_state(paths["state"], identity) if resume else None
    if state is not None and state["epoch"] >= recipe.epochs and paths["checkpoint"].exists():
        return paths["checkpoint"]
    with torch_threads(recipe.threads):
        return _train(recipe, sources, paths, identity, state, seed, progress, device)


def _train(recipe: PretrainRecipe, sources: list[str], paths: dict[str, Path], identity: dict,
           state: dict | None, seed: int, progress: bool, device: str) -> Path:
    import torch

    from .network import build_network, recalibrate_batch_norm

    torch.manual_seed(seed)
    model = build_network(recipe.network, device)
    optim = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    history: list[float] = []
    start_epoch, seconds_before = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        seconds_before = float(state.get("seconds", 0.0))

    scans = [load_scan(s) for s in sources]
    segments = [scan_segments(scan, recipe) for scan in scans]
    steps_per_epoch = len(scans)
    total = recipe.epochs * steps_per_epoch
    started = time.perf_counter()
    with training_bar("pretrain", total, start_epoch * steps_per_epoch, progress) as bar:
        for epoch in range(start_epoch, recipe.epochs):
            order = np.random.default_rng([seed, epoch]).permutation(steps_per_epoch)
            model.train()
            for step, which in enumerate(order):
                factor = warmup_cosine(epoch * steps_per_epoch + step, total, recipe.warmup_steps,
                                       recipe.min_lr_fraction)
                for group in optim.param_groups:
                    group["lr"] = recipe.lr * factor
                rng = np.random.default_rng([seed, epoch, step])
                loss = train_step(model, optim, scans[which], segments[which], recipe, rng, device)
                history.append(loss)
                bar.step(f"epoch {epoch + 1}/{recipe.epochs}", loss)
            seconds = seconds_before + time.perf_counter() - started
            save_state(paths["state"], identity, epoch + 1, model, optim, history, seconds)
            write_curve(paths, history, steps_per_epoch)
            bar.note(f"epoch {epoch + 1}/{recipe.epochs}: mean loss "
                     f"{np.mean(history[-steps_per_epoch:]):.4f}")
    recalibrate_batch_norm(model, [(s.xyz, s.rgb, s.normal) for s in scans])
    seconds = seconds_before + time.perf_counter() - started
    save_checkpoint(model, paths["checkpoint"], {**identity, "train_seconds": round(seconds, 1)})
    return paths["checkpoint"]


def refuse_evaluation_scenes(sources: list[str], evaluation_scenes: tuple[str, ...]) -> None:
    """One-line InputError naming the first pretraining scan that is an evaluation scene: the
    teacher must never have seen what it is judged on."""
    for source in sources:
        name = scene_name(source)
        for pattern in evaluation_scenes:
            if fnmatch.fnmatchcase(name, pattern):
                where = source.replace("::", "/scenes/") if "::" in source else source
                raise InputError(where, f"scan {name} is an evaluation scene (dataset.scenes: "
                                        f"{pattern!r}); pretraining must never see it: leave it out "
                                        "of the pretraining inputs")


def scene_name(source: str) -> str:
    """The scene id of a ``resolve_sources`` entry (a PLY's stem, a folder's or store scene's name)."""
    if "::" in source:
        return source.rsplit("::", 1)[1]
    p = Path(source)
    return p.stem if p.suffix.lower() == ".ply" else p.name
