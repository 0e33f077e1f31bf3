"""Self-supervised pretraining of the ``ssl`` teacher on unlabelled scans (design.md section 4).

Recipe (PointContrast / masked-scene-contrast family, grouped by segments):
- Each step takes one scan and draws two views of it (``augment.make_view``): square xy crops around
  a shared random centre, point dropout, colour jitter (or grey), a random turn about z with a small
  tilt, a mirror, scale and position jitter, then 10 cm cells with colour and normal masked (the
  network must fill them in from context).
- Points present in both views are matched through their index in the scan; up to
  ``matched_points`` pairs are drawn, at most one per voxel of either view (two points of one voxel
  share a feature, so they could not be told apart).
- Default loss (``segment_weight``): point-to-segment InfoNCE across views. The scan is
  over-segmented once, without labels (``segments.segment_scan``: Felzenszwalb on normals and
  colour); each matched point's embedding in one view must pick the mean embedding of its own
  segment in the other view among that view's segments near its own (boxes within 0.5 m:
  ``segment_negative_radius``). Features become invariant to the augmentations and constant over
  surfaces, and differ between neighbouring surfaces. On scene0000_00 (never pretrained on) the
  local negatives and finer segments (20 points, not 50) raised the embedding's whole-ball purity
  from 0.882 (all segments as negatives, 50 points) through 0.891 (local, 50) to 0.896.
- Options, off in the presets: ``point_weight``, the plain PointContrast loss (the same point in
  the other view against the other matched points; ``negative_exclusion`` spares near pairs);
  ``cluster_weight``, SwAV-style swapped prediction over learnt prototypes; ``reconstruct_weight``,
  colour and normal of masked voxels regressed from the embedding. In short trials on held-out
  labelled scans (labels used only to score), adding the point loss or the clustering loss to the
  segment loss did not raise affinity purity.
- AdamW, linear warm-up then cosine decay, one scan per step, every scan once per epoch.
- At the end the batch-norm statistics are recomputed exactly over the whole, unaugmented scans
  (what inference sees), before the checkpoint is written.

Reproducible and resumable: every random draw comes from ``np.random.default_rng([seed, epoch,
step])`` and weights from ``torch.manual_seed(seed)``, and the training state (weights, optimiser,
loss history) is written atomically after every epoch, so a killed run resumes from its last epoch
and continues with the same loss curve as an uninterrupted one.

Files (``out`` = ``teacher.pt``): ``teacher.pt`` (weights + network config + recipe; written at the
end), ``teacher.state.pt`` (training state, every epoch), ``teacher.loss.json`` and
``teacher.loss.png`` (loss curve). Nothing is written anywhere else.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.fingerprint import digest

from .augment import AugmentConfig, make_view
from .data import Scan, StoreScenes, load_scan, resolve_sources
from .network import NetworkConfig

EVALUATION_SCENES = ("scene0000_00",)
"""Kept out of pretraining unless ``exclude`` says otherwise: the teacher is judged on them."""


@dataclass
class PretrainRecipe:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """U-Net shape."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """How the two views are drawn."""
    epochs: int = 50
    """Passes over the scans (one step per scan)."""
    lr: float = 2e-3
    """Peak learning rate (AdamW)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear warm-up before the cosine decay."""
    matched_points: int = 4096
    """Matched pairs per step (the InfoNCE batch)."""
    temperature: float = 0.1
    """InfoNCE temperature."""
    negative_exclusion: float = 0.0
    """Pairs closer than this (metres, in the scan) are not negatives of each other."""
    point_weight: float = 0.0
    """Weight of the point-to-point InfoNCE (same point in the other view)."""
    segment_weight: float = 1.0
    """Weight of the point-to-segment InfoNCE (own segment's mean embedding in the other view)."""
    segment_threshold: float = 0.2
    """Felzenszwalb threshold of the over-segmentation (larger: bigger segments)."""
    segment_min_size: int = 20
    """Smallest segment (points); smaller ones merge into a neighbour."""
    segment_colour_weight: float = 0.5
    """Weight of CIELAB colour distance against normal disagreement in segment edges."""
    segment_negative_radius: float = 0.5
    """Local negatives: a point's segment competes only with segments whose bounding boxes come
    within this distance (metres, in the scan) of its own segment's box; 0: every segment of the
    other view. Affinity is judged between nearby points, so nearby segments are the negatives
    that matter; far ones are mostly easy."""
    cluster_weight: float = 0.0
    """Weight of the swapped-prediction clustering loss (SwAV-style, learnt prototypes)."""
    prototypes: int = 64
    """Number of learnt prototypes of the clustering loss."""
    reconstruct_weight: float = 0.0
    """Weight of the masked-voxel reconstruction loss (colour and normal from the embedding)."""


PRESETS: dict[str, PretrainRecipe] = {
    # 2 cores: 0.6 s (fast machines) to 1.4-1.9 s a step on ~45k-voxel scans cropped to 3-4.5 m;
    # ~40 s an epoch of 22 scans on the slowest machine seen (80 epochs took 55-65 min there):
    # 50 epochs stay under 45 min everywhere (12 min on the fast ones)
    "cpu": PretrainRecipe(),
    # real hardware: wider and deeper, whole rooms, longer
    "large": PretrainRecipe(
        network=NetworkConfig(channels=[32, 64, 128, 256, 384], blocks=2, out_channels=96),
        augment=AugmentConfig(crop_size=(4.0, 8.0)),
        epochs=300, warmup_steps=300, matched_points=8192),
}


def recipe_for(preset: str, epochs: int | None = None) -> PretrainRecipe:
    if preset not in PRESETS:
        raise ConfigError(f"pretrain preset {preset!r}: expected one of {', '.join(PRESETS)}")
    recipe = PRESETS[preset]
    return replace(recipe, epochs=epochs) if epochs else recipe


def output_paths(out: Path) -> dict[str, Path]:
    out = Path(out)
    stem = out.name[:-3] if out.name.endswith(".pt") else out.name
    return {"checkpoint": out, "state": out.with_name(stem + ".state.pt"),
            "loss_json": out.with_name(stem + ".loss.json"), "loss_png": out.with_name(stem + ".loss.png")}


def pretrain_teacher(geometry: list[Path] | StoreScenes, out: Path, preset: str = "cpu",
                     epochs: int | None = None, seed: int = 0, resume: bool = True,
                     progress: bool = True, exclude: tuple[str, ...] = EVALUATION_SCENES,
                     recipe: PretrainRecipe | None = None, device: str = "cpu") -> Path:
    """Pretrain the teacher on the scans in ``geometry`` and write the checkpoint ``out``.

    ``recipe`` replaces the preset (tests use tiny ones). ``resume`` continues from ``out``'s
    training state when it was made with the same recipe, seed and scans (else it refuses; pass
    ``resume=False`` to start over). Returns ``out``."""
    import torch

    recipe = recipe or recipe_for(preset, epochs)
    sources = [s for s in resolve_sources(geometry) if _scene_name(s) not in set(exclude)]
    if not sources:
        raise InputError(str(geometry), "no pretraining scans left (after excluding "
                                        f"{', '.join(exclude) or 'nothing'})")
    paths = output_paths(out)
    _refuse_repository(paths["checkpoint"])
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    identity = {"recipe": _plain(asdict(recipe)), "seed": seed,
                "scans": sorted(_scene_name(s) for s in sources)}

    state = _load_state(paths["state"], identity) if resume else None
    if state is not None and state["epoch"] >= recipe.epochs and paths["checkpoint"].exists():
        return paths["checkpoint"]

    torch.manual_seed(seed)
    from .network import build_network

    model = build_network(recipe.network, device)
    # the clustering loss's prototypes train with the network but are not part of the teacher
    protos = torch.nn.Linear(recipe.network.out_channels, recipe.prototypes, bias=False).to(device)
    recon = torch.nn.Linear(recipe.network.out_channels, 6).to(device)
    params = list(model.parameters()) + (list(protos.parameters()) if recipe.cluster_weight > 0 else [])
    params += list(recon.parameters()) if recipe.reconstruct_weight > 0 else []
    optim = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    history: list[float] = []
    start_epoch, seconds_before = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        protos.load_state_dict(state["protos"])
        recon.load_state_dict(state["recon"])
        optim.load_state_dict(state["optim"])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        seconds_before = float(state.get("seconds", 0.0))

    scans = [load_scan(s) for s in sources]
    segments = [_segments(scan, recipe) for scan in scans]
    steps_per_epoch = len(scans)
    total = recipe.epochs * steps_per_epoch
    bar = _Progress(progress, total, start_epoch * steps_per_epoch)
    started = time.perf_counter()
    try:
        for epoch in range(start_epoch, recipe.epochs):
            order = np.random.default_rng([seed, epoch]).permutation(steps_per_epoch)
            model.train()
            for step, which in enumerate(order):
                global_step = epoch * steps_per_epoch + step
                _set_lr(optim, recipe, global_step, total)
                rng = np.random.default_rng([seed, epoch, step])
                loss = _train_step(model, (protos, recon), optim, scans[which], segments[which], recipe, rng,
                                   device)
                history.append(loss)
                bar.advance(epoch, loss)
            seconds = seconds_before + time.perf_counter() - started
            _save_state(paths["state"], identity, epoch + 1, model, (protos, recon), optim, history,
                        seconds)
            _write_curve(paths, history, steps_per_epoch)
            bar.epoch_done(epoch, recipe.epochs, history[-steps_per_epoch:])
    finally:
        bar.close()
    from .network import recalibrate_batch_norm

    recalibrate_batch_norm(model, [(s.xyz, s.rgb, s.normal) for s in scans])
    seconds = seconds_before + time.perf_counter() - started
    save_checkpoint(model, paths["checkpoint"], {**identity, "train_seconds": round(seconds, 1)})
    return paths["checkpoint"]


def pretrain_cli(geometry: list[str], out: Path, scenes: list[str] | None = None, preset: str = "cpu",
                 epochs: int | None = None, seed: int = 0, resume: bool = True) -> Path:
    """``geopurify-run pretrain-teacher``: ``geometry`` holds PLY files or folders, ScanNet scan
    folders, or one store (then ``scenes`` picks its scenes; default all)."""
    return pretrain_teacher(geometry_sources(geometry, scenes), Path(out), preset=preset,
                            epochs=epochs, seed=seed, resume=resume)


def pretrain_from_config(cfg, checkpoint: Path) -> Path:
    """Make ``checkpoint`` from a TeacherConfig's ``pretrain_*`` settings (used by ``all``)."""
    if not cfg.pretrain_geometry:
        raise ConfigError(f"teacher.checkpoint {checkpoint} does not exist and teacher.pretrain_geometry "
                          "is empty: run pretrain-teacher or set teacher.pretrain_geometry")
    return pretrain_teacher(geometry_sources(cfg.pretrain_geometry, cfg.pretrain_scenes or None),
                            Path(checkpoint), preset=cfg.pretrain_preset,
                            epochs=cfg.pretrain_epochs or None, seed=cfg.pretrain_seed, progress=False)


def geometry_sources(geometry: list[str], scenes: list[str] | None) -> list[Path] | StoreScenes:
    """A store (a folder with ``zarr.json`` and ``scenes/``) becomes StoreScenes; else paths."""
    stores = [g for g in geometry if (Path(g) / "zarr.json").is_file() and (Path(g) / "scenes").is_dir()]
    if not stores:
        if scenes:
            raise ConfigError("--scenes picks scenes of a store; --geometry names no store")
        return [Path(g) for g in geometry]
    if len(geometry) != 1:
        raise ConfigError("--geometry: give one store, or PLY/scan folders, not a mix")
    from geopurify.pipeline.selection import select_scenes
    from geopurify.pipeline.store import Store

    available = Store(stores[0], create=False).scene_ids()
    chosen = select_scenes(scenes, available, stores[0]) if scenes else available
    return StoreScenes(stores[0], chosen)


# ---- one step -------------------------------------------------------------------------------
def matched_pairs(view_a, view_b, vox_a: np.ndarray, vox_b: np.ndarray, limit: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel rows (in each view) of up to ``limit`` points present in both views, at most one pair
    per voxel of either view; and the scan index of each pair's point."""
    common, ia, ib = np.intersect1d(view_a.index, view_b.index, assume_unique=True, return_indices=True)
    perm = rng.permutation(len(common))
    ia, ib, common = ia[perm], ib[perm], common[perm]
    va, vb = vox_a[ia], vox_b[ib]
    _, first_a = np.unique(va, return_index=True)
    keep = np.sort(first_a)
    _, first_b = np.unique(vb[keep], return_index=True)
    keep = keep[np.sort(first_b)][:limit]
    return va[keep], vb[keep], common[keep]


def info_nce(za, zb, temperature: float, exclude=None):
    """Symmetric InfoNCE: row i of ``za`` should match row i of ``zb`` against the other rows.
    ``exclude`` (P,P) bool marks off-diagonal pairs that are not negatives."""
    import torch

    logits = za @ zb.T / temperature
    if exclude is not None:
        logits = logits.masked_fill(exclude, float("-inf"))
    target = torch.arange(len(za), device=za.device)
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                  + torch.nn.functional.cross_entropy(logits.T, target))


def segment_info_nce(z_points, z_voxels, voxel_segment, point_segment, temperature: float,
                     near=None):
    """Each point's embedding (P,D) should match the mean embedding of its own segment among all
    segments of the other view (voxels (V,D) with their segment ids (V,)). Points whose segment is
    absent from the other view are left out. ``near`` (S,S) bool over the scan's segment ids, when
    given, keeps only the segments near each point's own as its negatives."""
    import torch

    ids, inverse = torch.unique(voxel_segment, return_inverse=True)
    protos = torch.zeros(len(ids), z_voxels.shape[1], dtype=z_voxels.dtype, device=z_voxels.device)
    protos = torch.nn.functional.normalize(protos.index_add(0, inverse, z_voxels), dim=1)
    pos = torch.searchsorted(ids, point_segment).clamp(max=len(ids) - 1)
    present = ids[pos] == point_segment
    if not bool(present.any()):
        return z_points.sum() * 0.0
    logits = z_points[present] @ protos.T / temperature
    if near is not None:
        logits = logits.masked_fill(~near[point_segment[present]][:, ids], float("-inf"))
    return torch.nn.functional.cross_entropy(logits, pos[present])


def segment_neighbours(xyz: np.ndarray, segment: np.ndarray, radius: float) -> np.ndarray:
    """(S,S) bool: segments whose axis-aligned bounding boxes are within ``radius`` of each other
    (a superset of the truly near pairs, cheap for a few thousand segments); the diagonal is True."""
    count = int(segment.max()) + 1
    lo = np.full((count, 3), np.inf, np.float32)
    hi = np.full((count, 3), -np.inf, np.float32)
    np.minimum.at(lo, segment, xyz)
    np.maximum.at(hi, segment, xyz)
    # one axis at a time: a few S x S blocks alive at once instead of S x S x 3 ones
    squared = np.zeros((count, count), np.float32)
    for axis in range(3):
        ahead = lo[:, None, axis] - hi[None, :, axis]  # how far box i starts after box j ends
        gap = np.maximum(ahead, ahead.T)  # the gap is symmetric: j after i is the transpose
        np.maximum(gap, 0.0, out=gap)
        squared += np.square(gap, out=gap)
    return squared <= np.float32(radius) ** 2


def _segments(scan: Scan, recipe: PretrainRecipe) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The scan's segment ids and, with local negatives, which segments are near which."""
    if recipe.segment_weight <= 0:
        return None
    from .segments import segment_scan

    segment = segment_scan(scan.xyz, scan.rgb, scan.normal, threshold=recipe.segment_threshold,
                           colour_weight=recipe.segment_colour_weight, min_size=recipe.segment_min_size)
    near = None
    if recipe.segment_negative_radius > 0:
        near = segment_neighbours(scan.xyz, segment, recipe.segment_negative_radius)
    return segment, near


def sinkhorn(scores, epsilon: float = 0.05, iterations: int = 3):
    """Soft assignments (B,K) of B points to K prototypes with equal total mass per prototype
    (SwAV's equipartition), from scores (B,K); no gradient."""
    import torch

    import math

    with torch.no_grad():
        log_q = (scores / epsilon).T  # (K,B), in the log domain so that nothing underflows
        k, b = log_q.shape
        for _ in range(iterations):
            log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(k)
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(b)
        return torch.exp(log_q + math.log(b)).T


def cluster_loss(za, zb, protos, temperature: float):
    """Swapped prediction: each view's prototype assignment predicts the other view's."""
    import torch

    with torch.no_grad():
        protos.weight.copy_(torch.nn.functional.normalize(protos.weight, dim=1))
    sa, sb = protos(za), protos(zb)
    qa, qb = sinkhorn(sa.detach()), sinkhorn(sb.detach())
    la = torch.log_softmax(sa / temperature, dim=1)
    lb = torch.log_softmax(sb / temperature, dim=1)
    return -0.5 * ((qb * la).sum(dim=1).mean() + (qa * lb).sum(dim=1).mean())


def _train_step(model, heads, optim, scan: Scan, segments: tuple | None, recipe: PretrainRecipe,
                rng: np.random.Generator, device: str) -> float:
    import torch

    from geopurify.stages import sparse
    from .network import voxel_inputs

    centre = scan.xyz[rng.integers(len(scan.xyz))]
    views = [make_view(scan.xyz, scan.rgb, scan.normal, centre, recipe.augment, rng) for _ in range(2)]
    inputs = [voxel_inputs(v.xyz, v.rgb, v.normal, recipe.network.voxel_size) for v in views]
    rows_a, rows_b, points = matched_pairs(views[0], views[1], inputs[0][2], inputs[1][2],
                                           recipe.matched_points, rng)
    x = sparse.batch_sparse_tensor([(c, torch.from_numpy(f).to(device)) for c, f, _ in inputs])
    z = model(x)
    za = z[torch.from_numpy(rows_a).to(device)]
    zb = z[torch.from_numpy(rows_b + len(inputs[0][0])).to(device)]
    loss = z.sum() * 0.0
    if recipe.point_weight > 0:
        exclude = None
        if recipe.negative_exclusion > 0:
            p = torch.from_numpy(scan.xyz[points]).to(device)
            exclude = torch.cdist(p, p) < recipe.negative_exclusion
            exclude.fill_diagonal_(False)
        loss = loss + recipe.point_weight * info_nce(za, zb, recipe.temperature, exclude)
    protos, recon = heads
    if recipe.cluster_weight > 0:
        loss = loss + recipe.cluster_weight * cluster_loss(za, zb, protos, recipe.temperature)
    if recipe.reconstruct_weight > 0:
        from geopurify.pipeline.geometry import voxel_mean

        rows, targets = [], []
        offset = 0
        for v, (coords, _, p2v) in zip(views, inputs):
            hidden = voxel_mean(v.masked[:, None].astype(np.float32), p2v, len(coords))[:, 0] > 0.5
            target = voxel_mean(v.target, p2v, len(coords))
            rows.append(np.flatnonzero(hidden) + offset)
            targets.append(target[hidden])
            offset += len(coords)
        rows_t = torch.from_numpy(np.concatenate(rows)).to(device)
        if len(rows_t):
            target_t = torch.from_numpy(np.concatenate(targets)).to(device)
            loss = loss + recipe.reconstruct_weight * torch.nn.functional.mse_loss(recon(z[rows_t]), target_t)
    if recipe.segment_weight > 0:
        segment, near = segments
        near = None if near is None else torch.from_numpy(near).to(device)
        va = len(inputs[0][0])
        vox_seg = [_voxel_segments(segment[v.index], inp[2], len(inp[0])) for v, inp in zip(views, inputs)]
        seg_pts = torch.from_numpy(segment[points]).to(device)
        seg_a, seg_b = (torch.from_numpy(s).to(device) for s in vox_seg)
        loss = loss + recipe.segment_weight * 0.5 * (
            segment_info_nce(za, z[va:], seg_b, seg_pts, recipe.temperature, near)
            + segment_info_nce(zb, z[:va], seg_a, seg_pts, recipe.temperature, near))
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    return float(loss.detach())


def _voxel_segments(point_segment: np.ndarray, point_to_voxel: np.ndarray, voxels: int) -> np.ndarray:
    """A segment per voxel: that of the voxel's last point (voxels are 2 cm; segments rarely split them)."""
    out = np.empty(voxels, np.int64)
    out[point_to_voxel] = point_segment
    return out


def _set_lr(optim, recipe: PretrainRecipe, step: int, total: int) -> None:
    if step < recipe.warmup_steps:
        lr = recipe.lr * (step + 1) / recipe.warmup_steps
    else:
        t = (step - recipe.warmup_steps) / max(1, total - recipe.warmup_steps)
        lr = recipe.lr * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * min(t, 1.0))))
    for group in optim.param_groups:
        group["lr"] = float(lr)


