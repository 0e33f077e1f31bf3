"""The run store: one Zarr v3 hierarchy, a group per scene per stage, with provenance attrs.

Layout::

    <store>/zarr.json                     root attrs: format version
    <store>/scenes/<scene>/<stage>/       arrays chunked along points + provenance attrs
    <store>/text/<vocab>/                 text embeddings of a vocabulary
    <store>/models/<name>/                trained weights as arrays + provenance attrs
    <store>/logs/                         run log and lock (plain files, outside the hierarchy)

A group is *done* when its attrs say ``complete`` and its fingerprint equals the one the current
inputs and config give. ``complete`` is cleared before a group is (re)written and set last, so a
crash mid-write can never leave a group that claims to be complete.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .errors import StoreError

FORMAT_VERSION = 1
POINT_CHUNK = 65536

_COMPRESSOR = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")


class Store:
    """A run store on a local path (or any URL zarr can open)."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = str(path)
        self.root = self._open(create)

    def _open(self, create: bool) -> zarr.Group:
        local = "://" not in self.path
        if local and not Path(self.path).exists():
            if not create:
                raise StoreError(f"{self.path}: no store here")
            root = zarr.open_group(self.path, mode="a", zarr_format=3)
            root.attrs.update({"geopurify_store_format": FORMAT_VERSION})
            self._require_scenes(root)
            return root
        try:
            root = zarr.open_group(self.path, mode="a", zarr_format=3)
        except Exception as exc:  # zarr raises several types for a non-store folder
            raise StoreError(f"{self.path}: not a readable Zarr v3 store ({exc})") from None
        version = root.attrs.get("geopurify_store_format")
        if version is None and not list(root.keys()):
            root.attrs.update({"geopurify_store_format": FORMAT_VERSION})
        elif version != FORMAT_VERSION:
            raise StoreError(
                f"{self.path}: store format {version!r} was written by an incompatible geopurify "
                f"version (this one reads format {FORMAT_VERSION}); use a new store path")
        self._require_scenes(root)
        return root

    @staticmethod
    def _require_scenes(root: zarr.Group) -> None:
        try:
            root.require_group("scenes")
        except zarr.errors.ContainsGroupError:
            pass  # another worker created it at the same moment

    @property
    def logs_dir(self) -> Path:
        return Path(self.path) / "logs"

    # ---- groups -------------------------------------------------------------------------
    @staticmethod
    def scene_group_path(scene_id: str, stage: str) -> str:
        return f"scenes/{scene_id}/{stage}"

    def scene_ids(self) -> list[str]:
        return sorted(self.root["scenes"].group_keys())

    def stages_of(self, scene_id: str) -> list[str]:
        return sorted(self.root[f"scenes/{scene_id}"].group_keys())

    def group(self, path: str) -> zarr.Group | None:
        try:
            node = self.root[path]
        except KeyError:
            return None
        return node if isinstance(node, zarr.Group) else None

    def attrs(self, path: str) -> dict:
        try:
            g = self.group(path)
        except Exception:  # metadata cut short by a crash mid-write: not complete
            return {"complete": False, "unreadable": True}
        return dict(g.attrs) if g is not None else {}

    def is_done(self, path: str, fingerprint: str) -> bool:
        a = self.attrs(path)
        return bool(a.get("complete")) and a.get("fingerprint") == fingerprint

    def state(self, path: str, fingerprint: str | None) -> str:
        """``done`` / ``stale`` (complete, other fingerprint) / ``incomplete`` / ``missing``."""
        a = self.attrs(path)
        if not a and self.group(path) is None:
            return "missing"
        if not a.get("complete"):
            return "incomplete"
        if fingerprint is not None and a.get("fingerprint") != fingerprint:
            return "stale"
        return "done"

    def require_done(self, path: str, what: str) -> dict:
        """Attrs of an upstream group that must be complete; a clear error otherwise."""
        a = self.attrs(path)
        if not a.get("complete"):
            raise StoreError(f"{self.path}/{path}: {what} is missing or incomplete; run it first")
        return a

    def read(self, path: str, name: str) -> np.ndarray:
        g = self.group(path)
        if g is None or name not in g:
            raise StoreError(f"{self.path}/{path}/{name}: array not found")
        return g[name][...]

    def write_group(self, path: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any],
                    chunk_rows: int = POINT_CHUNK) -> None:
        """(Re)write a group: clear ``complete``, replace the arrays, then set attrs, ``complete``
        last. Everything is computed before this is called, so a failure upstream never touches
        the store."""
        started = time.perf_counter()
        if self.attrs(path).get("unreadable"):
            self._remove(path)
        g = self.root.require_group(path)
        g.attrs.update({"complete": False})
        for name in list(g.array_keys()):
            if name not in arrays:
                del g[name]
        for name, data in arrays.items():
            data = np.ascontiguousarray(data)
            chunks = (min(chunk_rows, max(1, data.shape[0])),) + tuple(data.shape[1:]) if data.ndim else ()
            arr = g.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks or None,
                                 compressors=_COMPRESSOR if data.ndim else None, overwrite=True)
            arr[...] = data
        final = dict(attrs)
        final.setdefault("timings", {})
        final["timings"] = {**final["timings"], "write_s": round(time.perf_counter() - started, 3)}
        final["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        g.attrs.update(final)
        g.attrs.update({"complete": True})  # written last, on its own

    def _remove(self, path: str) -> None:
        if "://" in self.path:
            raise StoreError(f"{self.path}/{path}: group metadata is unreadable; remove it by hand")
        shutil.rmtree(Path(self.path) / path, ignore_errors=True)

    def invalidate(self, path: str) -> None:
        g = self.group(path)
        if g is not None:
            g.attrs.update({"complete": False})
