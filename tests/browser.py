"""Headless Chromium for the viewer tests: Debian's ``chromium`` driven by playwright's Python client
(never ``playwright install``). ``launch`` skips the test, saying why, where no browser can start.

WebGL: this chromium falls back to SwiftShader (ANGLE on its Vulkan device) with no flags; the
flags below make that explicit, so a newer chromium that drops the automatic fallback still draws.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
BACKGROUND = np.array([255, 255, 255])


def launch(playwright):
    """A headless chromium, or a skip naming what is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no browser: {CHROMIUM} is not installed (apt-get install chromium)")
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    except Exception as exc:  # a sandbox or a missing library: say which
        pytest.skip(f"chromium at {CHROMIUM} does not start: {str(exc).splitlines()[0]}")


def sync_playwright():
    api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    return api.sync_playwright()


def pixels(png: bytes) -> np.ndarray:
    """(H, W, 3) uint8 of a screenshot."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def foreground(img: np.ndarray, tolerance: int = 6) -> np.ndarray:
    """(H, W) bool: pixels that are not the page's white background."""
    return np.abs(img.astype(np.int16) - BACKGROUND).max(axis=2) > tolerance


def share_inside(mask: np.ndarray, box: tuple[float, float, float, float], margin: float = 8) -> float:
    """Share of the ``mask`` pixels inside ``box`` (x0, y0, x1, y1; pixels), grown by ``margin``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0
    x0, y0, x1, y1 = box
    inside = (xs >= x0 - margin) & (xs <= x1 + margin) & (ys >= y0 - margin) & (ys <= y1 + margin)
    return float(inside.mean())


def colour_count(img: np.ndarray, rgb, tolerance: int = 4) -> int:
    """Pixels within ``tolerance`` of ``rgb`` in every channel."""
    return int((np.abs(img.astype(np.int16) - np.asarray(rgb)).max(axis=2) <= tolerance).sum())


def project(camera, xyz: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 2) pixel positions of ``xyz`` in a viser client's view (OpenCV camera: +z forward, -y
    up; ``fov`` vertical), NaN behind the camera."""
    w, x, y, z = np.asarray(camera.wxyz, dtype=np.float64)
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    cam = (np.asarray(xyz, dtype=np.float64) - np.asarray(camera.position)) @ rot
    focal = height / 2 / np.tan(camera.fov / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([focal * cam[:, 0] / cam[:, 2] + width / 2, focal * cam[:, 1] / cam[:, 2] + height / 2], 1)
    uv[cam[:, 2] <= 0] = np.nan
    return uv
