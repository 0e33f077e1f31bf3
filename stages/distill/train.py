"""Train the student over the training scenes (design.md section 5.4): one scene per step.

``distill()`` does the whole job: check the training scenes (refusing missing or stale fused/teacher
groups, by name), skip if ``models/student`` is already done for this config and these scenes, else
train (AdamW, linear warm-up then cosine decay, seeded), checkpoint every epoch, resume after a kill,
write ``models/student`` and optionally ``--out student.pt``, and draw the loss curve.

Determinism: the initial weights come from ``seed``; each epoch's scene order from (seed, epoch);
each step's augmentation and anchors from (seed, epoch, step); the torch thread count from
``distill.threads``. Nothing depends on how many epochs ran in this process or on the Dask worker's
own thread count, so a resumed run reproduces an uninterrupted one exactly on the same machine. The
device and the thread count are in the fingerprint: a student made otherwise is another student.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from geopurify.pipeline.config import fingerprinted_dict, to_dict
from geopurify.pipeline.errors import InputError
from geopurify.pipeline.fingerprint import stage_fingerprint
from geopurify.pipeline.finite import check_parameters, check_value
from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, SKIPPED, model_group
from geopurify.stages.training.curve import plot_loss_curve
from geopurify.stages.training.progress import training_bar
from geopurify.stages.training.schedule import warmup_cosine
from geopurify.stages.training.threads import torch_threads

from . import checkpoints
from .config import DistillConfig, check
from .inputs import augment, voxel_inputs
from .loss import distill_loss
from .mining import anchor_count, mine, sample_anchors
from .network import build_student, network_config, parameter_count, pick_device
from .scenes import TrainingScene, check_training_scene, fused_dim, load_training_scene
from .weights import export_student, read_student, write_student

STAGE = "distill"
VERSION = 1
SUSPECTS = ("distill.lr", "distill.temperature", "distill.weight_decay", "the fused and teacher features")
"""Settings most likely to blame for a NaN or infinite loss or weight (named in the error)."""


def train_step(model: torch.nn.Module, scene: TrainingScene, cfg: DistillConfig,
               rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, dict]:
    """Loss of one scene (augmented when configured) and diagnostics; no optimizer step."""
    xyz, normal = scene.xyz, scene.normal
    if cfg.augment:
        xyz, normal = augment(xyz, normal, rng, cfg.scale_min, cfg.scale_max, cfg.tilt_degrees)
    vin = voxel_inputs(xyz, scene.rgb, normal, scene.fused, cfg.voxel_size)
    n = len(xyz)
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    anchors = sample_anchors(n, anchor_count(n, cfg.anchors, cfg.anchor_fraction), gen)
    # neighbours from the stored points: a similarity transform keeps every point's neighbours
    mined = mine(scene.teacher_unit, scene.xyz, anchors, scene_negatives=cfg.scene_negatives,
                 local_negatives=cfg.local_negatives, neighbours=cfg.neighbours, positive=cfg.positive,
                 point_to_voxel=vin.point_to_voxel, chunk=cfg.mining_chunk)
    p2v = torch.from_numpy(vin.point_to_voxel)
    same_voxel = (p2v[mined.positives] == p2v[mined.anchors]).float().mean().item()
    for name in ("anchors", "positives", "negatives"):
        setattr(mined, name, getattr(mined, name).to(device))
    z = model(vin.coords, torch.from_numpy(vin.features).to(device))
    loss = distill_loss(z, p2v.to(device), mined, cfg.temperature)
    return loss, {"voxels": len(vin.coords), "anchors": len(anchors), "same_voxel_positives": same_voxel,
                  "positive_similarity": mined.positive_similarity.mean().item()}


def training_fingerprint(cfg: DistillConfig, net_cfg: dict, inputs: Mapping[str, Mapping[str, str]],
                         device_type: str) -> str:
    """What the weights depend on: the fingerprinted config (torch threads among it), the network,
    the device kind (``cpu`` / ``cuda``: their float sums differ) and each training scene's groups."""
    return stage_fingerprint(STAGE, VERSION, {"distill": fingerprinted_dict(cfg), "network": net_cfg,
                                              "device": device_type},
                             {f"{s}/{g}": f for s, groups in inputs.items() for g, f in groups.items()})


def _record(cfg: DistillConfig, net_cfg: dict, scenes: list[str], inputs: dict, fingerprint: str) -> dict:
    return {"stage": STAGE, "stage_version": VERSION, "network": net_cfg, "config": to_dict(cfg),
            "scenes": scenes, "inputs": inputs, "fingerprint": fingerprint}


def plot_loss(history: list[dict], file: Path) -> Path:
    """Loss per step (thin) and per epoch (mean, thick) as a PNG."""
    return plot_loss_curve([h["loss"] for h in history], [h["epoch"] for h in history], file,
                           "student distillation")


