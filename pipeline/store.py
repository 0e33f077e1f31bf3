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

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .errors import StoreError
from .vocabulary import (
    LOGS, SCENES, STATE_DONE, STATE_INCOMPLETE, STATE_MISSING, STATE_STALE,
)

FORMAT_VERSION = 1
POINT_CHUNK = 65536

_COMPRESSOR = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")


def logs_dir(store_path: str | Path) -> Path:
    """``<store>/logs``: the run log, saved tracebacks and the lock (plain files)."""
    return Path(store_path) / LOGS


def _is_local(path: str) -> bool:
    return "://" not in path


class Store:
    """A run store on a local path (or any URL zarr can open).

    ``create=True`` makes a new store where nothing exists yet; ``create=False`` needs an existing
    one. Opening never writes to an existing store (status, score and report only read), and a
    folder that is not a store is never adopted.
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = str(path)
        self.root = self._open(create)

    def _open(self, create: bool) -> zarr.Group:
        if _is_local(self.path):
            self._check_local(create)
        try:
            root = zarr.open_group(self.path, mode="a", zarr_format=3)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the store ({exc.strerror or exc})") from None
        except Exception as exc:  # zarr raises several types for a non-store folder
            raise StoreError(f"{self.path}: not a readable Zarr v3 store ({exc})") from None
        version = root.attrs.get("geopurify_store_format")
        if version is None and create and not list(root.keys()):
            root.attrs.update({"geopurify_store_format": FORMAT_VERSION})
        elif version != FORMAT_VERSION:
            raise StoreError(
                f"{self.path}: store format {version!r} was written by an incompatible geopurify "
                f"version (this one reads format {FORMAT_VERSION}); use a new store path")
        if create and SCENES not in root:
            self._require_scenes(root)
        return root

    def _check_local(self, create: bool) -> None:
        """Refuse what is not a store before zarr touches it: a file, or a folder with other things."""
        path = Path(self.path)
        if not path.exists():
            if not create:
                raise StoreError(f"{self.path}: no store here")
            return
        if not path.is_dir():
            raise StoreError(f"{self.path}: is a file, not a store folder")
        meta = path / "zarr.json"
        if meta.is_file():
            try:
                attrs = json.loads(meta.read_text()).get("attributes", {})
            except PermissionError as exc:
                raise StoreError(f"{meta}: cannot read the store's metadata ({exc.strerror})") from None
            except (ValueError, AttributeError):
                raise StoreError(f"{meta}: the store's metadata is not valid JSON (cut short?); "
                                 "restore it or use a new store path") from None
            if "geopurify_store_format" not in attrs and any(p.name != "zarr.json" for p in path.iterdir()):
                raise StoreError(f"{self.path}: a Zarr store, but not a geopurify one; use a new store path")
            return
        if any(path.iterdir()) or not create:
            raise StoreError(f"{self.path}: exists and is not a geopurify store (no zarr.json); "
                             "give a new path or an existing store")

    @staticmethod
    def _require_scenes(root: zarr.Group) -> None:
        try:
            root.require_group(SCENES)
        except zarr.errors.ContainsGroupError:
            pass  # another worker created it at the same moment

    # ---- groups -------------------------------------------------------------------------
    def scene_ids(self) -> list[str]:
        """Scenes the store holds (local stores: the folders under ``scenes/``, so that a scene
        whose own metadata is damaged is still listed)."""
        if _is_local(self.path):
            folder = Path(self.path) / SCENES
            return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return sorted(self.root[SCENES].group_keys()) if SCENES in self.root else []

    def damaged_metadata(self, path: str) -> list[str]:
        """The ``zarr.json`` files on the way to ``path`` (its ancestors and itself) that do not decode."""
        if not _is_local(self.path):
            return []
        bad = []
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            meta = Path(self.path, *parts[:i], "zarr.json")
            if meta.is_file() and not _decodes(meta):
                bad.append(str(meta))
        return bad

    def group(self, path: str) -> zarr.Group | None:
        try:
            node = self.root[path]
        except KeyError:
            return None
        return node if isinstance(node, zarr.Group) else None

    def attrs(self, path: str) -> dict:
        """A group's attrs; ``{}`` when it does not exist; ``unreadable`` when its metadata does not
        decode (cut short by a crash). Any other failure (permissions, I/O) is raised, naming it."""
        try:
            g = self.group(path)
        except ValueError:  # json.JSONDecodeError and zarr's metadata errors: not complete
            return {"complete": False, "unreadable": True}
        except OSError as exc:
            raise StoreError(f"{self.path}/{path}: cannot read the group ({exc.strerror or exc})") from None
        return dict(g.attrs) if g is not None else {}

    def is_done(self, path: str, fingerprint: str) -> bool:
        if self.damaged_metadata(path):
            return False  # rewritten, ancestors repaired, by the next write
        a = self.attrs(path)
        return bool(a.get("complete")) and a.get("fingerprint") == fingerprint

    def state(self, path: str, fingerprint: str | None) -> str:
        """``done`` / ``stale`` (complete, other fingerprint) / ``incomplete`` / ``missing``."""
        a = self.attrs(path)
        if not a and self.group(path) is None:
            return STATE_MISSING
        if not a.get("complete"):
            return STATE_INCOMPLETE
        if fingerprint is not None and a.get("fingerprint") != fingerprint:
            return STATE_STALE
        return STATE_DONE

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
        self._repair_ancestors(path)
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

    def _repair_ancestors(self, path: str) -> None:
        """The folders above a group (``scenes/``, ``scenes/<id>/``) hold no attrs of their own: a
        ``zarr.json`` of theirs cut short is rewritten as an empty group's."""
        for meta in self.damaged_metadata(str(Path(path).parent)):
            Path(meta).write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))

    def _remove(self, path: str) -> None:
        """Remove a group whose own metadata does not decode (never for any other reason)."""
        if not _is_local(self.path):
            raise StoreError(f"{self.path}/{path}: group metadata is unreadable; remove it by hand")
        shutil.rmtree(Path(self.path) / path)


def _decodes(meta: Path) -> bool:
    try:
        json.loads(meta.read_text())
    except ValueError:
        return False
    return True
