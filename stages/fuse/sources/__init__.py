"""2D feature sources: a plain dict from ``fuse.source`` to the class, imported when first used.

Every class is constructed as ``cls(fuse_cfg, text)`` and meets ``FeatureSource`` (sources/base.py).
Constructors must stay cheap (no model loading): the stage builds a source to fingerprint a scene.
"""

from __future__ import annotations

import importlib

from geopurify.pipeline.errors import ConfigError

from .base import FeatureSource, TextEmbeddings

SOURCES = {
    "openclip": "geopurify.stages.fuse.sources.openclip:OpenClipSource",
    "simulated": "geopurify.stages.fuse.sources.simulated:SimulatedSource",
    "precomputed": "geopurify.stages.fuse.sources.precomputed:PrecomputedSource",
    "openscene": "geopurify.stages.fuse.sources.openscene:OpenSceneSource",
}


def make_source(fuse_cfg, text: TextEmbeddings) -> FeatureSource:
    """The configured 2D source for ``text``'s vocabulary (``fuse_cfg``: a FuseConfig)."""
    if fuse_cfg.source not in SOURCES:
        raise ConfigError(f"fuse.source {fuse_cfg.source!r}: expected one of {', '.join(SOURCES)}")
    module, cls = SOURCES[fuse_cfg.source].split(":")
    return getattr(importlib.import_module(module), cls)(fuse_cfg, text)


__all__ = ["SOURCES", "FeatureSource", "TextEmbeddings", "make_source"]
