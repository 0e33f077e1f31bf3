"""The Pointcept and OpenScene readers and the openscene source on small hand-written files: what
they decode, and one-line errors naming the file for every kind of bad input (nothing written)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.readers import DatasetConfig, list_scenes, read_scene
from geopurify.pipeline.readers.openscene import load_torch_file
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, FAILED, FEAT, FUSED, POINTS, SEEN, scene_group
from geopurify.stages.fuse.config import FuseConfig, OpenSceneConfig
from geopurify.stages.fuse.stage import fuse_scene
from geopurify.stages.fuse.text import encode_vocab
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import load_run_config

from layout_fixtures import SCANNET20, write_fused_pt, write_openscene_pth, write_pointcept


N = 40
RNG = np.random.default_rng(3)
XYZ = RNG.uniform(0, 3, (N, 3)).astype(np.float32)
RGB = RNG.integers(0, 256, (N, 3)).astype(np.uint8)
NYU = np.array([SCANNET20[i % 20] for i in range(N)])
NYU[:3] = [0, 40, 13]  # unannotated, and two NYU40 classes outside ScanNet-20


def one_line_error(fn, *args, match: str, path: Path | None = None):
    with pytest.raises((InputError, ConfigError), match=match) as info:
        fn(*args)
    text = str(info.value)
    assert "\n" not in text
    if path is not None:
        assert str(path) in text
    return text


# ---- Pointcept --------------------------------------------------------------------------------------
def test_pointcept_decodes_segment20_and_segment200(tmp_path):
    seg200 = np.arange(N) % 201 - 1  # -1 .. 39: -1 unannotated
    write_pointcept(tmp_path / "train" / "a", XYZ, RGB, NYU, seg200)
    write_pointcept(tmp_path / "val" / "b", XYZ, RGB)
    ds = DatasetConfig("pointcept", str(tmp_path))
    assert list_scenes(ds) == ["a", "b"]
    scene = read_scene(ds, "a")
    expect = np.where(np.isin(NYU, SCANNET20), NYU, 0)  # classes outside ScanNet-20 are -1 in segment20
    np.testing.assert_array_equal(scene.labels, expect)
    # index 0 -> category 1 (wall), 2 -> 3 (floor), 11 -> 13 (pillow): ScanNet200's id order
    s200 = scene.extra_labels["scannet200"]
    assert s200[0] == 0 and s200[1] == 1 and s200[3] == 3 and s200[12] == 13
    assert scene.normals is None and scene.frames == [] and scene.faces is None
    assert read_scene(ds, "b").labels is None


@pytest.mark.parametrize("name, value, match", [
    ("coord.npy", np.zeros((N, 2), np.float32), r"coordinates: expected a numeric \(N, 3\)"),
    ("coord.npy", np.zeros((N, 3), np.int32), "coordinates must be floats"),
    ("color.npy", np.zeros((N - 1, 3), np.uint8), f"{N - 1} rows, but coord.npy has {N} points"),
    ("color.npy", np.full((N, 3), 300, np.int32), "whole numbers in 0..255"),
    ("normal.npy", np.full((N, 3), np.nan, np.float32), "NaN"),
    ("segment20.npy", np.full(N, 20), "label 20 outside the 20 scannet20 classes"),
    ("segment20.npy", np.full(N, -2), "label -2 outside"),
    ("segment200.npy", np.full(N, 200), "label 200 outside the 200 scannet200 classes"),
    ("segment20.npy", np.full(N, 0.5), "whole numbers"),
])
def test_pointcept_bad_files(tmp_path, name, value, match):
    folder = write_pointcept(tmp_path / "s", XYZ, RGB, NYU, normals=np.ones((N, 3)))
    np.save(folder / name, value)
    one_line_error(read_scene, DatasetConfig("pointcept", str(tmp_path)), "s", match=match, path=folder / name)


def test_pointcept_pickled_or_missing_files(tmp_path):
    folder = write_pointcept(tmp_path / "s", XYZ, RGB)
    np.save(folder / "color.npy", np.array([object()] * N), allow_pickle=True)
    one_line_error(read_scene, DatasetConfig("pointcept", str(tmp_path)), "s", match="not a readable .npy")
    (folder / "coord.npy").unlink()
    one_line_error(read_scene, DatasetConfig("pointcept", str(tmp_path)), "s", match="needs coord.npy")
    one_line_error(read_scene, DatasetConfig("pointcept", str(tmp_path)), "t", match="scene folder not found")


def test_a_bad_pointcept_scene_leaves_the_store_untouched(tmp_path):
    folder = write_pointcept(tmp_path / "d" / "s", XYZ, RGB, NYU)
    np.save(folder / "segment20.npy", np.full(N, 99))
    cfg = load_run_config(None, [f"store={str(tmp_path / 's.zarr')!r}", "dataset.kind='pointcept'",
                                 f"dataset.root={str(tmp_path / 'd')!r}"], search_cwd=False)
    outcome = run_scene(IngestStage(), StageContext(cfg.store, cfg), "s")
    assert outcome.status == FAILED and "segment20.npy" in outcome.error and "\n" not in outcome.error
    assert Store(cfg.store, create=False).group(scene_group("s", POINTS)) is None


# ---- OpenScene 3D files ---------------------------------------------------------------------------
def _label_index():
    lut = {nyu: i for i, nyu in enumerate(SCANNET20)}
    return np.array([lut.get(int(v), 255) for v in NYU])


def test_openscene_reader_decodes_scannet_and_matterport_labels(tmp_path):
    write_openscene_pth(tmp_path / "scene0001_00_vh_clean_2.pth", XYZ, RGB, _label_index())
    mp = np.arange(N) % 21
    mp[0] = 255
    write_openscene_pth(tmp_path / "house_region3.pth", XYZ, RGB, mp)
    ds = DatasetConfig("openscene", str(tmp_path))
    assert list_scenes(ds) == ["house_region3", "scene0001_00"]
    scene = read_scene(ds, "scene0001_00")
    np.testing.assert_array_equal(scene.xyz, XYZ)
    np.testing.assert_array_equal(scene.rgb, RGB)
    np.testing.assert_array_equal(scene.labels, np.where(np.isin(NYU, SCANNET20), NYU, 0))
    one_line_error(read_scene, ds, "house_region3", match="label 20 outside the 20 scannet20 classes")
    m21 = read_scene(DatasetConfig("openscene", str(tmp_path), openscene_labels="matterport21"), "house_region3")
    assert m21.labels[0] == 0 and m21.labels[20] == 22 and m21.labels[19] == 39  # ceiling; "other"
    m160 = read_scene(DatasetConfig("openscene", str(tmp_path), openscene_labels="matterport160"), "house_region3")
    assert m160.labels is None and m160.extra_labels["matterport160"][1] == 2  # index k -> id k + 1
    one_line_error(read_scene, DatasetConfig("openscene", str(tmp_path), openscene_labels="matterport"), "x",
                   match="dataset.openscene_labels")


def test_openscene_bad_files(tmp_path):
    import torch

    ds = DatasetConfig("openscene", str(tmp_path))
    cases = [
        ({"coords": XYZ}, "expected a tuple \\(coords, colours, labels\\), found a dict"),
        ((XYZ, RGB / 127.5 - 1), "found a tuple of 2"),
        ((XYZ[:, :2].astype(np.float64), RGB / 127.5 - 1, _label_index()), r"coords: expected an \(N, 3\) float"),
        ((XYZ.astype(np.float64), RGB / 64.0, _label_index()), "colours: expected rgb / 127.5 - 1"),
        ((XYZ.astype(np.float64), RGB / 127.5 - 1, _label_index()[:-1]), r"labels: expected \(40,\)"),
        ((XYZ.astype(np.float64), RGB / 127.5 - 1, np.full(N, 30)), "label 30 outside"),
    ]
    for data, match in cases:
        path = tmp_path / "s.pth"
        torch.save(data, path)
        one_line_error(read_scene, ds, "s", match=match, path=path)
    (tmp_path / "t.pth").write_bytes(b"not a torch file")
    one_line_error(read_scene, ds, "t", match="not a loadable torch file", path=tmp_path / "t.pth")
    one_line_error(read_scene, ds, "nope", match="unknown scene 'nope'")


class _Touch:
    """Unpickling this would create a file: what a hostile .pth could do with any callable."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_loading_a_pth_never_runs_code_from_it(tmp_path):
    import torch

    marker = tmp_path / "ran"
    torch.save((XYZ, _Touch(marker), np.zeros(N)), tmp_path / "evil.pth")
    one_line_error(load_torch_file, tmp_path / "evil.pth", match="not a loadable torch file")
    assert not marker.exists()
    torch.save((np.array([object()] * 3, dtype=object),), tmp_path / "obj.pth")
    one_line_error(load_torch_file, tmp_path / "obj.pth", match="object array|not a loadable")


