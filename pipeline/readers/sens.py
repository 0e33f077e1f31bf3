"""ScanNet's raw ``.sens`` recordings (SensorData version 4), read in place.

The format (little-endian, as ScanNet's SensReader writes it)::

    header   uint32 version (4) | uint64 n + n bytes sensor name
             colour intrinsic, colour extrinsic, depth intrinsic, depth extrinsic: 16 float32 each
             int32 colour compression (0 raw RGB, 1 PNG, 2 JPEG)
             int32 depth compression (0 raw uint16, 1 zlib uint16; 2 is a proprietary codec)
             uint32 colour width, height | uint32 depth width, height
             float32 depth shift (depth units per metre: 1000 for millimetres) | uint64 frame count
    frame    16 float32 camera-to-world | uint64 colour and depth timestamps
             uint64 colour bytes, depth bytes | the colour bytes | the depth bytes
    (then IMU frames, which are not read)

``index_sens`` makes one pass over the frame headers (seeking over the image bytes) and returns
each frame's pose and where its images are; ``SensFrame`` decodes one frame's images from those
offsets when a stage asks for them, so only the frames the frame stride uses are ever decoded and
nothing is exported to disk.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..scene import Frame

SENS_VERSION = 4
COLOUR_CODECS = {0: "raw", 1: "png", 2: "jpeg"}
DEPTH_CODECS = {0: "raw_ushort", 1: "zlib_ushort"}
DEPTH_CODEC_NAMES = {2: "occi_ushort (proprietary, not decodable here)"}
MAX_SENSOR_NAME = 1 << 16
"""A longer sensor name means the file is not a .sens file (or is corrupt)."""

_HEADER_AFTER_NAME = struct.Struct("<64f2i4If Q")
"""Four 4x4 float32 matrices, two compression ints, four sizes, the depth shift, the frame count."""
_FRAME_HEADER = struct.Struct("<16f4Q")
"""Camera-to-world, two timestamps, colour and depth byte counts."""


@dataclass
class SensHeader:
    version: int
    sensor_name: str
    color_intrinsic: np.ndarray
    color_extrinsic: np.ndarray
    depth_intrinsic: np.ndarray
    depth_extrinsic: np.ndarray
    """(4, 4) float64 each: the stored float32 values as the exporter writes them (``as_exported``)."""
    color_codec: str
    depth_codec: str
    color_size: tuple[int, int]
    depth_size: tuple[int, int]
    """(width, height)."""
    depth_shift: float
    """Depth units per metre."""
    num_frames: int


@dataclass
class SensEntry:
    """Where one frame is in the file."""

    index: int
    pose: np.ndarray
    """(4, 4) float64 camera-to-world: the stored float32 values as the exporter writes them."""
    timestamps: tuple[int, int]
    color_offset: int
    color_bytes: int
    depth_offset: int
    depth_bytes: int


def as_exported(m: np.ndarray) -> np.ndarray:
    """A float32 matrix of the file as ScanNet's exporter writes it to text (``%f``: six decimals)
    and a reader parses it back: a raw scene then has the very poses and intrinsics of its
    official export, and gives the same results bit for bit. (-inf stays -inf.)"""
    return np.array([float(f"{x:f}") for x in np.asarray(m, dtype=np.float64).ravel()]).reshape(np.shape(m))


def _read_exact(fh, n: int, path: Path, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise InputError(path, f"truncated: the file ends inside {what}")
    return data


def read_header(fh, path: Path) -> SensHeader:
    (version,) = struct.unpack("<I", _read_exact(fh, 4, path, "the header"))
    if version != SENS_VERSION:
        raise InputError(path, f"SensorData version {version}; only version {SENS_VERSION} is read "
                               "(is this a ScanNet .sens file?)")
    (name_len,) = struct.unpack("<Q", _read_exact(fh, 8, path, "the header"))
    if name_len > MAX_SENSOR_NAME:
        raise InputError(path, f"sensor name of {name_len} bytes: not a valid .sens header")
    name = _read_exact(fh, name_len, path, "the header").decode("utf-8", errors="replace")
    values = _HEADER_AFTER_NAME.unpack(_read_exact(fh, _HEADER_AFTER_NAME.size, path, "the header"))
    mats = [as_exported(np.array(values[16 * i:16 * (i + 1)]).reshape(4, 4)) for i in range(4)]
    color_type, depth_type, cw, ch, dw, dh, shift, count = values[64:]
    if color_type not in COLOUR_CODECS:
        raise InputError(path, f"unknown colour compression type {color_type} (known: "
                               + ", ".join(f"{k} {v}" for k, v in COLOUR_CODECS.items()) + ")")
    if depth_type not in DEPTH_CODECS:
        known = ", ".join(f"{k} {v}" for k, v in DEPTH_CODECS.items())
        what = DEPTH_CODEC_NAMES.get(depth_type, "unknown")
        raise InputError(path, f"depth compression type {depth_type} ({what}) is not supported "
                               f"(known: {known})")
    if min(cw, ch, dw, dh) < 1:
        raise InputError(path, f"image sizes colour {cw}x{ch}, depth {dw}x{dh}: expected positive sizes")
    if not np.isfinite(shift) or shift <= 0:
        raise InputError(path, f"depth shift {shift}: expected a positive number (depth units per metre)")
    return SensHeader(version=version, sensor_name=name, color_intrinsic=mats[0], color_extrinsic=mats[1],
                      depth_intrinsic=mats[2], depth_extrinsic=mats[3], color_codec=COLOUR_CODECS[color_type],
                      depth_codec=DEPTH_CODECS[depth_type], color_size=(cw, ch), depth_size=(dw, dh),
                      depth_shift=float(shift), num_frames=int(count))


def index_sens(path: Path) -> tuple[SensHeader, list[SensEntry]]:
    """The header and every frame's pose and image offsets, in one pass over the frame headers."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(path, f"unreadable ({exc.strerror or exc})") from None
    with fh:
        header = read_header(fh, path)
        if header.num_frames == 0:
            raise InputError(path, "the recording has no frames")
        entries = []
        pos = fh.tell()
        for i in range(header.num_frames):
            if pos + _FRAME_HEADER.size > size:
                raise InputError(path, f"truncated: the file ends in frame {i} of {header.num_frames} "
                                       f"({size} bytes)")
            fh.seek(pos)
            values = _FRAME_HEADER.unpack(fh.read(_FRAME_HEADER.size))
            n_color, n_depth = values[18], values[19]
            color_at = pos + _FRAME_HEADER.size
            depth_at = color_at + n_color
            pos = depth_at + n_depth
            if pos > size:
                raise InputError(path, f"truncated: frame {i} of {header.num_frames} needs bytes up to "
                                       f"{pos}, the file has {size}")
            entries.append(SensEntry(index=i, pose=as_exported(np.array(values[:16]).reshape(4, 4)),
                                     timestamps=(values[16], values[17]), color_offset=color_at,
                                     color_bytes=n_color, depth_offset=depth_at, depth_bytes=n_depth))
    return header, entries


