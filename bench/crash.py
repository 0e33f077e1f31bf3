"""Reliability trials: kill a stage with SIGKILL at random moments, then check and resume.

For each trial: start ``geopurify-run <stage>`` on a copy of a prepared store, SIGKILL it after a
random delay within the stage's clean run time, then (1) every group that claims to be complete must
hold exactly the arrays of a clean run (no group falsely complete), and (2) a rerun must end with a
store whose arrays are bit-identical to the clean run's. Prints ``k/20`` figures.

    python bench/crash.py [--trials 20] [--stage fuse] [--scenes 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from geopurify.pipeline.vocabulary import scene_folder, scene_group


def geopurify(*args: str) -> list[str]:
    return [sys.executable, "-m", "geopurify.cli", *args]


def arrays_of(store: Path) -> dict[str, np.ndarray]:
    """Every array of every complete scene group (by path)."""
    root = zarr.open_group(str(store), mode="r")
    out = {}
    for scene in root["scenes"].group_keys():
        for stage in root[scene_folder(scene)].group_keys():
            group = root[scene_group(scene, stage)]
            if group.attrs.get("complete"):
                for name in group.array_keys():
                    out[f"{scene}/{stage}/{name}"] = group[name][...]
    return out


def same(a: dict, b: dict, only: set | None = None) -> bool:
    keys = set(a) if only is None else only
    return all(k in b and np.array_equal(a[k], b[k]) for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--stage", default="fuse", choices=["ingest", "fuse", "teacher"])
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="geopurify-crash-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    from geopurify.pipeline.synthetic import generate_dataset

    data = work / "data"
    generate_dataset(data, args.scenes, seed=args.seed)
    common = ["--set", f"dataset.root={str(data)!r}", "--set", "dataset.kind='scannet'"]
    base = work / "base.zarr"
    upstream = {"ingest": [], "fuse": ["ingest"], "teacher": ["ingest"]}[args.stage]
    for stage in upstream:
        subprocess.run(geopurify(stage, "--store", str(base), "--scenes", "*", *common), check=True,
                       env=env, capture_output=True)
    clean = work / "clean.zarr"
    shutil.copytree(base, clean)
    started = time.perf_counter()
    subprocess.run(geopurify(args.stage, "--store", str(clean), "--scenes", "*", *common), check=True,
                   env=env, capture_output=True)
    clean_seconds = time.perf_counter() - started
    reference = arrays_of(clean)
    print(f"clean run of {args.stage} on {args.scenes} scenes: {clean_seconds:.1f} s")

    honest = resumed = 0
    for trial in range(args.trials):
        store = work / f"trial{trial}.zarr"
        shutil.copytree(base, store)
        proc = subprocess.Popen(geopurify(args.stage, "--store", str(store), "--scenes", "*", *common),
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, clean_seconds))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after_kill = arrays_of(store)
        honest += same(after_kill, reference)  # whatever claims complete is exactly right
        subprocess.run(geopurify(args.stage, "--store", str(store), "--scenes", "*", *common),
                       check=True, env=env, capture_output=True)
        final = arrays_of(store)
        resumed += set(final) == set(reference) and same(final, reference)
        shutil.rmtree(store)
    print(f"no group falsely complete after SIGKILL: {honest}/{args.trials}")
    print(f"rerun bit-identical to a clean run:      {resumed}/{args.trials}")
    shutil.rmtree(work)
    sys.exit(0 if honest == resumed == args.trials else 1)


if __name__ == "__main__":
    main()
