"""The run store: one Zarr v3 hierarchy, a group per scene per stage, with provenance attrs.

Layout::

    <store>/zarr.json                     root attrs: format version
    <store>/scenes/<scene>/<stage>/       arrays chunked along points + provenance attrs
    <store>/text/<vocab>/                 text embeddings of a vocabulary
    <store>/models/<name>/                trained weights as arrays + provenance attrs
    <store>/logs/                         run log and lock (plain files, outside the hierarchy)

A group is *done* when its attrs say ``complete``, its fingerprint equals the one the current
inputs and config give, and ``verify`` has not marked it ``damaged``. On a local store a group is
(re)written whole in a staging folder and swapped in by rename under the group's lock
(``pipeline/swap.py``), so a reader or a second writer never sees a mix of two runs and a crash
leaves the previous group as it was. Remote stores (``://``, where no rename exists) rewrite in
place: ``complete`` is cleared first and set last, so a crash leaves a group that is incomplete.

Every array is checksummed and its chunks recorded when the group completes; every read goes
through ``Store.read`` / ``Store.array`` (``pipeline/chunks.py``), so a flipped bit or a missing
chunk file is one line naming the chunk and the command that rewrites it, never zeros.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import swap
from .chunks import DAMAGED, WRITTEN, CheckedArray, create_array, repair_hint, undecodable_metadata
from .errors import StoreError
from .lock import group_lock
from .vocabulary import (
    LOGS, SCENES, STATE_DAMAGED, STATE_DONE, STATE_INCOMPLETE, STATE_MISSING, STATE_STALE,
)

FORMAT_VERSION = 1
POINT_CHUNK = 65536


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
        return bool(a.get("complete")) and a.get("fingerprint") == fingerprint and not a.get(DAMAGED)

    def state(self, path: str, fingerprint: str | None) -> str:
        """``done`` / ``stale`` (complete, other fingerprint) / ``damaged`` (``verify`` found a chunk
        that does not decode or is missing) / ``incomplete`` / ``missing``."""
        a = self.attrs(path)
        if not a and self.group(path) is None:
            return STATE_MISSING
        if not a.get("complete"):
            return STATE_INCOMPLETE
        if a.get(DAMAGED):
            return STATE_DAMAGED
        if fingerprint is not None and a.get("fingerprint") != fingerprint:
            return STATE_STALE
        return STATE_DONE

    def require_done(self, path: str, what: str) -> dict:
        """Attrs of an upstream group that must be complete and undamaged; a clear error otherwise."""
        a = self.attrs(path)
        if not a.get("complete"):
            raise StoreError(f"{self.path}/{path}: {what} is missing or incomplete; run it first")
        if a.get(DAMAGED):
            raise StoreError(f"{what} was marked damaged by verify: {a[DAMAGED]}")
        return a

    def array(self, path: str, name: str) -> CheckedArray:
        """A stored array to read from (whole or in slices): a missing or undecodable chunk, or an
        array whose metadata does not decode, fails in one line naming the file."""
        try:
            g = self.group(path)
        except ValueError as exc:
            raise undecodable_metadata(self.path, str(Path(path).parent), Path(path).name, exc) from None
        if g is None:
            raise StoreError(f"{self.path}/{path}/{name}: array not found")
        try:
            node = g[name]
        except KeyError:
            raise StoreError(f"{self.path}/{path}/{name}: array not found") from None
        except OSError:
            raise
        except Exception as exc:  # zarr's metadata errors for a cut-short or overwritten zarr.json
            raise undecodable_metadata(self.path, path, name, exc) from None
        if not isinstance(node, zarr.Array):
            raise StoreError(f"{self.path}/{path}/{name}: array not found")
        return CheckedArray(self.path, path, name, node, g.attrs.get(WRITTEN, {}).get(name))

    def read(self, path: str, name: str) -> np.ndarray:
        """A whole stored array; the one way to read one (see ``array``)."""
        return self.array(path, name).read()

    def array_names(self, path: str) -> list[str]:
        """The arrays a group holds (from the folder's listing; none when the group is missing)."""
        g = self.group(path)
        return sorted(g.array_keys()) if g is not None else []

    def mark_damaged(self, path: str, reason: str, finished_at: str | None = None) -> bool:
        """Record ``reason`` in a group's attrs (arrays untouched): it is no longer done, and the next
        run of its stage recomputes it. ``finished_at``: only if the group is still the one that was
        read (not rewritten meanwhile). Returns whether it was marked."""
        with group_lock(self.path, path):
            g = self.group(path)
            if g is None or (finished_at is not None and g.attrs.get("finished_at") != finished_at):
                return False
            g.attrs.update({DAMAGED: reason})
            return True

    def write_group(self, path: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any],
                    chunk_rows: int = POINT_CHUNK) -> None:
        """(Re)write a group as a whole: arrays (checksummed, their chunks recorded), then attrs,
        ``complete`` last. Local stores write a staging folder and swap it in under the group's
        lock; remote ones rewrite in place with ``complete`` cleared first. Everything is computed
        before this is called, so a failure upstream never touches the store."""
        started = time.perf_counter()
        if not _is_local(self.path):
            return self._write_in_place(path, arrays, attrs, chunk_rows, started)
        self.attrs(path)  # a group that cannot be read (permissions, I/O) is raised, never replaced blindly
        swap.remove_abandoned(self.path)
        staged = swap.new_staging_folder(self.path, path)
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            g = zarr.open_group(str(staged), mode="w", zarr_format=3)
            self._fill(g, arrays, attrs, chunk_rows, started)
            with group_lock(self.path, path):
                self._repair_ancestors(path)
                self._require_parent(path)
                swap.swap_in(staged, Path(self.path) / path)
        except OSError as exc:  # a full disk, a read-only store: named by the group, not the staging folder
            shutil.rmtree(staged, ignore_errors=True)
            raise OSError(exc.errno, f"cannot write the group ({exc.strerror or exc})",
                          f"{self.path}/{path}") from exc
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def _write_in_place(self, path: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any],
                        chunk_rows: int, started: float) -> None:
        """Remote stores: clear ``complete``, replace the arrays, set attrs, ``complete`` last."""
        if self.attrs(path).get("unreadable"):
            self._remove(path)
        g = self.root.require_group(path)
        g.attrs.update({"complete": False})
        for name in list(g.array_keys()):
            if name not in arrays:
                del g[name]
        self._fill(g, arrays, attrs, chunk_rows, started)

    @staticmethod
    def _fill(g: zarr.Group, arrays: dict[str, np.ndarray], attrs: dict[str, Any], chunk_rows: int,
              started: float) -> None:
        written = {name: create_array(g, name, np.ascontiguousarray(data), chunk_rows)
                   for name, data in arrays.items()}
        final = {k: v for k, v in attrs.items() if k != DAMAGED}
        final.setdefault("timings", {})
        final["timings"] = {**final["timings"], "write_s": round(time.perf_counter() - started, 3)}
        final["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        final[WRITTEN] = written
        if g.attrs.get(DAMAGED):  # an in-place rewrite of a group verify marked
            final[DAMAGED] = None
        g.attrs.update(final)
        g.attrs.update({"complete": True})  # written last, on its own

    def _require_parent(self, path: str) -> None:
        """The Zarr groups above ``path`` (``scenes/<id>``, ``text``, ``models``) exist."""
        parent = str(Path(path).parent)
        if parent not in ("", "."):
            try:
                self.root.require_group(parent)
            except zarr.errors.ContainsGroupError:
                pass  # another worker created it at the same moment

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