def test_files_written_with_numpy_1_load(tmp_path):
    """numpy 1 pickles arrays through ``numpy.core.multiarray``; OpenScene's files were made so."""
    import torch

    buf = io.BytesIO()
    torch.save((np.arange(6.0).reshape(2, 3),), buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    assert b"numpy._core.multiarray\n" in raw
    (tmp_path / "old.pth").write_bytes(raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    (loaded,) = load_torch_file(tmp_path / "old.pth")
    np.testing.assert_array_equal(loaded, np.arange(6.0).reshape(2, 3))


# ---- the openscene source -------------------------------------------------------------------------
def _fuse(tmp_path, scene_id="s", dim=8):
    from geopurify.pipeline.scene import Scene

    cfg = FuseConfig(source="openscene", text_encoder="hashed", hashed_dim=dim,
                     openscene=OpenSceneConfig(dir=str(tmp_path / FEAT)))
    scene = Scene(scene_id=scene_id, root=tmp_path, xyz=XYZ, rgb=RGB)
    return fuse_scene(scene, XYZ, cfg, encode_vocab(cfg))


def test_openscene_source_merges_chunks_and_fills_the_rest(tmp_path):
    feat = RNG.standard_normal((N, 8)).astype(np.float16)
    a, b = np.zeros(N, bool), np.zeros(N, bool)
    a[:20], b[10:30] = True, True
    write_fused_pt(tmp_path / FEAT / "s_0.pt", feat[a], a)
    write_fused_pt(tmp_path / FEAT / "s_1.pt", feat[b], b, numpy_mask=True)
    write_fused_pt(tmp_path / FEAT / "s_x.pt", feat[a], a)  # not <scene>_<k>.pt: not read
    out = _fuse(tmp_path)
    np.testing.assert_array_equal(out.arrays[FEAT][:30], feat[:30])
    np.testing.assert_array_equal(out.arrays[SEEN], (np.arange(N) < 30).astype(np.uint16))
    from geopurify.pipeline.geometry import knn

    _, nearest = knn(XYZ[:30], XYZ[30:], 1)  # unfeatured points: their nearest featured point's
    np.testing.assert_array_equal(out.arrays[FEAT][30:], feat[:30][nearest[:, 0]])
    assert out.attrs["filled_unseen"] == 10 and out.attrs["frames_used"] == 0


def test_openscene_source_bad_files(tmp_path):
    feat = RNG.standard_normal((N, 8)).astype(np.float16)
    mask = np.ones(N, bool)
    path = tmp_path / FEAT / "s_0.pt"
    one_line_error(_fuse, tmp_path, match="fused feature folder")
    (tmp_path / FEAT).mkdir()
    one_line_error(_fuse, tmp_path, match="no fused features for this scene")
    for feat_, mask_, match in [
        (feat[:-1], mask[:-1], f"mask_full has {N - 1} entries but the scan has {N} vertices"),
        (feat[:-1], mask, f"feat has {N - 1} rows but mask_full marks {N} points"),
        (np.zeros((N, 6)), mask, "features are 6 wide but the text encoder"),
    ]:
        write_fused_pt(path, feat_, mask_)
        one_line_error(_fuse, tmp_path, match=match, path=path)
    import torch

    torch.save({"features": torch.zeros(3)}, path)
    one_line_error(_fuse, tmp_path, match="expected a dict with 'feat' and 'mask_full'", path=path)
    torch.save({FEAT: torch.zeros(N, 8), "mask_full": torch.zeros(N, 2)}, path)
    one_line_error(_fuse, tmp_path, match=r"mask_full: expected an \(N,\) bool", path=path)


def _openscene_2d(root: Path, scene: str, frames=("0", "20"), size=(8, 6)) -> Path:
    """OpenScene's ScanNet 2D export: intrinsics.txt (4x4, as np.savetxt writes it) and the frames."""
    from PIL import Image

    K = np.eye(4)
    K[0, 0] = K[1, 1] = 5.0
    K[0, 2], K[1, 2] = (size[0] - 1) / 2, (size[1] - 1) / 2
    root.mkdir(parents=True)
    np.savetxt(root / "intrinsics.txt", K)
    for sub in ("color", "depth", "pose"):
        (root / scene / sub).mkdir(parents=True)
    for i, name in enumerate(frames):
        Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(root / scene / "color" / f"{name}.jpg")
        Image.fromarray(np.full((size[1], size[0]), 2000, np.uint16)).save(root / scene / "depth" / f"{name}.png")
        pose = np.eye(4)
        pose[0, 3] = i
        np.savetxt(root / scene / "pose" / f"{name}.txt", pose)
    return root


def test_openscene_frames_from_its_2d_export(tmp_path):
    write_openscene_pth(tmp_path / "3d" / "scene0001_00_vh_clean_2.pth", XYZ, RGB, _label_index())
    frames = _openscene_2d(tmp_path / "2d", "scene0001_00")
    ds = DatasetConfig("openscene", str(tmp_path / "3d"), openscene_frames=str(frames))
    scene = read_scene(ds, "scene0001_00")
    assert [f.name for f in scene.frames] == ["0", "20"] and scene.frames[1].pose[0, 3] == 1.0
    assert scene.color_intrinsic[0, 0] == 5.0 and scene.depth_intrinsic is scene.color_intrinsic
    assert len(scene.source_files) == 1 + 1 + 2 * 3  # the .pth, intrinsics.txt, three files per frame
    (frames / "scene0001_00" / "pose" / "20.txt").unlink()
    one_line_error(read_scene, ds, "scene0001_00", match="pose of frame 20 not found")
    np.savetxt(frames / "scene0001_00" / "pose" / "20.txt", np.eye(4))
    (frames / "intrinsics.txt").write_text("1 2 3")
    one_line_error(read_scene, ds, "scene0001_00", match="expected a 3x3 or 4x4 matrix, found 3 numbers")


def test_bad_features_fail_the_scene_and_write_no_fused_group(tmp_path):
    from geopurify.stages.fuse.stage import FuseStage

    write_openscene_pth(tmp_path / "3d" / "s.pth", XYZ, RGB, _label_index())
    write_fused_pt(tmp_path / FEAT / "s_0.pt", np.zeros((N - 1, 8)), np.ones(N - 1, bool))
    cfg = load_run_config(None, [f"store={str(tmp_path / 's.zarr')!r}", "dataset.kind='openscene'",
                                 f"dataset.root={str(tmp_path / '3d')!r}", "fuse.source='openscene'",
                                 f"fuse.openscene.dir={str(tmp_path / FEAT)!r}", "fuse.text_encoder='hashed'",
                                 "fuse.hashed_dim=8"], search_cwd=False)
    ctx = StageContext(cfg.store, cfg)
    assert run_scene(IngestStage(), ctx, "s").status == DONE
    FuseStage().prepare(ctx, ["s"])
    outcome = run_scene(FuseStage(), ctx, "s")
    assert outcome.status == FAILED and "\n" not in outcome.error
    assert outcome.error.startswith(str(tmp_path / FEAT / "s_0.pt")) and "mask_full has 39 entries" in outcome.error
    assert Store(cfg.store, create=False).group(scene_group("s", FUSED)) is None


def test_pointcloud_scans_with_scannet200_category_ids(tmp_path):
    """ScanNet's ScanNet200 preprocessing writes <scene>.ply meshes whose label is the category id."""
    from geopurify.pipeline.ply import write_ply

    ids = np.array([0, 1, 3, 41, 1191] * 8)
    write_ply(tmp_path / "scene0001_00.ply", XYZ, RGB, label=ids)
    scene = read_scene(DatasetConfig("pointcloud", str(tmp_path), ply_labels="scannet200"), "scene0001_00")
    assert scene.labels is None
    np.testing.assert_array_equal(scene.extra_labels["scannet200"], ids)
    one_line_error(read_scene, DatasetConfig("pointcloud", str(tmp_path)), "scene0001_00",
                   match="label 41 outside the NYU40 ids")  # read as NYU40 (the default): refused
    write_ply(tmp_path / "scene0001_00.ply", XYZ, RGB, label=np.full(N, 12))
    one_line_error(read_scene, DatasetConfig("pointcloud", str(tmp_path), ply_labels="scannet200"), "scene0001_00",
                   match="label 12 is not a ScanNet200 category id")
