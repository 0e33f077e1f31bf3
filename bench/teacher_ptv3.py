"""Cost of the ptv3 teacher stage (the published Sonata configuration, random weights) on a real scan,
beside the ``geometric`` and ``ssl`` teachers.

    nice python bench/teacher_ptv3.py [--scene scene0000_00] [--data ../shared/data]
        [--manifest ../shared/fixtures/ptv3/sonata_manifest.json] [--ssl-checkpoint F]
        [--threads 2] [--json out.json]

The scene is ingested into a temporary store (the ingest stage, as ``geopurify-run ingest`` does);
a checkpoint in the published layout is written from the manifest's config with random weights (the
cost does not depend on the weights' values). Each teacher's stage then runs once in a fresh process
with ``--threads`` torch threads: wall time of the stage (reading the points, model loading, input
transform, network, mapping to points, writing float16 features; spconv's one-off import excluded)
and the process' peak resident memory. The ``ssl`` row needs a checkpoint made by ``pretrain-teacher``: given
with ``--ssl-checkpoint``, else the first ``teacher-ssl*.pt`` under ../runs (beside the repository); none is
pretrained here. On a CUDA machine the ptv3 stage also runs on the GPU, and the largest difference
between its float32 features and the CPU's is printed.
Goal on 2 cores: the ptv3 stage under 3 minutes and 6 GiB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geopurify.pipeline.vocabulary import DONE, NORMAL, POINTS, RGB, TEACHER, XYZ, scene_group


REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("GEOPURIFY_DATA", REPO.parent / "shared" / "data"))
DEFAULT_MANIFEST = REPO.parent / "shared" / "fixtures" / "ptv3" / "sonata_manifest.json"
SSL_SEARCH = [REPO.parent / "runs"]


def run_config(store: str, data: Path, kind: str, checkpoint: str, device: str = "cpu"):
    from geopurify.workflows.config import RunConfig

    cfg = RunConfig(store=store)
    return dataclasses.replace(
        cfg, dataset=dataclasses.replace(cfg.dataset, kind="scannet", root=str(data / "scannet" / "scans")),
        teacher=dataclasses.replace(cfg.teacher, kind=kind, checkpoint=checkpoint, device=device))


def peak_rss_gib() -> float:
    """This process' peak resident memory (VmHWM). Not ``ru_maxrss``: on Linux a child started by
    fork + exec inherits its parent's resident size at the fork in that figure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure(store: str, data: Path, scene: str, kind: str, checkpoint: str, device: str, threads: int,
            save: str) -> dict:
    """Child-process mode: one teacher stage run (forced), its wall time and the peak RSS; with
    ``save``, also the float32 features (after the measurement) for the CPU / GPU comparison."""
    import numpy as np
    import torch

    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.stages import sparse
    from geopurify.stages.teacher.stage import TeacherStage, teacher_features

    torch.set_num_threads(threads)
    if kind != "geometric":
        sparse.spconv()  # the one-off import (~10 s a process) is not the stage's work
    cfg = run_config(store, data, kind, checkpoint, device)
    before = peak_rss_gib()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    outcome = run_scene(TeacherStage(), StageContext(store, cfg), scene, force=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    if outcome.status != DONE:
        raise SystemExit(f"{kind} teacher on {scene}: {outcome.status} {outcome.error}")
    result = {"seconds": seconds, "peak_rss_gib": peak_rss_gib(), "before_rss_gib": before}
    if device.startswith("cuda"):
        result["cuda_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    from geopurify.pipeline.store import Store

    attrs = Store(store, create=False).attrs(scene_group(scene, TEACHER))
    result.update(dim=attrs["dim"], timings=attrs["timings"])
    if save:
        points = Store(store, create=False)
        group = scene_group(scene, POINTS)
        feat = teacher_features(cfg.teacher, points.read(group, XYZ).astype(np.float32),
                                points.read(group, RGB), points.read(group, NORMAL).astype(np.float32))
        np.save(save, feat.astype(np.float32))
    return result


def child(args, store: str, kind: str, checkpoint: str, device: str = "cpu", save: str = "") -> dict:
    command = [sys.executable, __file__, "--measure", store, "--kind", kind, "--checkpoint", checkpoint,
               "--device", device, "--save", save, "--scene", args.scene, "--data", str(args.data),
               "--threads", str(args.threads)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} ({device}) child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def find_ssl_checkpoint() -> str:
    for folder in SSL_SEARCH:
        if folder.is_dir():
            found = sorted(folder.rglob("teacher-ssl*.pt"))
            if found:
                return str(found[0])
    return ""


def write_random_checkpoint(manifest: Path, path: Path) -> int:
    """A checkpoint of the manifest's config in the published layout, random weights; its size."""
    import torch

    from geopurify.stages.teacher.ptv3 import build

    config = json.loads(manifest.read_text())["config"]
    torch.manual_seed(0)
    model = build(config)
    torch.save({"config": config, "state_dict": model.state_dict()}, path)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scene", default="scene0000_00")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    ap.add_argument("--ssl-checkpoint", default=None, help="default: searched under ../runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--teachers", default="geometric,ssl,ptv3", help="which rows (comma-separated)")
    ap.add_argument("--json", type=Path)
    for hidden in ("--measure", "--kind", "--checkpoint", "--device", "--save"):
        ap.add_argument(hidden, default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.data, args.scene, args.kind, args.checkpoint,
                                 args.device, args.threads, args.save)))
        return

    import numpy as np
    import torch

    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.pipeline.store import Store
    from geopurify.stages.ingest.stage import IngestStage

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} cores); torch threads per run: {args.threads}")
    ssl_checkpoint = args.ssl_checkpoint if args.ssl_checkpoint is not None else find_ssl_checkpoint()
    results: dict = {"scene": args.scene, "threads": args.threads, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench_teacher_ptv3_") as tmp:
        store = str(Path(tmp) / "bench.zarr")
        outcome = run_scene(IngestStage(), StageContext(store, run_config(store, args.data, "geometric", "")),
                            args.scene)
        if outcome.status != DONE:
            raise SystemExit(f"ingest {args.scene}: {outcome.error}")
        points = len(Store(store, create=False).read(scene_group(args.scene, POINTS), XYZ))
        print(f"{args.scene}: {points} points ingested")
        teachers = args.teachers.split(",")
        cuda = torch.cuda.is_available() and "ptv3" in teachers
        rows = []
        if "geometric" in teachers:
            rows.append(("geometric", "cpu", child(args, store, "geometric", "")))
        if ssl_checkpoint and "ssl" in teachers:
            rows.append(("ssl", "cpu", child(args, store, "ssl", ssl_checkpoint)))
        if "ptv3" in teachers:
            checkpoint = Path(tmp) / "sonata_random.pth"
            params = write_random_checkpoint(args.manifest, checkpoint)
            print(f"ptv3 checkpoint from {args.manifest.name}: {params:,} parameters, random weights, "
                  f"{checkpoint.stat().st_size / 2**20:.0f} MiB")
            cpu_features = str(Path(tmp) / "cpu.npy") if cuda else ""
            rows.append(("ptv3", "cpu", child(args, store, "ptv3", str(checkpoint), save=cpu_features)))
        if cuda:
            gpu_features = str(Path(tmp) / "gpu.npy")
            rows.append(("ptv3", "cuda", child(args, store, "ptv3", str(checkpoint), "cuda", gpu_features)))
            difference = float(np.abs(np.load(cpu_features) - np.load(gpu_features)).max())
            results["cuda_max_abs_difference"] = difference
            results["cuda_device"] = torch.cuda.get_device_name(0)

    print(f"\nteacher stage on {args.scene} ({points} points), fresh process each, "
          f"{args.threads} torch threads")
    print(f"{'teacher':<10} {'device':<6} {'dim':>5} {'wall s':>8} {'features s':>11} {'peak RSS GiB':>13} "
          f"{'RSS before GiB':>15}")
    for kind, device, m in rows:
        print(f"{kind:<10} {device:<6} {m['dim']:>5} {m['seconds']:>8.2f} "
              f"{m['timings']['features_s']:>11.2f} "
              f"{m['peak_rss_gib']:>13.2f} "
              f"{m['before_rss_gib']:>15.2f}" + (f"  (GPU peak {m['cuda_peak_gib']:.2f} GiB)"
                                                 if "cuda_peak_gib" in m else ""))
        results[f"{kind}_{device}"] = m
    if not ssl_checkpoint and "ssl" in args.teachers.split(","):
        print("ssl: no checkpoint given or found under " + ", ".join(str(p) for p in SSL_SEARCH)
              + " (make one with pretrain-teacher); no ssl row")
    if cuda:
        print(f"ptv3 on {results['cuda_device']}: largest |CPU - GPU| feature difference "
              f"{results['cuda_max_abs_difference']:.2e} (float32 features)")
    elif not torch.cuda.is_available():
        print("no CUDA device: GPU time and CPU/GPU difference not measured")
    print("wall s: the teacher stage (checkpoint hash, read points, load model, transform, network, map to "
          "points, write float16 features), spconv's import excluded; features s: the part from model "
          "loading to per-point features; peak RSS: the child process' VmHWM (before: at the stage's "
          "start)")
    results["load_after"] = os.getloadavg()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in results['load_after'])}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