def _read_at(path: Path, offset: int, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(n)
    if len(data) != n:
        raise ValueError(f"{n} bytes expected at byte {offset}, the file ends first")
    return data


def decode_color(data: bytes, codec: str, size: tuple[int, int], draft: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 from a frame's colour bytes; ValueError when they do not decode to an image
    of ``size`` (width, height). ``draft``: only check that a JPEG decodes (DCT-domain downscale)."""
    import io

    from PIL import Image

    w, h = size
    if codec == "raw":
        if len(data) != w * h * 3:
            raise ValueError(f"raw colour of {len(data)} bytes, expected {w}x{h}x3 = {w * h * 3}")
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (w, h):
                raise ValueError(f"colour image is {im.size[0]}x{im.size[1]}, the header says {w}x{h}")
            if draft and im.format == "JPEG":
                im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except ValueError:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ... for broken data
        raise ValueError(f"colour bytes do not decode as {codec} ({str(exc).strip() or type(exc).__name__})") from None


def decode_depth(data: bytes, codec: str, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint16 from a frame's depth bytes; ValueError when they do not decode."""
    w, h = size
    if codec == "zlib_ushort":
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise ValueError(f"depth bytes do not decompress (zlib: {exc})") from None
    if len(data) != w * h * 2:
        raise ValueError(f"depth of {len(data)} bytes, expected {w}x{h} uint16 = {w * h * 2}")
    return np.frombuffer(data, dtype="<u2").reshape(h, w)


@dataclass
class SensFrame(Frame):
    """A frame inside a ``.sens`` file: ``color_path`` and ``depth_path`` are the file itself."""

    index: int = 0
    color_at: tuple[int, int] = (0, 0)
    """(offset, byte count) of the colour image in the file."""
    depth_at: tuple[int, int] = (0, 0)
    color_codec: str = "jpeg"
    depth_codec: str = "zlib_ushort"
    color_size: tuple[int, int] = (0, 0)
    depth_size: tuple[int, int] = (0, 0)

    def read_color(self) -> np.ndarray:
        try:
            return decode_color(_read_at(self.color_path, *self.color_at), self.color_codec, self.color_size)
        except ValueError as exc:
            raise ValueError(f"frame {self.index}: {exc}") from None

    def read_depth_raw(self) -> np.ndarray:
        try:
            return decode_depth(_read_at(self.depth_path, *self.depth_at), self.depth_codec, self.depth_size)
        except ValueError as exc:
            raise ValueError(f"frame {self.index}: {exc}") from None


def sens_frames(path: Path, header: SensHeader, entries: list[SensEntry]) -> tuple[list[SensFrame], int]:
    """Frames with a usable pose (ScanNet's all ``-inf`` marker: skipped and counted)."""
    from .checks import parse_pose

    kept, skipped = [], 0
    for e in entries:
        pose = parse_pose(f"{path} (frame {e.index})", e.pose)
        if pose is None:
            skipped += 1
            continue
        kept.append(SensFrame(name=str(e.index), color_path=path, depth_path=path, pose=pose, index=e.index,
                              color_at=(e.color_offset, e.color_bytes), depth_at=(e.depth_offset, e.depth_bytes),
                              color_codec=header.color_codec, depth_codec=header.depth_codec,
                              color_size=header.color_size, depth_size=header.depth_size))
    if not kept:
        raise InputError(path, "no frame has a valid pose")
    return kept, skipped


def check_sens_frames(path: Path, header: SensHeader, entries: list[SensEntry], workers: int = 2) -> None:
    """Decode the colour (JPEG: DCT-domain downscaled, every byte still decoded) and depth of each
    of ``entries`` (the frames with a valid pose: the others are never read); the first frame
    that does not decode fails with its index."""

    def check(e: SensEntry) -> str | None:
        try:
            with open(path, "rb") as fh:
                fh.seek(e.color_offset)
                color = fh.read(e.color_bytes)
                depth = fh.read(e.depth_bytes)
            decode_color(color, header.color_codec, header.color_size, draft=True)
            decode_depth(depth, header.depth_codec, header.depth_size)
        except (OSError, ValueError) as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        problems = list(pool.map(check, entries))
    for e, problem in zip(entries, problems):
        if problem is not None:
            raise InputError(path, f"frame {e.index}: {problem}")
