"""2D feature sources: a plain dict from ``fuse.source`` to a function that imports and makes it.

Every class is constructed as ``cls(fuse_cfg, text)`` and meets ``FeatureSource`` (sources/base.py).
Constructors must stay cheap (no model loading): the stage builds a source to fingerprint a scene.
"""

from __future__ import annotations

from geopurify.pipeline.errors import ConfigError

from .base import FeatureSource, TextEmbeddings

def _openclip(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    from .openclip import OpenClipSource

    return OpenClipSource(fuse_cfg, text)


def _simulated(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    from .simulated import SimulatedSource

    return SimulatedSource(fuse_cfg, text)


def _precomputed(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    from .precomputed import PrecomputedSource

    return PrecomputedSource(fuse_cfg, text)


def _openscene(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    from .openscene import OpenSceneSource

    return OpenSceneSource(fuse_cfg, text)


SOURCES = {"openclip": _openclip, "simulated": _simulated, "precomputed": _precomputed,
           "openscene": _openscene}
"""``fuse.source`` -> a function making the source (each imports its module when called)."""


def make_source(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    """The configured 2D source for ``text``'s vocabulary (``fuse_cfg``: a FuseConfig)."""
    if fuse_cfg.source not in SOURCES:
        raise ConfigError(f"fuse.source {fuse_cfg.source!r}: expected one of {', '.join(SOURCES)}")
    return SOURCES[fuse_cfg.source](fuse_cfg, text)


__all__ = ["SOURCES", "FeatureSource", "TextEmbeddings", "make_source"]
