"""The README's picture of the viewer: a store's scene in headless chromium, optionally with a prompt
typed into the text box.

    python bench/viewer_screenshot.py --store geopurify-demo/store.zarr --scene demo_eval \\
        --layer "student pooling" --prompt chair --out docs/viewer.png
"""

from __future__ import annotations

import argparse
import socket
import time

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--scene", default=None)
    parser.add_argument("--layer", default=None)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--out", default="viewer.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=820)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from geopurify.workflows.view_server import Viewer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    viewer = Viewer(args.store, args.scene, port=port)
    try:
        if args.layer:
            viewer.layer_pick.value = args.layer
            viewer._layer_changed()
        if args.prompt:
            viewer.prompt.value = args.prompt
            viewer.ask(args.prompt)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(viewer.address())
            page.wait_for_selector("canvas")
            toast = page.locator("#webgl-software-rendering .mantine-Notification-closeButton")
            time.sleep(2)
            if toast.count():
                toast.click()
            time.sleep(4)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        viewer.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
