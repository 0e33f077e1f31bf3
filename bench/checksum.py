"""What the CRC32C checksum on every chunk costs: a store's size, and writing and reading a group.

    python bench/checksum.py --store geopurify-demo/store.zarr       # size of a store, with and without
    python bench/checksum.py --points 81369 --channels 512           # write / read time of a fused-size group

Size: every array of the store is rewritten into two copies, with its chunking and Blosc-zstd kept,
once with the checksum (as geopurify writes it) and once without; the bytes on disk are compared
(``du``-like, sum of file sizes). Time: ``Store.write_group`` and ``Store.read`` of a synthetic group
(float16 features and float32 coordinates, like a fused scene), median of ``--repeat`` runs each,
alternating with and without the checksum.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import zarr

from geopurify.pipeline import chunks
from geopurify.pipeline.store import Store

WITH = chunks.COMPRESSORS
WITHOUT = chunks.COMPRESSORS[:1]


def bytes_on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def copy_store(source: str, target: Path, compressors) -> int:
    """Every array of ``source`` rewritten under ``target`` with ``compressors``; returns chunk count."""
    src = zarr.open_group(source, mode="r")
    dst = zarr.open_group(str(target), mode="w", zarr_format=3)
    n = 0
    for path, arr in _walk(src):
        out = dst.create_array(path, shape=arr.shape, dtype=arr.dtype, chunks=arr.chunks,
                               compressors=compressors, config=chunks.ARRAY_CONFIG)
        out[...] = arr[...]
        n += out.nchunks
    return n


def _walk(group: zarr.Group, prefix: str = ""):
    with warnings.catch_warnings():  # logs/ and checkpoints/ are plain folders beside the groups
        warnings.simplefilter("ignore")
        members = list(group.members())
    for name, node in members:
        path = f"{prefix}{name}"
        if isinstance(node, zarr.Array):
            yield path, node
        else:
            yield from _walk(node, path + "/")


def time_group(points: int, channels: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    arrays = {"feat": rng.standard_normal((points, channels)).astype(np.float16),
              "xyz": rng.standard_normal((points, 3)).astype(np.float32)}
    times = {"with": {"write": [], "read": []}, "without": {"write": [], "read": []}}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for kind, comp in (("with", WITH), ("without", WITHOUT)) if i % 2 == 0 else \
                    (("without", WITHOUT), ("with", WITH)):
                chunks.COMPRESSORS = comp
                store = Store(Path(tmp) / f"{kind}{i}.zarr")
                t0 = time.perf_counter()
                store.write_group("scenes/a/fused", arrays, {"fingerprint": "f"})
                times[kind]["write"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for name in arrays:
                    store.read("scenes/a/fused", name)
                times[kind]["read"].append(time.perf_counter() - t0)
    chunks.COMPRESSORS = WITH
    return {k: {op: statistics.median(v) for op, v in ops.items()} for k, ops in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="a run store to measure the size of")
    ap.add_argument("--points", type=int, default=81369)
    ap.add_argument("--channels", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.store:
        with tempfile.TemporaryDirectory() as tmp:
            n = copy_store(args.store, Path(tmp) / "with", WITH)
            copy_store(args.store, Path(tmp) / "without", WITHOUT)
            a, b = bytes_on_disk(Path(tmp) / "with"), bytes_on_disk(Path(tmp) / "without")
        print(f"store {args.store}: {n} chunks; with checksums {a:,} bytes, without {b:,} bytes, "
              f"+{a - b:,} bytes ({100 * (a - b) / b:.3f}%)")
    t = time_group(args.points, args.channels, args.repeat)
    mib = args.points * (args.channels * 2 + 12) / 2**20
    print(f"group of {args.points:,} points x {args.channels} float16 + xyz ({mib:.0f} MiB raw), "
          f"median of {args.repeat}:")
    for op in ("write", "read"):
        w, wo = t["with"][op], t["without"][op]
        print(f"  {op:5s}: with checksum {w:.3f} s, without {wo:.3f} s ({100 * (w - wo) / wo:+.1f}%)")


if __name__ == "__main__":
    main()
