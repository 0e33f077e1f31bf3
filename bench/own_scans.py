"""Scores through a raw ScanNet ``.sens`` recording and a nerfstudio capture against the native
exported-frames path, on a real scan, and the time to fuse from ``.sens`` against exported frames.

    nice flock /tmp/geopurify-cpu.lock python bench/own_scans.py [--scene scene0000_00] [--preset realistic] [--seed 0]

The native path reads ``../shared/data/scannet/scans/<scene>`` (exported frames). In a temporary
folder, removed at the end (nothing lands in the repository), the scene is converted into

- a raw download: ``<scene>/<scene>.sens`` (the colour JPEG files' bytes as they are, depth
  zlib-compressed, poses and intrinsics as the format's float32) beside the mesh, labels and
  ``.txt``; frame i of the export is recorded as frame i, the indices the export skipped as frames
  with the invalid-pose marker and no bytes (``pipeline.synthetic.sens_file``);
- what ScanNet's exporter would make of that ``.sens`` (poses and intrinsics through float32 and
  ``%f``; the same JPEG and depth files): the raw scene's exact counterpart, since the
  ``.sens``'s float32 cannot hold every digit of ../shared/data's intrinsics (a float64 halving
  of the original's, 9 significant digits);
- a nerfstudio capture: ``transforms.json`` (PINHOLE, OpenGL poses, +0.5 pixel centres), the
  colour files, the mesh as ``ply_file_path``, no depth (``pipeline.synthetic.nerfstudio_capture``).

Each path is ingested, fused with the ``simulated`` source, purified (geometric) and scored. The
``.sens`` is compared with its export, and the nerfstudio capture, which has no depth, with the
native path fused with
``fuse.use_depth = false``. Printed: mIoU (scannet19, scannet20) of the fused argmax and of the
purified labels, whether per-class IoU and the stored arrays equal the reference's, the fuse
stage's time (all of it, and its frame reading) per path, and the time to read every frame from
exported files and from the ``.sens`` (alternating, best of three: no first-use costs).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from layouts import purify_stage, run_stages, scores
from scan_args import add_scan_arguments, scan_folder


def export_of_sens(scan: Path, out_root: Path) -> Path:
    """What ScanNet's exporter would write from the bench's ``.sens``: the scene's frames with poses
    and intrinsics passed through the format's float32 and written with ``%f``; colour and depth
    files linked (the .sens holds the same JPEG bytes and depth values)."""
    from geopurify.pipeline.readers.checks import read_matrix

    dst = out_root / scan.name
    for sub in ("color", "depth", "pose", "intrinsic"):
        (dst / sub).mkdir(parents=True)
    for f in scan.iterdir():
        if f.is_file():
            (dst / f.name).symlink_to(f)
    for sub in ("color", "depth"):
        for f in (scan / sub).iterdir():
            (dst / sub / f.name).symlink_to(f)
    for sub in ("pose", "intrinsic"):
        for f in (scan / sub).glob("*.txt"):
            m = read_matrix(f).astype(np.float32)
            (dst / sub / f.name).write_text("".join(" ".join(f"{x:f}" for x in row) + "\n" for row in m))
    return dst


def fuse_timings(store_path: str, scene: str) -> dict:
    from geopurify.pipeline.store import Store
    from geopurify.pipeline.vocabulary import FUSED, scene_group

    return Store(store_path, create=False).attrs(scene_group(scene, FUSED))["timings"]


def frame_read_seconds(cfg, scene: str) -> float:
    """Seconds to read every frame's colour and depth through the reader's frames (what fuse reads)."""
    from geopurify.pipeline.readers import read_scene

    s = read_scene(cfg.dataset, scene, check_images=False)
    t = time.perf_counter()
    for frame in s.frames:
        frame.read_color()
        frame.read_depth(s.depth_scale)
    return time.perf_counter() - t


def same_arrays(store_path: str, ref_path: str, scene: str) -> dict[str, bool]:
    from geopurify.pipeline.store import Store
    from geopurify.pipeline.vocabulary import FEAT, FUSED, LABEL, NORMAL, POINTS, XYZ, scene_group

    ours, ref = Store(store_path, create=False), Store(ref_path, create=False)
    pairs = {"xyz": (POINTS, XYZ), "normal": (POINTS, NORMAL), "fused feat": (FUSED, FEAT),
             "purified label": (purify_stage().name, LABEL)}
    out = {}
    for key, (group, name) in pairs.items():
        a, b = ours.read(scene_group(scene, group), name), ref.read(scene_group(scene, group), name)
        out[key] = bool(np.array_equal(a, b))
        if not out[key] and a.dtype.kind == "f":
            out[key + " max diff"] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_scan_arguments(p)
    args = p.parse_args()

    from rich.console import Console
    from rich.table import Table

    from geopurify.pipeline.synthetic.nerfstudio_capture import scannet_to_nerfstudio
    from geopurify.pipeline.synthetic.sens_file import scannet_to_sens
    from geopurify.workflows.config import load_run_config

    scan = scan_folder(args)
    work = Path(tempfile.mkdtemp(prefix="geopurify-own-scans-"))
    common = ["fuse.text_encoder='hashed'", "purify.affinity='geometric'", "fuse.source='simulated'",
              f"fuse.simulated.preset={args.preset!r}", f"fuse.simulated.seed={args.seed}"]

    def cfg(name: str, kind: str, root: Path, *extra: str):
        return load_run_config(None, [f"store={str(work / (name + '.zarr'))!r}", f"dataset.kind={kind!r}",
                                      f"dataset.root={str(root)!r}", *common, *extra], search_cwd=False)

    try:
        t = time.perf_counter()
        scannet_to_sens(scan, work / "raw")
        sens_s = time.perf_counter() - t
        sens_mb = (work / "raw" / args.scene / f"{args.scene}.sens").stat().st_size / 2**20
        t = time.perf_counter()
        scannet_to_nerfstudio(scan, work / "nerfstudio")
        ns_s = time.perf_counter() - t
        export_of_sens(scan, work / "sens_export")
        runs = {  # name -> (config, reference name)
            "native (exported frames)": (cfg("native", "scannet", Path(args.root)), None),
            "the .sens's export": (cfg("sens_export", "scannet", work / "sens_export"), None),
            "raw .sens": (cfg("sens", "scannet", work / "raw"), "the .sens's export"),
            "native, use_depth = false": (cfg("native_nodepth", "scannet", Path(args.root), "fuse.use_depth=false"), None),
            "nerfstudio (no depth)": (cfg("nerfstudio", "nerfstudio", work / "nerfstudio", "fuse.use_depth=false"),
                                      "native, use_depth = false"),
        }
        seconds = {name: run_stages(c, args.scene) for name, (c, _) in runs.items()}
        results = {name: scores(c.store, args.scene) for name, (c, _) in runs.items()}
        timings = {name: fuse_timings(c.store, args.scene) for name, (c, _) in runs.items()}
        # frame reading alone, alternating, best of three each (warm file cache, no first-use costs)
        read_s = {"native (exported frames)": [], "raw .sens": []}
        for _ in range(3):
            for name in read_s:
                read_s[name].append(frame_read_seconds(runs[name][0], args.scene))
        arrays = {name: same_arrays(c.store, runs[ref][0].store, args.scene)
                  for name, (c, ref) in runs.items() if ref is not None}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    console = Console(width=max(150, Console().width))
    console.print(f"converted in {sens_s:.1f} s to a {sens_mb:.1f} MiB .sens, in {ns_s:.1f} s to a nerfstudio capture",
                  highlight=False)
    table = Table(title=f"{args.scene}: scores by input (simulated source, preset {args.preset}, seed {args.seed}, "
                        "purify geometric)")
    for col in ("path", "lift-only 19", "lift-only 20", "purified 19", "purified 20", "per-class IoU = ref",
                "fuse s", "fuse: reading frames s", "all stages s"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, res in results.items():
        ref = runs[name][1]
        same = "(reference)" if ref is None else (
            "yes" if all(res[k]["per_class"] == results[ref][k]["per_class"] for k in res) else "NO")
        table.add_row(name, *(f"{res[k]['miou']:.4f}" for k in (("fused", "scannet19"), ("fused", "scannet20"),
                                                              ("purified", "scannet19"), ("purified", "scannet20"))),
                      same, f"{timings[name]['total_s']:.1f}", f"{timings[name]['read_s']:.1f}", f"{seconds[name]:.0f}")
    console.print(table)
    console.print("reading all frames (colour + depth) through the reader, best of 3: "
                  + ", ".join(f"{k} {min(v):.2f} s" for k, v in read_s.items()), highlight=False)
    for name, same in arrays.items():
        verdicts = ", ".join(f"{k} {'yes' if v is True else 'NO' if v is False else f'{v:.3g}'}" for k, v in same.items())
        console.print(f"{name} vs {runs[name][1]}: identical {verdicts}", highlight=False)


if __name__ == "__main__":
    main()
