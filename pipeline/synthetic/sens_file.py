"""A ScanNet scene in the exported layout written back as a raw download: ``<scene>.sens`` (ScanNet's
SensorData version 4) beside the mesh, labels and ``<scene>.txt``. For the tests and the layout
bench; spelled out from the format as ScanNet's SensReader documents it, not from our reader.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

JPEG, ZLIB_USHORT = 2, 1
"""ScanNet's compression type codes (colour: 0 raw, 1 png, 2 jpeg; depth: 0 raw, 1 zlib)."""


def _mat(m) -> bytes:
    return struct.pack("<16f", *np.asarray(m, dtype=np.float64).reshape(16))


def write_sens(path: str | Path, color_intrinsic, depth_intrinsic, color_size: tuple[int, int],
               depth_size: tuple[int, int], frames: Iterable[tuple[np.ndarray, bytes, bytes]],
               depth_shift: float = 1000.0, color_codec: int = JPEG, depth_codec: int = ZLIB_USHORT,
               sensor_name: str = "StructureSensor (synthetic)") -> Path:
    """Write a ``.sens`` file. ``frames``: (camera-to-world 4x4, colour bytes, depth bytes), already
    compressed with ``color_codec`` / ``depth_codec``; the frame count is patched in at the end."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = sensor_name.encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IQ", 4, len(name)) + name)
        for m in (color_intrinsic, np.eye(4), depth_intrinsic, np.eye(4)):
            fh.write(_mat(m))
        fh.write(struct.pack("<2i4If", color_codec, depth_codec, *color_size, *depth_size, depth_shift))
        count_at = fh.tell()
        fh.write(struct.pack("<Q", 0))
        count = 0
        for i, (pose, color, depth) in enumerate(frames):
            fh.write(_mat(pose) + struct.pack("<4Q", 1000 * i, 1000 * i + 1, len(color), len(depth)))
            fh.write(color)
            fh.write(depth)
            count += 1
        fh.write(struct.pack("<Q", 0))  # no IMU frames
        fh.seek(count_at)
        fh.write(struct.pack("<Q", count))
    return path


def scannet_to_sens(scene_dir: str | Path, out_root: str | Path) -> Path:
    """``<out_root>/<scene>/``: the mesh, labels and ``.txt`` of an exported ScanNet scene copied,
    and its frames packed into ``<scene>.sens`` (the colour JPEG bytes as they are, depth
    zlib-compressed, poses and intrinsics as float32, an all ``-inf`` pose kept). Frame ``<i>`` of the
    export becomes the recording's i-th frame, so frame names stay the same; indices the export
    skipped (ScanNet exports every n-th frame) become frames with the invalid-pose marker and no
    image bytes, which a reader skips unread. Returns the folder."""
    from PIL import Image

    from ..readers.checks import read_matrix

    src = Path(scene_dir)
    scene_id = src.name
    dst = Path(out_root) / scene_id
    dst.mkdir(parents=True, exist_ok=True)
    for suffix in ("_vh_clean_2.ply", "_vh_clean_2.labels.ply", ".txt"):
        if (src / f"{scene_id}{suffix}").is_file():
            shutil.copyfile(src / f"{scene_id}{suffix}", dst / f"{scene_id}{suffix}")
    names = sorted((p.stem for p in (src / "color").glob("*.jpg")), key=int)
    by_index = {int(n): n for n in names}
    with Image.open(src / "color" / f"{names[0]}.jpg") as c, Image.open(src / "depth" / f"{names[0]}.png") as d:
        color_size, depth_size = c.size, d.size

    def frames():
        for i in range(int(names[-1]) + 1):
            name = by_index.get(i)
            if name is None:  # a frame the export left out: kept as a recorded frame without a pose
                yield np.full((4, 4), -np.inf), b"", b""
                continue
            with Image.open(src / "depth" / f"{name}.png") as im:
                depth = np.asarray(im).astype("<u2")
            yield (read_matrix(src / "pose" / f"{name}.txt"), (src / "color" / f"{name}.jpg").read_bytes(),
                   zlib.compress(depth.tobytes()))

    write_sens(dst / f"{scene_id}.sens", read_matrix(src / "intrinsic" / "intrinsic_color.txt"),
               read_matrix(src / "intrinsic" / "intrinsic_depth.txt"), color_size, depth_size, frames())
    return dst