# ---- files ----------------------------------------------------------------------------------
def save_checkpoint(model, path: Path, recipe_info: dict) -> None:
    """The teacher file: network config + weights + how it was made (no optimiser state)."""
    payload = {"format": "geopurify-teacher", "version": 1, "network": model.cfg.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "made_by": recipe_info}
    _atomic_torch_save(payload, path)


def _save_state(path: Path, identity: dict, epoch: int, model, heads, optim, history: list[float],
                seconds: float) -> None:
    _atomic_torch_save({"identity": digest(identity), "epoch": epoch, "model": model.state_dict(),
                        "protos": heads[0].state_dict(), "recon": heads[1].state_dict(),
                        "optim": optim.state_dict(), "history": history, "seconds": seconds}, path)


def _load_state(path: Path, identity: dict) -> dict | None:
    import torch

    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a state file from elsewhere or damaged: never silently overwritten
        raise InputError(path, f"unreadable training state ({type(exc).__name__}); delete it or "
                               "pass --restart") from None
    if state.get("identity") != digest(identity):
        raise InputError(path, "training state of another recipe, seed or scan set; pass --restart "
                               "to start over")
    return state


def _atomic_torch_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_curve(paths: dict[str, Path], history: list[float], steps_per_epoch: int) -> None:
    tmp = paths["loss_json"].with_name(paths["loss_json"].name + ".tmp")
    tmp.write_text(json.dumps({"steps_per_epoch": steps_per_epoch, "loss": history}))
    os.replace(tmp, paths["loss_json"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss = np.asarray(history)
    epochs = len(loss) // steps_per_epoch
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(loss) + 1) / steps_per_epoch, loss, lw=0.6, alpha=0.4, label="step")
    if epochs:
        per_epoch = loss[:epochs * steps_per_epoch].reshape(epochs, steps_per_epoch).mean(axis=1)
        ax.plot(np.arange(1, epochs + 1), per_epoch, lw=2, marker="o", ms=3, label="epoch mean")
    ax.set_xlabel("epoch")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title("ssl teacher pretraining")
    ax.legend()
    fig.tight_layout()
    tmp_png = paths["loss_png"].with_name(paths["loss_png"].stem + ".tmp.png")
    fig.savefig(tmp_png, dpi=100)
    plt.close(fig)
    os.replace(tmp_png, paths["loss_png"])


