"""Scores through the Pointcept and OpenScene layouts against the native ScanNet path, on a real scan.

    nice python bench/layouts.py [--scene scene0000_00] [--preset realistic] [--seed 0]

The native path reads ``../shared/data/scannet/scans/<scene>`` and fuses its real frames with the
``simulated`` 2D source (named here explicitly, whatever the config default is), then purifies with
the geometric affinity. The scene is then converted, in a temporary folder that is removed at the
end (nothing lands in the repository), into

- Pointcept: ``<scene>/coord.npy, color.npy, normal.npy, segment20.npy`` (the normals are the
  native ingest's: ../shared/data has no mesh faces to make Pointcept's own from);
- OpenScene: ``<scene>_vh_clean_2.pth`` (coords, rgb / 127.5 - 1, ScanNet-20 indices with 255 =
  unannotated), the native fused group as OpenScene's ``<scene>_0.pt`` (``feat`` of the fused
  points, ``mask_full``) and, as OpenScene's ScanNet 2D export, the frames (depth and poses linked,
  colour resized to the depth size: the export has one ``intrinsics.txt`` for both) -- the ``.pth``
  holds no normals, and with the frames ingest orients its PCA normals to the cameras as the native
  path does (``--no-frames`` leaves them out: normals then face the scan's centroid),

and each layout is ingested, fused with ``fuse.source = "openscene"`` from those features,
purified and scored. Printed: mIoU (scannet19 and scannet20) of the fused argmax and of the
purified labels per path, and whether each layout's per-class IoU equals the native one exactly.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from geopurify.pipeline.vocabulary import (
    FAILED, FEAT, FUSED, LABEL, NORMAL, POINTS, PURIFIED, RGB, SEEN, XYZ, scene_group,
)


from scan_args import add_scan_arguments, scan_folder
SCANNET20 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39)


def purify_stage():
    """The purify stage of the configured affinity; ``.name`` is the group it writes."""
    from geopurify.stages.purify.stage import PurifyStage

    return PurifyStage("geometric")


def run_stages(cfg, scene: str) -> float:
    """Ingest, fuse and purify one scene into ``cfg.store``; seconds taken."""
    from geopurify.pipeline.stage import StageContext, run_scene
    from geopurify.stages.fuse.stage import FuseStage
    from geopurify.stages.ingest.stage import IngestStage
    started = time.perf_counter()
    ctx = StageContext(cfg.store, cfg)
    for stage in (IngestStage(), FuseStage(), purify_stage()):
        stage.prepare(ctx, [scene])
        outcome = run_scene(stage, ctx, scene)
        if outcome.status == FAILED:
            raise SystemExit(f"{stage.name} of {scene} failed: {outcome.error}\n{outcome.detail}")
    return time.perf_counter() - started


def openscene_frames(scan: Path, scene: str, out: Path) -> Path:
    """A ScanNet scan's frames as OpenScene's 2D export: one intrinsics file (the depth camera's),
    colour resized to the depth images' size, depth and poses linked."""
    from PIL import Image

    from geopurify.pipeline.readers.checks import read_matrix

    folder = out / scene
    for sub in ("color", "depth", "pose"):
        (folder / sub).mkdir(parents=True)
    np.savetxt(out / "intrinsics.txt", read_matrix(scan / "intrinsic" / "intrinsic_depth.txt"))
    for depth in sorted((scan / "depth").glob("*.png")):
        name = depth.stem
        with Image.open(depth) as d, Image.open(scan / "color" / f"{name}.jpg") as c:
            c.convert("RGB").resize(d.size, Image.BICUBIC).save(folder / "color" / f"{name}.jpg", quality=95)
        (folder / "depth" / depth.name).symlink_to(depth)
        (folder / "pose" / f"{name}.txt").symlink_to(scan / "pose" / f"{name}.txt")
    return out


def convert(store_path: str, scene: str, work: Path) -> dict[str, tuple[Path, Path]]:
    """The native store's points and fused features written in the Pointcept and OpenScene layouts;
    kind -> (dataset root, fused feature folder)."""
    import torch

    from geopurify.pipeline.store import Store

    store = Store(store_path, create=False)
    points = {k: store.read(scene_group(scene, POINTS), k) for k in (XYZ, RGB, NORMAL, LABEL)}
    index = np.full(256, -1, dtype=np.int64)
    index[list(SCANNET20)] = np.arange(20)
    segment20 = index[points[LABEL].astype(np.int64)]
    folder = work / "pointcept" / "val" / scene
    folder.mkdir(parents=True)
    for name, arr in (("coord", points[XYZ].astype(np.float32)), ("color", points[RGB].astype(np.uint8)),
                      (NORMAL, points[NORMAL].astype(np.float32)), ("segment20", segment20)):
        np.save(folder / f"{name}.npy", arr)
    (work / "openscene_3d").mkdir()
    torch.save((points[XYZ].astype(np.float64), points[RGB].astype(np.float64) / 127.5 - 1,
                np.where(segment20 < 0, 255, segment20).astype(np.float64)),
               work / "openscene_3d" / f"{scene}_vh_clean_2.pth")
    feat = store.read(scene_group(scene, FUSED), FEAT)
    mask = store.read(scene_group(scene, FUSED), SEEN) > 0
    (work / FUSED).mkdir()
    torch.save({FEAT: torch.from_numpy(feat[mask]), "mask_full": torch.from_numpy(mask)},
               work / FUSED / f"{scene}_0.pt")
    return {"pointcept": (work / "pointcept", work / FUSED), "openscene": (work / "openscene_3d", work / FUSED)}


def same_arrays(store_path: str, native_path: str, scene: str) -> dict[str, bool]:
    """Whether the layout's stored arrays equal the native ones bit for bit (labels: on the
    ScanNet-20 classes, the only ones segment20 and OpenScene's indices carry; others are 0)."""
    from geopurify.pipeline.store import Store

    ours, native = Store(store_path, create=False), Store(native_path, create=False)
    pairs = {XYZ: (POINTS, XYZ), NORMAL: (POINTS, NORMAL), "label (ScanNet-20)": (POINTS, LABEL),
             "fused feat": (FUSED, FEAT), "purified label": (purify_stage().name, LABEL)}
    out = {}
    for key, (group, name) in pairs.items():
        a, b = ours.read(scene_group(scene, group), name), native.read(scene_group(scene, group), name)
        if key.startswith(LABEL):
            a, b = (np.where(np.isin(x, SCANNET20), x, 0) for x in (a, b))
        out[key] = bool(np.array_equal(a, b))
    return out


def scores(store_path: str, scene: str) -> dict:
    from geopurify.stages.score import score_scenes

    groups = {FUSED: FUSED, PURIFIED: purify_stage().name}
    return {(of, p): score_scenes(store_path, [scene], group, p, scheduler="threads", workers=1)
            for of, group in groups.items() for p in ("scannet19", "scannet20")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_scan_arguments(p)
    p.add_argument("--affinity", default="geometric", help="geometric | oracle (student needs a model)")
    p.add_argument("--no-frames", action="store_true", help="OpenScene layout without its 2D export")
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from geopurify.workflows.config import load_run_config

    scan_folder(args)
    work = Path(tempfile.mkdtemp(prefix="geopurify-layouts-"))
    common = ["fuse.text_encoder='hashed'", f"purify.affinity={args.affinity!r}",
              f"fuse.simulated.preset={args.preset!r}", f"fuse.simulated.seed={args.seed}"]
    try:
        native = load_run_config(None, [f"store={str(work / 'native.zarr')!r}", "dataset.kind='scannet'",
                                        f"dataset.root={args.root!r}", "fuse.source='simulated'", *common],
                                 search_cwd=False)
        paths = {"scannet (native, simulated source)": (native.store, run_stages(native, args.scene))}
        for kind, (root, feats) in convert(native.store, args.scene, work).items():
            frames = []
            if kind == "openscene" and not args.no_frames:
                frames_root = openscene_frames(Path(args.root) / args.scene, args.scene, work / "openscene_2d")
                frames = [f"dataset.openscene_frames={str(frames_root)!r}"]
            cfg = load_run_config(None, [f"store={str(work / (kind + '.zarr'))!r}", f"dataset.kind={kind!r}",
                                         f"dataset.root={str(root)!r}", "fuse.source='openscene'",
                                         f"fuse.openscene.dir={str(feats)!r}", *frames, *common], search_cwd=False)
            label = f"{kind}{' + 2D export' if frames else ''} (openscene source)"
            paths[label] = (cfg.store, run_stages(cfg, args.scene))
        results = {name: scores(store, args.scene) for name, (store, _) in paths.items()}
        arrays = {name: same_arrays(store, native.store, args.scene) for name, (store, _) in paths.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reference = next(iter(results.values()))
    table = Table(title=f"{args.scene}: scores by input layout (preset {args.preset}, seed {args.seed}, "
                        f"purify {args.affinity})")
    for col in ("path", "lift-only 19", "lift-only 20", "purified 19", "purified 20", "f-mIoU 20",
                "per-class IoU = native", "s"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, res in results.items():
        same = all(res[k]["per_class"] == reference[k]["per_class"] for k in res)
        table.add_row(name, *(f"{res[k]['miou']:.4f}" for k in ((FUSED, "scannet19"), (FUSED, "scannet20"),
                                                              (PURIFIED, "scannet19"), (PURIFIED, "scannet20"))),
                      f"{res[(PURIFIED, 'scannet20')]['fmiou']:.4f}", "yes" if same else "NO",
                      f"{paths[name][1]:.0f}")
    console = Console(width=max(150, Console().width))
    console.print(table)
    for name, same in arrays.items():
        verdicts = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items())
        console.print(f"{name}: identical to native: {verdicts}", highlight=False)
    for name, res in results.items():
        for key, r in res.items():
            diff = [(a["class"], a["iou"], b["iou"]) for a, b in zip(r["per_class"], reference[key]["per_class"])
                    if a != b]
            if diff:
                print(f"{name} {key}: {len(diff)} classes differ, e.g. {diff[:3]}")


if __name__ == "__main__":
    main()
