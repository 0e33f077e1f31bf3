"""Views of a scan for contrastive pretraining: small transforms, each doing one thing, chained.

Every transform takes and returns a ``View`` (points plus the index of each point in the original
scan, so two views of one scan can be matched point by point) and draws from the ``rng`` it is given,
so a view is a pure function of (scan, seed): a resumed run redraws exactly the same views.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from geopurify.stages.training.augment import random_rotation


@dataclass
class View:
    xyz: np.ndarray
    """(M, 3) float32 transformed positions."""
    rgb: np.ndarray
    """(M, 3) float32 colours in [0, 1]."""
    normal: np.ndarray
    """(M, 3) float32 normals, rotated with the points (zero where masked)."""
    index: np.ndarray
    """(M,) int64 index of each point in the original scan."""


@dataclass
class AugmentConfig:
    crop_size: tuple[float, float] = (3.0, 4.5)
    """Side of the square xy crop box (metres), drawn per view; boxes share a random centre."""
    crop_offset: float = 0.5
    """Each view's box centre moves up to this far (metres) from the shared centre."""
    drop: float = 0.1
    """Share of points dropped at random (density changes)."""
    max_tilt_deg: float = 3.0
    """Rotation about x and y, uniform in +-this (the full turn is about z)."""
    scale: tuple[float, float] = (0.9, 1.1)
    """Uniform scale range."""
    jitter: float = 0.005
    """Std of Gaussian position noise (metres), clipped at 4 sigma."""
    brightness: float = 0.15
    """Colour brightness shift, uniform in +-this."""
    contrast: float = 0.2
    """Colour contrast factor, uniform in 1 +- this."""
    channel_shift: float = 0.05
    """Per-channel colour shift, uniform in +-this."""
    grey_prob: float = 0.2
    """Chance of a view turned grey (colour-free)."""
    mask_cell: float = 0.1
    """Cell size (metres) of the masking grid."""
    mask_ratio: float = 0.3
    """Share of masking cells whose colour and normal are zeroed (the network must use context)."""


def make_view(xyz: np.ndarray, rgb: np.ndarray, normal: np.ndarray, centre: np.ndarray,
              cfg: AugmentConfig, rng: np.random.Generator) -> View:
    """One augmented view of a scan: crop, drop, colour jitter, rotate/scale/flip, jitter, mask."""
    colour = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    view = View(xyz.astype(np.float32), colour, normal.astype(np.float32), np.arange(len(xyz)))
    view = crop(view, centre, cfg, rng)
    view = drop(view, cfg.drop, rng)
    view = colour_jitter(view, cfg, rng)
    view = rotate_scale_flip(view, cfg, rng)
    view = position_jitter(view, cfg.jitter, rng)
    return mask_cells(view, cfg.mask_cell, cfg.mask_ratio, rng)


def crop(view: View, centre: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> View:
    side = rng.uniform(*cfg.crop_size)
    c = centre[:2] + rng.uniform(-cfg.crop_offset, cfg.crop_offset, size=2)
    keep = np.all(np.abs(view.xyz[:, :2] - c) <= side / 2, axis=1)
    return _select(view, keep)


def drop(view: View, share: float, rng: np.random.Generator) -> View:
    return _select(view, rng.random(len(view.index)) >= share) if share > 0 else view


def colour_jitter(view: View, cfg: AugmentConfig, rng: np.random.Generator) -> View:
    c = view.rgb
    if rng.random() < cfg.grey_prob:
        c = np.repeat(c @ np.array([[0.299], [0.587], [0.114]], np.float32), 3, axis=1)
    mean = c.mean(axis=0, keepdims=True)
    c = (c - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    c = c + rng.uniform(-cfg.brightness, cfg.brightness)
    c = c + rng.uniform(-cfg.channel_shift, cfg.channel_shift, size=(1, 3))
    return replace(view, rgb=np.clip(c, 0, 1).astype(np.float32))


def mask_cells(view: View, cell: float, ratio: float, rng: np.random.Generator) -> View:
    """Zero colour and normal in a random share of grid cells (masked-scene-contrast style)."""
    if ratio <= 0 or len(view.index) == 0:
        return view
    cells = np.floor(view.xyz / cell).astype(np.int64)
    _, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    masked = rng.random(inverse.max() + 1) < ratio
    hit = masked[inverse]
    rgb, normal = view.rgb.copy(), view.normal.copy()
    rgb[hit] = 0.0
    normal[hit] = 0.0
    return replace(view, rgb=rgb, normal=normal)


def rotate_scale_flip(view: View, cfg: AugmentConfig, rng: np.random.Generator) -> View:
    """A random turn and tilt (the one distill uses too), a mirror half the time, a uniform scale."""
    r = random_rotation(rng, cfg.max_tilt_deg)
    if rng.random() < 0.5:
        r = r @ np.diag([-1.0, 1.0, 1.0])  # a mirror: normals follow the same linear map
    s = rng.uniform(*cfg.scale)
    xyz = (view.xyz @ (r.T * s)).astype(np.float32)
    normal = (view.normal @ r.T).astype(np.float32)
    return replace(view, xyz=xyz, normal=normal)


def position_jitter(view: View, sigma: float, rng: np.random.Generator) -> View:
    if sigma <= 0:
        return view
    noise = np.clip(rng.normal(0, sigma, size=view.xyz.shape), -4 * sigma, 4 * sigma)
    return replace(view, xyz=(view.xyz + noise).astype(np.float32))


def _select(view: View, keep: np.ndarray) -> View:
    return View(view.xyz[keep], view.rgb[keep], view.normal[keep], view.index[keep])