def _refuse_repository(path: Path) -> None:
    """Checkpoints must never land in the source tree (they would end up committed)."""
    repo = Path(__file__).resolve().parents[2]
    target = Path(path).resolve()
    if target == repo or repo in target.parents:
        raise ConfigError(f"{path}: inside the geopurify repository; write checkpoints elsewhere")


def _scene_name(source: str) -> str:
    if "::" in source:
        return source.rsplit("::", 1)[1]
    p = Path(source)
    return p.stem if p.suffix.lower() == ".ply" else p.name


def _plain(value):
    return json.loads(json.dumps(value, default=str))


class _Progress:
    """A rich progress bar with the running loss (quiet when ``enabled`` is False)."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled = enabled
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.progress import TimeRemainingColumn

        self.bar = Progress(TextColumn("[bold]pretrain[/bold] {task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        self.task = self.bar.add_task("", total=total, completed=done)
        self.bar.start()
        self.recent: list[float] = []

    def advance(self, epoch: int, loss: float) -> None:
        if self.bar is None:
            return
        self.recent = (self.recent + [loss])[-20:]
        self.bar.update(self.task, advance=1,
                        description=f"epoch {epoch + 1} loss {np.mean(self.recent):.3f}")

    def epoch_done(self, epoch: int, epochs: int, losses: list[float]) -> None:
        if self.bar is not None:
            self.bar.console.print(f"epoch {epoch + 1}/{epochs}: mean loss {np.mean(losses):.4f}",
                                   highlight=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
