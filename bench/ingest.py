"""Ingest speed: reading + validating real ScanNet scenes, normals, the whole stage, synthetic scenes.

    python bench/ingest.py [--data DATA] [--repeat 2]      # DATA: default ../shared/data

Prints seconds for: the reader's parts on scene0000_00 (PLY, frame images), PCA normals on its
81k points, one full ingest (run_scene into a fresh store) per real scene, and generating a synthetic
scene. Targets: ingest of scene0000_00 within a few seconds, a synthetic scene in 1-2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path


def timed(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def main() -> None:
    default = os.environ.get("GEOPURIFY_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()

    from geopurify.pipeline.normals import estimate_normals
    from geopurify.pipeline.ply import read_ply
    from geopurify.pipeline.readers import checks
    from geopurify.pipeline.readers.scannet import ScanNetReader, find_files
    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.pipeline.synthetic import generate_scene
    from geopurify.stages.ingest.stage import IngestStage
    from geopurify.workflows.config import RunConfig

    work = Path(tempfile.mkdtemp(prefix="geopurify-bench-ingest-"))
    try:
        scans = Path(args.data) / "scannet" / "scans"
        if (scans / "scene0000_00").is_dir():
            files = find_files(scans, "scene0000_00")
            t, mesh = timed(lambda: read_ply(files.mesh), args.repeat)
            print(f"scene0000_00 PLY read ({mesh.num_vertices} vertices): {t:.3f} s")
            for workers in (1, 2):
                t, _ = timed(lambda: checks.check_images([f[1] for f in files.frames], depth=False,
                                                         workers=workers), args.repeat)
                print(f"  decode {len(files.frames)} colour jpg, {workers} thread(s): {t:.2f} s")
                t, _ = timed(lambda: checks.check_images([f[2] for f in files.frames], depth=True,
                                                         workers=workers), args.repeat)
                print(f"  decode {len(files.frames)} depth png, {workers} thread(s): {t:.2f} s")
            t, _ = timed(lambda: ScanNetReader().read(scans, "scene0000_00"), args.repeat)
            print(f"  whole read + validation: {t:.2f} s")
            t, _ = timed(lambda: estimate_normals(mesh.xyz, 16), args.repeat)
            print(f"  PCA normals k=16: {t:.2f} s")

            cfg = RunConfig()
            cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, root=str(scans)))
            for scene in ScanNetReader().list_scenes(scans):
                def ingest():
                    store = work / f"{scene}-{time.perf_counter_ns()}.zarr"
                    return run_scene(IngestStage(), StageContext(str(store), cfg), scene)
                t, out = timed(ingest, args.repeat)
                print(f"ingest {scene}: {t:.2f} s ({out.status}{': ' + out.error if out.error else ''})")
        else:
            print(f"{scans}: no ScanNet data, real-scene figures skipped")

        t, _ = timed(lambda: generate_scene(work / f"synth-{time.perf_counter_ns()}", "synth0000_00",
                                            seed=0), args.repeat)
        print(f"synthetic scene (10 frames, colour 324x242, depth 160x120): {t:.2f} s")
        cfg = RunConfig()
        cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, root=str(work / "s")))
        generate_scene(work / "s", "synth0000_00", seed=0)
        t, _ = timed(lambda: run_scene(IngestStage(), StageContext(str(work / f"{time.perf_counter_ns()}.zarr"), cfg),
                                       "synth0000_00"), args.repeat)
        print(f"ingest synthetic scene: {t:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