def distill(store_path: str, train_scenes: list[str], cfg: DistillConfig, out: Path | None = None,
            resume: bool = True, *, expected: Mapping[str, Mapping[str, str]] | None = None,
            force: bool = False, progress: bool = True,
            on_epoch_end: Callable[[int, list[dict]], None] | None = None, run_id: str = "") -> dict:
    """Train the student on ``train_scenes`` (names, globs or @file) of the store at ``store_path``.

    ``expected``: current fingerprints of the scenes' groups (``{scene: {"fused": fp, "teacher":
    fp}}``) when the caller knows them: a group with another fingerprint is refused as stale.
    ``force`` retrains even if ``models/student`` is done; ``resume=False`` ignores checkpoints.
    ``on_epoch_end(epoch, history)`` is called after each epoch's checkpoint (tests, progress hooks).
    ``run_id``: the run training it, kept in the student's attrs as ``run`` (and returned as ``run``
    when the student is already there), so a job Dask reran after losing its result knows it trained.
    A NaN or infinite loss or weight stops training with ``NonFiniteError``; nothing is written.
    Returns a summary dict (status, fingerprint, steps, losses, timings, files)."""
    started = time.perf_counter()
    check(cfg)
    store = Store(store_path, create=False)
    scenes = match_scenes(list(train_scenes) or list(cfg.train_scenes), store.scene_ids(),
                           where=f"{store_path}/scenes")
    inputs = {s: check_training_scene(store, s, expected) for s in scenes}
    dims = {s: fused_dim(store, s) for s in scenes}
    if len(set(dims.values())) != 1:
        raise InputError(f"{store_path}/scenes", f"training scenes disagree on the fused feature width: {dims}")
    net_cfg = network_config(cfg, dims[scenes[0]])
    device = pick_device(cfg.device)
    fp = training_fingerprint(cfg, net_cfg, inputs, device.type)
    record = _record(cfg, net_cfg, scenes, inputs, fp)
    ck_dir = checkpoints.checkpoint_dir(store_path, fp)
    summary = {"fingerprint": fp, "scenes": scenes, "model_group": model_group(),
               "checkpoints": str(ck_dir), "loss_curve": str(ck_dir / "loss.png")}

    if not force and store.is_done(model_group(), fp):
        if out is not None:
            model, _ = read_student(store_path)
            summary["out"] = str(export_student(out, model, record))
        attrs = store.attrs(model_group())
        return {**summary, "status": SKIPPED, "run": attrs.get("run", ""), **attrs.get("training", {})}

    data = [load_training_scene(store, s) for s in scenes]
    total = cfg.epochs * len(scenes)
    warmup = int(round(cfg.warmup_fraction * total))

    with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_student(net_cfg, device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: warmup_cosine(s, total, warmup, cfg.min_lr_fraction))
        history: list[dict] = []
        start_epoch = 0
        if not resume:
            checkpoints.clear(ck_dir)  # a fresh run must not leave an older run's later epochs behind
        last = checkpoints.latest(ck_dir)
        if last is not None:
            state = checkpoints.load(last)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            history, start_epoch = state["history"], state["epoch"]
        summary["resumed_from_epoch"] = start_epoch

        model.train()
        with training_bar("distill", total, start_epoch * len(scenes), progress) as bar:
            for epoch in range(start_epoch, cfg.epochs):
                order = np.random.default_rng([cfg.seed, epoch]).permutation(len(scenes))
                for i, k in enumerate(order):
                    t0 = time.perf_counter()
                    rng = np.random.default_rng([cfg.seed, epoch, i])
                    loss, info = train_step(model, data[k], cfg, rng, device)
                    where = f"distill epoch {epoch + 1} step {len(history)} ({scenes[k]})"
                    check_value(float(loss.item()), f"{where}: the loss", SUSPECTS)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    check_parameters(model.named_parameters(), where, SUSPECTS)
                    lr = opt.param_groups[0]["lr"]
                    sched.step()
                    history.append({"epoch": epoch, "step": len(history), "scene": scenes[k],
                                    "loss": float(loss.item()), "lr": lr,
                                    "seconds": round(time.perf_counter() - t0, 3), **info})
                    bar.step(f"epoch {epoch + 1}/{cfg.epochs} {scenes[k]}", float(loss.item()))
                checkpoints.save(ck_dir, epoch + 1, {
                    "fingerprint": fp, "record": record, "epoch": epoch + 1, "model": model.state_dict(),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(), "history": history})
                plot_loss(history, ck_dir / "loss.png")
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1, history)
        model.eval()

    losses = np.array([h["loss"] for h in history])
    per_epoch = [float(losses[[h["epoch"] == e for h in history]].mean()) for e in range(cfg.epochs)]
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    step_s = [h["seconds"] for h in history]
    training = {"steps": len(history), "epochs": cfg.epochs, "epoch_loss": per_epoch,
                "first_loss": float(losses[0]), "final_loss": per_epoch[-1],
                "parameters": parameter_count(model), "mean_step_s": float(np.mean(step_s)),
                "same_voxel_positives": float(np.mean([h["same_voxel_positives"] for h in history])),
                "seconds": round(time.perf_counter() - started, 1), "peak_rss_gib": round(peak_gib, 2),
                # scans without colour were fed zeros for it (the student's inputs have a fixed width)
                "scenes_without_color": [d.scene for d in data if not d.has_color]}
    check_parameters(model.state_dict().items(), "distill: the trained student", SUSPECTS)
    write_student(store, model, {**record, "training": training, **({"run": run_id} if run_id else {})})
    if out is not None:
        summary["out"] = str(export_student(out, model, {**record, "training": training}))
        summary["out_loss_curve"] = str(plot_loss(history, Path(out).with_name(Path(out).stem + "_loss.png")))
    return {**summary, "status": DONE, **training}
