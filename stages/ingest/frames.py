"""One posed frame as a reconstruction reads it: depth in metres, and the colour image resampled onto
the depth pixels (a depth camera and a colour camera of other sizes and intrinsics, one pose)."""

from __future__ import annotations

import numpy as np

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.scene import Frame


def read_depth(frame: Frame, depth_scale: float) -> np.ndarray:
    """(H, W) float32 metres, 0 = no reading; through the frame's own reader, so exported files,
    ``.sens`` recordings and undistorted captures all read the same way."""
    try:
        depth = frame.read_depth(depth_scale)
    except (OSError, ValueError) as exc:
        raise InputError(frame.depth_path, f"unreadable depth image ({exc})") from None
    if depth is None:
        raise InputError(frame.color_path, "frame has no depth image (a reconstruction needs depth)")
    return depth


def read_colour(frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8, through the frame's own reader."""
    try:
        return frame.read_color()
    except (OSError, ValueError) as exc:
        raise InputError(frame.color_path, f"unreadable colour image ({exc})") from None


def colour_lookup(K_colour: np.ndarray, K_depth: np.ndarray, depth_shape: tuple[int, int],
                  colour_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the colour pixel each depth pixel sees: both cameras share the frame's pose,
    so a depth pixel's ray lands on the colour image at ``K_colour K_depth^-1 (u, v, 1)`` whatever its
    depth. Nearest pixel, clamped to the image (a colour camera narrower than the depth camera gives
    its border colour to the margin)."""
    h, w = depth_shape
    v, u = np.mgrid[0:h, 0:w]
    rays = np.stack([u.ravel(), v.ravel(), np.ones(h * w)]).astype(np.float64)
    p = np.asarray(K_colour, np.float64) @ np.linalg.inv(np.asarray(K_depth, np.float64)) @ rays
    col = np.clip(np.rint(p[0] / p[2]), 0, colour_shape[1] - 1).astype(np.int64).reshape(h, w)
    row = np.clip(np.rint(p[1] / p[2]), 0, colour_shape[0] - 1).astype(np.int64).reshape(h, w)
    return row, col


class FrameReader:
    """Depth (metres) and depth-registered colour of a scene's frames; the lookup is made once."""

    def __init__(self, K_colour: np.ndarray, K_depth: np.ndarray, depth_scale: float):
        self.K_colour, self.K_depth, self.depth_scale = K_colour, K_depth, depth_scale
        self._lookup: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        depth = read_depth(frame, self.depth_scale)
        colour = read_colour(frame)
        key = (depth.shape, colour.shape[:2])
        if key not in self._lookup:
            self._lookup[key] = colour_lookup(self.K_colour, self.K_depth, depth.shape, colour.shape[:2])
        row, col = self._lookup[key]
        return depth, np.ascontiguousarray(colour[row, col])
