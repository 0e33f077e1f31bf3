"""One prepared check of every CUDA path, against the CPU, on a small synthetic scene.

    python bench/gpu_check.py                      # on a machine with CUDA: CPU vs cuda
    python bench/gpu_check.py --cpu-only-dry-run   # anywhere: the same comparisons, CPU vs CPU

Paths checked (each run on the CPU and on the device from the same weights and inputs):
- ``openclip``: the MaskCLIP dense encoder of the openclip 2D source (random weights saved to a file,
  so both devices load the same ones): the cosine of every feature-map vector with its CPU twin;
- ``ptv3``: the ptv3 teacher on a random-weight checkpoint in the published layout (the tests' tiny
  encoder): per-point features within 1e-3 of the CPU's;
- ``distill``: distillation steps from the same initial weights (``distill.device``): every loss
  finite, the first step's loss within 1e-3 (relative) of the CPU's; later steps drift apart
  because the float sums differ;
- ``student``: the CPU-trained student's inference on the device: embeddings within 1e-3;
- ``pooling``: purify's pooling (CPU code) over the device's student embeddings: labels equal to
  the CPU's wherever the CPU's best class leads the second by more than 1e-3 (cosine).

Prints one line per path with the CPU and device seconds and the comparison; exits 1 if a path
disagrees, 0 when all agree, and 0 with a message when there is no CUDA device (nothing to check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve()
TESTS = HERE.parents[1] / "tests"

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
"""``--tiny``: a two-layer ViT in place of ViT-B-16 (the dry-run test's size)."""
SCENE = "gpu_check"
FEATURE_TOLERANCE = 1e-3
MARGIN = 1e-3


@dataclasses.dataclass
class Check:
    path: str
    cpu_s: float
    device_s: float
    measure: str
    ok: bool

    def line(self) -> str:
        return (f"{self.path:<9} cpu {self.cpu_s:7.2f} s   device {self.device_s:7.2f} s   "
                f"{'ok  ' if self.ok else 'FAIL'}  {self.measure}")


def timed(fn):
    started = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - started


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# ---- the scene --------------------------------------------------------------------------------
def make_store(work: Path):
    """A synthetic scene ingested, fused (simulated source) and taught (geometric) on the CPU."""
    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.pipeline.synthetic import generate_scene
    from geopurify.workflows.config import load_run_config
    from geopurify.workflows.registry import scene_stage

    generate_scene(work / "data", SCENE, seed=3, num_frames=6)
    cfg = load_run_config(None, [f"store={str(work / 'cpu.zarr')!r}", "dataset.kind='scannet'",
                                 f"dataset.root={str(work / 'data')!r}", "fuse.source='simulated'",
                                 "teacher.kind='geometric'"], search_cwd=False)
    ctx = StageContext(cfg.store, cfg)
    scene_stage("fuse").prepare(ctx, [SCENE])
    for command in ("ingest", "fuse", "teacher"):
        outcome = run_scene(scene_stage(command, cfg), ctx, SCENE)
        if outcome.status == "failed":
            raise SystemExit(f"gpu_check: {command} of the synthetic scene failed: {outcome.error}")
    return cfg


def scene_points(cfg):
    from geopurify.pipeline.store import Store
    from geopurify.pipeline.vocabulary import FEAT, FUSED, NORMAL, POINTS, RGB, XYZ, scene_group

    store = Store(cfg.store, create=False)
    pts = scene_group(SCENE, POINTS)
    return SimpleNamespace(xyz=store.read(pts, XYZ).astype(np.float32), rgb=store.read(pts, RGB),
                           normal=store.read(pts, NORMAL).astype(np.float32),
                           fused=store.read(scene_group(SCENE, FUSED), FEAT).astype(np.float32))


# ---- the paths ----------------------------------------------------------------------------------
def check_openclip(work: Path, cfg, device: str, tiny: bool) -> Check:
    import open_clip
    import torch

    from geopurify.pipeline.readers import read_scene
    from geopurify.stages.fuse.config import FuseConfig, OpenClipConfig
    from geopurify.stages.fuse.sources.openclip import OpenClipSource
    from geopurify.stages.fuse.stage import read_color

    model_name, image_size = "ViT-B-16", 224
    if tiny:
        (work / "gpu-check-tiny-vit.json").write_text(json.dumps(TINY_CLIP))
        open_clip.add_model_config(work / "gpu-check-tiny-vit.json")
        model_name, image_size = "gpu-check-tiny-vit", 64
    torch.manual_seed(0)
    weights = work / "clip-random.pt"
    torch.save(open_clip.create_model(model_name, pretrained=None).state_dict(), weights)
    scene = read_scene(cfg.dataset, SCENE, check_images=False)
    frames = scene.frames[:4]
    colors = [read_color(f) for f in frames]
    feats = {}
    seconds = {}
    for dev in ("cpu", device):
        ocfg = OpenClipConfig(model=model_name, checkpoint=str(weights), image_size=image_size, device=dev)
        width = open_clip.get_model_config(model_name)["embed_dim"]
        source = OpenClipSource(FuseConfig(openclip=ocfg), SimpleNamespace(embeddings=np.zeros((1, width))))
        source.batch_features(frames[:1], colors[:1], [None])  # load and warm up
        feats[dev], seconds[dev] = timed(lambda: source.batch_features(frames, colors, [None] * len(frames)))
    a = np.concatenate([f.reshape(-1, f.shape[-1]) for f in feats["cpu"]])
    b = np.concatenate([f.reshape(-1, f.shape[-1]) for f in feats[device]])
    cos = np.einsum("nd,nd->n", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return Check("openclip", seconds["cpu"], seconds[device],
                 f"{model_name}, {len(frames)} frames, {len(a)} vectors: min cosine with the CPU {cos.min():.6f}",
                 bool(cos.min() > 1 - FEATURE_TOLERANCE))


def check_ptv3(work: Path, points, device: str) -> Check:
    sys.path.insert(0, str(TESTS))
    from teacher_ptv3_fixtures import write_tiny_checkpoint

    from geopurify.stages.teacher.config import TeacherConfig
    from geopurify.stages.teacher.stage import teacher_features

    checkpoint = write_tiny_checkpoint(work / "ptv3-random.pth", seed=0)
    out, seconds = {}, {}
    for dev in ("cpu", device):
        tcfg = TeacherConfig(kind="ptv3", checkpoint=checkpoint, device=dev)
        teacher_features(tcfg, points.xyz[:64], points.rgb[:64], points.normal[:64])  # load, warm up
        out[dev], seconds[dev] = timed(lambda: teacher_features(tcfg, points.xyz, points.rgb, points.normal))
    diff = float(np.abs(out["cpu"] - out[device]).max())
    return Check("ptv3", seconds["cpu"], seconds[device],
                 f"{len(points.xyz)} points x {out['cpu'].shape[1]} channels: max |cpu - device| {diff:.2e} "
                 f"(tolerance {FEATURE_TOLERANCE})", diff <= FEATURE_TOLERANCE)


def check_distill(work: Path, cfg, device: str) -> tuple[Check, str]:
    from geopurify.stages.distill.config import DistillConfig
    from geopurify.stages.distill.train import distill

    losses, seconds, stores = {}, {}, {}
    for dev, name in (("cpu", "cpu"), (device, "device")):
        store = work / f"distill-{name}.zarr"
        shutil.copytree(cfg.store, store)
        dcfg = DistillConfig(epochs=3, width=16, anchors=512, device=dev)
        summary, seconds[name] = timed(lambda: distill(str(store), [SCENE], dcfg, progress=False))
        history = json.loads(json.dumps(summary["epoch_loss"]))
        losses[name] = (summary["first_loss"], history)
        stores[name] = str(store)
    first_cpu, first_dev = losses["cpu"][0], losses["device"][0]
    rel = abs(first_cpu - first_dev) / max(abs(first_cpu), 1e-12)
    finite = all(np.isfinite(losses[n][1]).all() for n in losses)
    return Check("distill", seconds["cpu"], seconds["device"],
                 f"3 epochs: first loss cpu {first_cpu:.6f} device {first_dev:.6f} (relative {rel:.1e}); "
                 f"epoch losses cpu {np.round(losses['cpu'][1], 4).tolist()} device "
                 f"{np.round(losses['device'][1], 4).tolist()}", bool(finite and rel <= FEATURE_TOLERANCE)), \
        stores["cpu"]


def check_student(cpu_store: str, points, device: str) -> tuple[Check, dict]:
    from geopurify.stages.distill.infer import read_student, student_embeddings

    out, seconds = {}, {}
    for dev in ("cpu", device):
        model, _ = read_student(cpu_store, dev)
        student_embeddings(model, points.xyz, points.rgb, points.normal, points.fused)  # warm up
        out[dev], seconds[dev] = timed(
            lambda: student_embeddings(model, points.xyz, points.rgb, points.normal, points.fused))
    coords, p2v, z_cpu = out["cpu"]
    z_dev = out[device][2]
    diff = float(np.abs(z_cpu - z_dev).max())
    return Check("student", seconds["cpu"], seconds[device],
                 f"{len(coords)} voxels x {z_cpu.shape[1]}: max |cpu - device| {diff:.2e} "
                 f"(tolerance {FEATURE_TOLERANCE})", diff <= FEATURE_TOLERANCE), \
        {"coords": coords, "p2v": p2v, "cpu": z_cpu, "device": z_dev}


def check_pooling(cfg, points, embedded: dict) -> Check:
    from geopurify.pipeline.geometry import voxel_mean
    from geopurify.pipeline.rows import unit_rows
    from geopurify.pipeline.store import Store
    from geopurify.stages.fuse.text import fused_vocab, read_text
    from geopurify.stages.purify.config import PurifyConfig
    from geopurify.stages.purify.graph import build_graph
    from geopurify.stages.purify.pooling import pool_full

    store = Store(cfg.store, create=False)
    text, _ = read_text(store, fused_vocab(store, SCENE, cfg.fuse.vocab))
    pcfg = PurifyConfig()
    feats = voxel_mean(points.fused, embedded["p2v"], len(embedded["coords"]))
    results, seconds = {}, {}
    for which in ("cpu", "device"):
        graph = build_graph(embedded["coords"], embedded[which], pcfg.k, pcfg.temperature)
        results[which], seconds[which] = timed(lambda: pool_full(graph, feats, text.embeddings, pcfg.steps))
    cos = results["cpu"].features @ unit_rows(np.asarray(text.embeddings, np.float64)).T
    top2 = np.sort(cos, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > MARGIN
    same = results["cpu"].labels == results["device"].labels
    return Check("pooling", seconds["cpu"], seconds["device"],
                 f"{len(same)} voxels: labels equal {same.mean():.4%}, {int((~same & clear).sum())} differ where "
                 f"the CPU's margin exceeds {MARGIN} ({int(clear.sum())} such voxels)",
                 bool(same[clear].all()))


# ---- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-only-dry-run", action="store_true",
                        help="run every comparison CPU against CPU (tests the script without a GPU)")
    parser.add_argument("--tiny", action="store_true", help="a two-layer ViT instead of ViT-B-16")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed)")
    args = parser.parse_args(argv)

    import torch

    if args.cpu_only_dry_run:
        device = "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print(f"gpu_check: no CUDA device here (torch {torch.__version__}, built for CUDA "
              f"{torch.version.cuda or 'none'}): nothing to check. Run it on a GPU machine, or with "
              "--cpu-only-dry-run to exercise the comparisons CPU against CPU.")
        return 0
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run: CPU against CPU)"
    print(f"gpu_check: device {name}; torch {torch.__version__}")
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        cfg = make_store(work)
        points = scene_points(cfg)
        print(f"scene: {len(points.xyz)} points, fused {points.fused.shape[1]} channels")
        checks = [check_openclip(work, cfg, device, args.tiny), check_ptv3(work, points, device)]
        distilled, cpu_store = check_distill(work, cfg, device)
        student, embedded = check_student(cpu_store, points, device)
        checks += [distilled, student, check_pooling(cfg, points, embedded)]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    for c in checks:
        print(c.line())
    bad = [c.path for c in checks if not c.ok]
    print("gpu_check: " + (f"DISAGREES on {', '.join(bad)}" if bad else "every path agrees with the CPU"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
