"""Chunk integrity: what a group wrote, and reading it back so that damage is one line, never zeros.

Every array is written with a CRC32C checksum after its compressor (zarr v3's ``crc32c`` codec),
and with every chunk stored (also chunks that equal the fill value), so that a group's completion
record (``arrays`` in its attrs: shape, dtype, chunk count, checksum per array) says exactly which
chunk files must exist. Reading through ``CheckedArray`` then turns both kinds of damage into one
``DamagedError`` line naming the chunk file and the command that rewrites the group:

- a chunk that does not decode (a flipped bit fails its checksum; a cut-short one breaks Blosc);
- a chunk file that is missing (zarr alone would return its fill value).

Groups written before this (no ``arrays`` record) still read; only decoding errors are caught there.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import zarr

from .errors import StoreError
from .vocabulary import COMMAND_GROUP, MODELS, PURIFIED_PREFIX, SCENES, TEXT

CHECKSUM = "crc32c"
WRITTEN = "arrays"
"""Group attr: ``{array: {"shape", "dtype", "chunks", "checksum"}}``, recorded when the group completes."""
DAMAGED = "damaged"
"""Group attr set by ``verify`` (the reason); a damaged group is never done."""

COMPRESSORS = (zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle"), zarr.codecs.Crc32cCodec())
"""Blosc-zstd, then the checksum of the compressed bytes (so any flipped bit on disk is caught)."""
ARRAY_CONFIG = {"write_empty_chunks": True}
"""Store every chunk: a missing chunk file is then always damage, never "all fill value"."""


class DamagedError(StoreError):
    """A chunk or array metadata file that does not decode, or a chunk file that is missing."""


def create_array(group: zarr.Group, name: str, data: np.ndarray, chunk_rows: int) -> dict:
    """Write ``data`` as array ``name`` of ``group`` (chunked along the first axis, checksummed,
    every chunk stored); returns its completion record."""
    chunks = (min(chunk_rows, max(1, data.shape[0])),) + tuple(data.shape[1:]) if data.ndim else None
    arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks,
                             compressors=COMPRESSORS if data.ndim else (zarr.codecs.Crc32cCodec(),),
                             config=ARRAY_CONFIG, overwrite=True)
    arr[...] = data
    return {"shape": list(data.shape), "dtype": str(data.dtype), "chunks": int(arr.nchunks),
            "checksum": CHECKSUM}


def has_checksums(attrs: dict) -> bool:
    """Whether a group's arrays were written checksummed, with their chunks recorded."""
    written = attrs.get(WRITTEN)
    return isinstance(written, dict) and all(r.get("checksum") == CHECKSUM for r in written.values())


def repair_hint(store_path: str, group_path: str) -> str:
    """The command that rewrites ``group_path`` (a scene's group, a vocabulary's text, the student)."""
    parts = group_path.strip("/").split("/")
    where = f" --store {store_path}"
    if parts[0] == SCENES and len(parts) == 3:
        scene, group = parts[1], parts[2]
        command = next((c for c, g in COMMAND_GROUP.items() if g == group), None)
        extra = ""
        if command is None and group.startswith(PURIFIED_PREFIX):
            command, extra = "purify", f" --affinity {group[len(PURIFIED_PREFIX):]}"
        if command is not None:
            return f"rerun `geopurify-run {command}{where} --scenes {scene}{extra} --force`"
    if parts[0] == MODELS:
        return f"rerun `geopurify-run distill{where} --force`"
    if parts[0] == TEXT:
        return f"run `geopurify-run verify{where}` (marks it damaged), then `geopurify-run fuse{where}`"
    return "rewrite it with the stage that made it"


class CheckedArray:
    """A stored array whose reads fail in one line on a missing or undecodable chunk."""

    def __init__(self, store_path: str, group_path: str, name: str, array: zarr.Array, record: dict | None):
        self.store_path, self.group_path, self.name = store_path, group_path, name
        self.array, self.record = array, record
        self._present = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def _where(self) -> str:
        return f"{self.store_path}/{self.group_path}/{self.name}"

    def _fail(self, what: str) -> DamagedError:
        return DamagedError(f"{what}; {self.group_path} is damaged: "
                            f"{repair_hint(self.store_path, self.group_path)}")

    def chunk_file(self, coords: tuple[int, ...]) -> str:
        return f"{self._where()}/{self.array.metadata.encode_chunk_key(coords)}"

    def chunk_coords(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*(range(n) for n in self.array.cdata_shape)))

    def check_present(self) -> None:
        """The array's shape and chunk files against the group's completion record (when it has one)."""
        if self._present or self.record is None:
            return
        if list(self.shape) != list(self.record.get("shape", self.shape)):
            raise self._fail(f"{self._where()}: shape {list(self.shape)}, but the group recorded "
                             f"{self.record['shape']} when it completed")
        if "://" not in self.store_path:
            for coords in self.chunk_coords():
                path = self.chunk_file(coords)
                if not Path(path).is_file():
                    raise self._fail(f"{path}: chunk file is missing")
        elif self.array.nchunks_initialized < self.record.get("chunks", 0):
            raise self._fail(f"{self._where()}: {self.record['chunks'] - self.array.nchunks_initialized} "
                             "chunk file(s) missing")
        self._present = True

    def __getitem__(self, selection) -> np.ndarray:
        self.check_present()
        try:
            return self.array[selection]
        except OSError:
            raise  # permissions, I/O: the operating system's own line names the file
        except Exception as exc:  # a chunk that does not decode: find which one, to name it
            raise self._undecodable(exc) from None

    def read(self) -> np.ndarray:
        return self[...]

    def verify(self) -> None:
        """Decode every chunk (raises ``DamagedError`` on the first that fails)."""
        self.check_present()
        for coords in self.chunk_coords():
            self._block(coords)

    def _block(self, coords: tuple[int, ...]) -> None:
        try:
            self.array.blocks[coords]
        except OSError:
            raise
        except Exception as exc:
            raise self._fail(f"{self.chunk_file(coords)}: chunk does not decode ({_reason(exc)})") from None

    def _undecodable(self, exc: Exception) -> Exception:
        for coords in self.chunk_coords():
            try:
                self._block(coords)
            except DamagedError as named:
                return named
        return self._fail(f"{self._where()}: does not decode ({_reason(exc)})")


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "checksum" in text.lower():
        return "checksum mismatch"
    return f"{type(exc).__name__}: {text[:120]}"


def undecodable_metadata(store_path: str, group_path: str, name: str, exc: Exception) -> DamagedError:
    """An array whose own ``zarr.json`` does not decode (cut short, overwritten)."""
    return DamagedError(f"{store_path}/{group_path}/{name}/zarr.json: array metadata does not decode "
                        f"({_reason(exc)}); {group_path} is damaged: {repair_hint(store_path, group_path)}")


__all__ = ["CHECKSUM", "COMPRESSORS", "CheckedArray", "DAMAGED", "DamagedError", "WRITTEN", "create_array",
           "has_checksums", "repair_hint", "undecodable_metadata"]
