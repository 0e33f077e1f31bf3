"""Nothing damaged reads as data: checksums, recorded chunks, verify, and whole-group rewrites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import zarr

from geopurify.pipeline import chunks, swap
from geopurify.pipeline.chunks import DamagedError
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import FEAT, FUSED, LABEL, POINTS, XYZ, scene_group
from geopurify.workflows.verify import verify_store

POINTS_A = scene_group("a", POINTS)
FUSED_A = scene_group("a", FUSED)


def flip_bit(path, byte: int | None = None, bit: int = 3) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if byte is None else byte] ^= 1 << bit
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.zarr")
    rng = np.random.default_rng(0)
    s.write_group(POINTS_A, {XYZ: rng.normal(size=(70000, 3)).astype(np.float32),
                             LABEL: np.zeros(70000, np.int16)}, {"fingerprint": "p"}, chunk_rows=65536)
    s.write_group(FUSED_A, {FEAT: rng.normal(size=(70000, 8)).astype(np.float16)}, {"fingerprint": "f"})
    return s


def test_every_array_is_checksummed_and_its_chunks_recorded(store, tmp_path):
    meta = json.loads((tmp_path / "s.zarr" / POINTS_A / XYZ / "zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]][-1] == "crc32c"  # after the compressor
    written = store.attrs(POINTS_A)["arrays"]
    assert written[XYZ] == {"shape": [70000, 3], "dtype": "float32", "chunks": 2, "checksum": "crc32c"}
    # an all-zero array (zarr's fill value) still has every chunk on disk
    assert sorted(p.name for p in (tmp_path / "s.zarr" / POINTS_A / LABEL / "c").iterdir()) == ["0", "1"]


@pytest.mark.parametrize("bit", [0, 3, 7])
def test_a_flipped_bit_fails_in_one_line_naming_the_chunk(store, tmp_path, bit):
    chunk = tmp_path / "s.zarr" / FUSED_A / FEAT / "c" / "1" / "0"
    flip_bit(chunk, bit=bit)
    for read in (lambda: store.read(FUSED_A, FEAT), lambda: store.array(FUSED_A, FEAT)[65536:]):
        with pytest.raises(DamagedError) as err:
            read()
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(chunk))
        assert "checksum mismatch" in message and "geopurify-run fuse" in message and "--force" in message
    assert store.array(FUSED_A, FEAT)[:100].shape == (100, 8)  # the intact chunk still reads


def test_a_missing_chunk_is_one_line_never_zeros(store, tmp_path):
    chunk = tmp_path / "s.zarr" / POINTS_A / LABEL / "c" / "0"
    chunk.unlink()
    with pytest.raises(DamagedError) as err:
        store.read(POINTS_A, LABEL)
    assert str(err.value).startswith(f"{chunk}: chunk file is missing")
    assert "geopurify-run ingest" in str(err.value) and "--scenes a" in str(err.value)


def test_an_array_metadata_cut_short_is_one_line(store, tmp_path):
    meta = tmp_path / "s.zarr" / FUSED_A / FEAT / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    with pytest.raises(DamagedError) as err:
        store.read(FUSED_A, FEAT)
    assert str(err.value).startswith(f"{meta}: array metadata does not decode") and "\n" not in str(err.value)


def test_a_store_written_before_checksums_still_reads_and_status_says_so(tmp_path):
    from geopurify.workflows.status import NO_CHECKSUMS, _checksum_note

    store = Store(tmp_path / "old.zarr")
    g = store.root.require_group(POINTS_A)  # the earlier layout: Blosc only, no chunk record
    old = g.create_array(XYZ, shape=(10, 3), dtype="float32", chunks=(10, 3),
                         compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle"))
    old[...] = np.arange(30, dtype=np.float32).reshape(10, 3)
    g.attrs.update({"fingerprint": "p", "complete": True})
    assert np.array_equal(store.read(POINTS_A, XYZ), old[...])
    assert _checksum_note(store.attrs(POINTS_A)) == NO_CHECKSUMS
    found = verify_store(str(tmp_path / "old.zarr"))
    assert found.unchecksummed == [POINTS_A] and not found.damaged


def test_verify_marks_damage_status_shows_it_and_a_rewrite_clears_it(store, tmp_path):
    flip_bit(tmp_path / "s.zarr" / FUSED_A / FEAT / "c" / "0" / "0")
    (tmp_path / "s.zarr" / POINTS_A / XYZ / "c" / "1" / "0").unlink()
    arrays_before = {p: p.read_bytes() for p in (tmp_path / "s.zarr" / "scenes").rglob("c/*/*")}
    found = verify_store(store.path)
    assert sorted(f.group for f in found.damaged) == [FUSED_A, POINTS_A]
    assert {p: p.read_bytes() for p in (tmp_path / "s.zarr" / "scenes").rglob("c/*/*")} == arrays_before
    assert store.state(FUSED_A, "f") == "damaged" and not store.is_done(FUSED_A, "f")
    assert "chunk file is missing" in store.attrs(POINTS_A)["damaged"]
    with pytest.raises(Exception, match="marked damaged by verify"):
        store.require_done(FUSED_A, "fused features")
    store.write_group(FUSED_A, {FEAT: np.ones((4, 8), np.float16)}, {"fingerprint": "f"})
    assert store.is_done(FUSED_A, "f") and "damaged" not in store.attrs(FUSED_A)
    assert [f.group for f in verify_store(store.path).damaged] == [POINTS_A]


def test_a_mark_never_lands_on_a_group_rewritten_meanwhile(store):
    read = store.attrs(FUSED_A)["finished_at"]
    store.write_group(FUSED_A, {FEAT: np.ones((4, 8), np.float16)}, {"fingerprint": "g"})
    assert store.mark_damaged(FUSED_A, "stale reason", "1999-01-01T00:00:00Z") is False
    assert store.mark_damaged(FUSED_A, "reason", store.attrs(FUSED_A)["finished_at"]) is True
    assert read  # the first group's stamp existed


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(store, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    leftover = swap.new_staging_folder(store.path, FUSED_A)
    leftover = leftover.with_name(leftover.name.replace(f".{os.getpid()}.", f".{dead}."))
    leftover.mkdir(parents=True)
    mine = swap.new_staging_folder(store.path, POINTS_A)  # a live writer's (this process): kept
    mine.mkdir()
    store.write_group(FUSED_A, {FEAT: np.ones((4, 8), np.float16)}, {"fingerprint": "f"})
    assert not leftover.exists() and mine.exists()


# ---- one writer per group: a rewrite is whole -------------------------------------------------------
def _paused_writes(monkeypatch, pause_in: threading.Thread | None = None):
    """Make ``create_array`` block in the thread named ``paused`` until ``resume`` is set."""
    reached, resume = threading.Event(), threading.Event()
    real = chunks.create_array

    def create_array(group, name, data, chunk_rows):
        record = real(group, name, data, chunk_rows)
        if threading.current_thread().name == "paused":
            reached.set()
            assert resume.wait(60)
        return record

    monkeypatch.setattr(chunks, "create_array", create_array)
    import geopurify.pipeline.store as store_module

    monkeypatch.setattr(store_module, "create_array", create_array)
    return reached, resume


def test_a_paused_rewrite_and_a_second_writer_leave_one_whole_group(store, monkeypatch):
    reached, resume = _paused_writes(monkeypatch)
    first = {FEAT: np.full((5, 8), 1, np.float16), "seen": np.full(5, 1, np.uint16)}
    second = {FEAT: np.full((7, 8), 2, np.float16), "seen": np.full(7, 2, np.uint16)}
    errors = []

    def write(arrays, tag):
        try:
            store.write_group(FUSED_A, arrays, {"fingerprint": tag})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    paused = threading.Thread(target=write, args=(first, "first"), name="paused")
    paused.start()
    assert reached.wait(60)  # the first writer is inside its rewrite (one array written)
    write(second, "second")  # the second runs to the end meanwhile
    assert store.attrs(FUSED_A)["fingerprint"] == "second"
    resume.set()
    paused.join(60)
    assert not errors
    attrs = store.attrs(FUSED_A)
    tag, arrays = ("first", first) if attrs["fingerprint"] == "first" else ("second", second)
    assert attrs["arrays"][FEAT]["shape"] == list(arrays[FEAT].shape)
    for name, data in arrays.items():
        assert np.array_equal(store.read(FUSED_A, name), data), (tag, name)
    assert not list(swap.staging_dir(store.path).iterdir())
