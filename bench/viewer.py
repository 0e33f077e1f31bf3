"""The viewer's first draw and a text query's answer time, on a real scan and on a 300k-point scene.

    flock /tmp/geopurify-cpu.lock python bench/viewer.py [--store WORK.zarr] [--scene scene0000_00]

The store (built once when ``--store`` does not exist yet, kept for reruns): ``scene0000_00`` of
``../shared/data`` ingested, fused with the ``simulated`` source (hashed text encoder) and purified
with the geometric affinity, features kept; beside it ``<scene>_x4``, the same scan with every
point repeated four times (each copy jittered by 5 mm, labels and features copied): about 325k
points. Printed per scene:

- load: building every layer and the query features on the server (``Viewer(...)``);
- first draw: from the browser opening the address to the first screenshot of headless chromium
  (SwiftShader, software WebGL) showing the scene; it includes viser's transfer of the points;
- query: ``chair`` scored against the purified features with region outlines (median of 3), and
  the whole round trip in the viewer (scores, heat map, sending the colours).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REPEAT = 4
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def build_store(store: str, root: Path, scene: str, keep_features: bool = True) -> None:
    from layouts import run_stages

    from geopurify.workflows.config import load_run_config

    cfg = load_run_config(None, [f"store={store!r}", "dataset.kind='scannet'", f"dataset.root={str(root)!r}",
                                 "fuse.source='simulated'", "fuse.text_encoder='hashed'",
                                 "purify.affinity='geometric'",
                                 f"purify.keep_features={'true' if keep_features else 'false'}"], search_cwd=False)
    run_stages(cfg, scene)


def write_repeated(store_path: str, scene: str) -> str:
    """``<scene>_x4``: every point four times, jittered; arrays and records copied."""
    from geopurify.pipeline import vocabulary as V
    from geopurify.pipeline.store import Store

    big = f"{scene}_x{REPEAT}"
    store = Store(store_path, create=False)
    rng = np.random.default_rng(0)
    for group in (V.POINTS, V.FUSED, V.purified_group("geometric")):
        src = V.scene_group(scene, group)
        if store.attrs(V.scene_group(big, group)).get("complete"):
            continue
        arrays = {}
        for name in store.group(src).array_keys():
            a = store.read(src, name)
            arrays[name] = np.concatenate([a] * REPEAT)
            if name == V.XYZ:
                arrays[name] = (arrays[name] + rng.normal(0, 0.005, arrays[name].shape)).astype(a.dtype)
        attrs = {k: v for k, v in store.attrs(src).items() if k != "complete"}
        store.write_group(V.scene_group(big, group), arrays, attrs)
    return big


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_draw(page, address: str, timeout: float = 300.0) -> float:
    import io

    from PIL import Image

    start = time.perf_counter()
    page.goto(address)
    page.wait_for_selector("canvas")
    while time.perf_counter() - start < timeout:
        canvases = page.locator("canvas")
        canvas = max((canvases.nth(i) for i in range(canvases.count())),
                     key=lambda c: (c.bounding_box() or {"width": 0})["width"])
        img = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(np.int16)
        if (np.abs(img - 255).max(axis=2) > 6).mean() > 0.05:  # the scene covers part of the view
            return time.perf_counter() - start
        time.sleep(0.1)
    raise SystemExit("the scene never appeared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="/tmp/geopurify-bench-viewer.zarr")
    parser.add_argument("--scene", default="scene0000_00")
    parser.add_argument("--root", default=str(DATA / "scannet" / "scans"))
    parser.add_argument("--labels-only", action="store_true",
                        help="purify without keeping features (much faster to build): queries then score "
                             "the fused features, of the same width")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from geopurify.workflows.view_server import Viewer

    if not Path(args.store).exists():
        if not (Path(args.root) / args.scene).is_dir():
            raise SystemExit(f"{args.root}/{args.scene}: not found (../shared/data missing?)")
        t = time.perf_counter()
        build_store(args.store, Path(args.root), args.scene, keep_features=not args.labels_only)
        print(f"built {args.store} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    big = write_repeated(args.store, args.scene)
    print(f"{'scene':<20} {'points':>9} {'queried':>18} {'load s':>7} {'first draw s':>13} {'query s':>8} {'query+draw s':>13}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for scene in (args.scene, big):
            t = time.perf_counter()
            viewer = Viewer(args.store, scene, port=free_port())
            load = time.perf_counter() - t
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            draw = first_draw(page, viewer.address())
            asks = []
            for _ in range(3):
                asks.append(viewer.prompter.ask("chair").seconds)
            t = time.perf_counter()
            viewer.ask("chair")
            round_trip = time.perf_counter() - t
            print(f"{scene:<20} {len(viewer.data.xyz):>9,} {viewer.prompter.group:>18} {load:>7.2f} {draw:>13.2f} "
                  f"{statistics.median(asks):>8.3f} {round_trip:>13.3f}", flush=True)
            page.close()
            viewer.stop()
        browser.close()


if __name__ == "__main__":
    main()
