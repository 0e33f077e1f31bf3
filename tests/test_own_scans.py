"""Raw ScanNet ``.sens`` recordings and nerfstudio ``transforms.json`` captures, written here from a
synthetic scene: they read, fuse, purify and score like the exported ScanNet layout (bit for bit
for ``.sens``), a distorted camera is undistorted, and every bad input is one line naming the file
with nothing written."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.errors import InputError
from geopurify.pipeline.readers import DatasetConfig, list_scenes, read_scene
from geopurify.pipeline.selection import match_scenes
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.synthetic.nerfstudio_capture import scannet_to_nerfstudio
from geopurify.pipeline.synthetic.sens_file import scannet_to_sens
from geopurify.pipeline.vocabulary import FEAT, FUSED, LABEL, NORMAL, POINTS, RGB, SEEN, XYZ, scene_group
from geopurify.stages.fuse.stage import FuseStage
from geopurify.stages.ingest.stage import IngestStage
from geopurify.stages.purify.stage import PurifyStage
from geopurify.stages.score import score_scenes
from geopurify.workflows.config import load_run_config

SCENE = "own0000_00"
OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


def config(store: Path, kind: str, root: Path, *extra: str):
    return load_run_config(None, [f"store={str(store)!r}", f"dataset.kind={kind!r}", f"dataset.root={str(root)!r}",
                                  "fuse.source='simulated'", "fuse.text_encoder='hashed'",
                                  "purify.affinity='geometric'", "purify.k=24", *extra], search_cwd=False)


def run_all(cfg) -> Store:
    """Ingest, fuse (simulated source) and purify (geometric) the scene."""
    ctx = StageContext(cfg.store, cfg)
    for stage in (IngestStage(), FuseStage(), PurifyStage("geometric")):
        stage.prepare(ctx, [SCENE])
        outcome = run_scene(stage, ctx, SCENE)
        assert outcome.status == "done", outcome.error
    return Store(cfg.store, create=False)


def nothing_written(cfg) -> bool:
    """No store at all (the scene failed before one was made), or one without the scene's points."""
    return not Path(cfg.store).exists() or Store(cfg.store, create=False).group(scene_group(SCENE, POINTS)) is None


def one_line(fn, *args, match: str, path: Path) -> str:
    with pytest.raises(InputError, match=match) as info:
        fn(*args)
    text = str(info.value)
    assert "\n" not in text and str(path) in text, text
    return text


# ---- a .sens exported the way ScanNet's exporter does, spelled out from the format ------------------
def parse_sens(path: Path) -> dict:
    """Header and frames of a .sens file (ScanNet SensorData v4, little-endian), read here with
    struct alone so the test does not lean on the reader it checks."""
    data = path.read_bytes()
    (version, n) = struct.unpack_from("<IQ", data, 0)
    at = 12 + n
    mats = np.array(struct.unpack_from("<64f", data, at), dtype=np.float32).reshape(4, 4, 4)
    at += 256
    ctype, dtype, cw, ch, dw, dh, shift, count = struct.unpack_from("<2i4IfQ", data, at)
    at += 36
    frames = []
    for _ in range(count):
        pose = np.array(struct.unpack_from("<16f", data, at), dtype=np.float32).reshape(4, 4)
        nc, nd = struct.unpack_from("<2Q", data, at + 64 + 16)
        at += 96
        frames.append((pose, data[at:at + nc], data[at + nc:at + nc + nd]))
        at += nc + nd
    return {"K_color": mats[0], "K_depth": mats[2], "depth_size": (dw, dh), "frames": frames}


def export_sens(raw_scene: Path, out_root: Path) -> Path:
    """The exported layout of a .sens scene as ScanNet's exporter writes it (poses and intrinsics
    with ``%f``, depth PNGs of the decoded uint16), but colour as the very JPEG bytes of the
    recording (the exporter decodes and re-encodes them)."""
    from PIL import Image

    sens = parse_sens(raw_scene / f"{raw_scene.name}.sens")
    dst = out_root / raw_scene.name
    for sub in ("color", "depth", "pose", "intrinsic"):
        (dst / sub).mkdir(parents=True)
    for f in raw_scene.iterdir():
        if f.suffix in (".ply", ".txt"):
            shutil.copyfile(f, dst / f.name)

    def matrix(path: Path, m) -> None:
        path.write_text("\n".join(" ".join(f"{x:f}" for x in row) for row in np.asarray(m, dtype=np.float32)) + "\n")

    matrix(dst / "intrinsic" / "intrinsic_color.txt", sens["K_color"])
    matrix(dst / "intrinsic" / "intrinsic_depth.txt", sens["K_depth"])
    dw, dh = sens["depth_size"]
    for i, (pose, color, depth) in enumerate(sens["frames"]):
        if not color:  # a frame the export had left out (no bytes, invalid pose)
            continue
        (dst / "color" / f"{i}.jpg").write_bytes(color)
        Image.fromarray(np.frombuffer(zlib.decompress(depth), "<u2").reshape(dh, dw)).save(dst / "depth" / f"{i}.png")
        matrix(dst / "pose" / f"{i}.txt", pose)
    return dst


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """One synthetic scene as exported frames, as a raw .sens download, and that .sens exported."""
    tmp = tmp_path_factory.mktemp("own")
    src = generate_scene(tmp / "synthetic", SCENE, seed=7, num_frames=6, inf_pose_frames=(2,))
    raw = scannet_to_sens(src, tmp / "raw")
    export_sens(raw, tmp / "exported")
    return tmp, src


# ---- .sens ----------------------------------------------------------------------------------------
def test_a_sens_recording_reads_like_its_export(scenes):
    tmp, _ = scenes
    assert not (tmp / "raw" / SCENE / "color").exists() and list_scenes(DatasetConfig("scannet", str(tmp / "raw"))) == [SCENE]
    raw = read_scene(DatasetConfig("scannet", str(tmp / "raw")), SCENE)
    exp = read_scene(DatasetConfig("scannet", str(tmp / "exported")), SCENE)
    assert [f.name for f in raw.frames] == [f.name for f in exp.frames] == ["0", "1", "3", "4", "5"]
    assert raw.skipped_frames == exp.skipped_frames == 1  # the -inf pose, in the recording too
    np.testing.assert_array_equal(raw.color_intrinsic, exp.color_intrinsic)
    np.testing.assert_array_equal(raw.depth_intrinsic, exp.depth_intrinsic)
    assert raw.depth_scale == 1000.0
    for a, b in zip(raw.frames, exp.frames):
        np.testing.assert_array_equal(a.pose, b.pose)
        np.testing.assert_array_equal(a.read_color(), b.read_color())
        np.testing.assert_array_equal(a.read_depth(raw.depth_scale), b.read_depth(exp.depth_scale))
    assert tmp / "raw" / SCENE / f"{SCENE}.sens" in raw.source_files


@pytest.mark.slow
def test_sens_and_its_export_give_identical_points_fused_features_and_scores(scenes):
    tmp, _ = scenes
    raw = run_all(config(tmp / "raw.zarr", "scannet", tmp / "raw"))
    exp = run_all(config(tmp / "exp.zarr", "scannet", tmp / "exported"))
    for name in (XYZ, RGB, NORMAL, LABEL):
        np.testing.assert_array_equal(raw.read(scene_group(SCENE, POINTS), name), exp.read(scene_group(SCENE, POINTS), name))
    for name in (FEAT, SEEN):
        np.testing.assert_array_equal(raw.read(scene_group(SCENE, FUSED), name), exp.read(scene_group(SCENE, FUSED), name))
    purified = PurifyStage("geometric").name
    np.testing.assert_array_equal(raw.read(scene_group(SCENE, purified), LABEL), exp.read(scene_group(SCENE, purified), LABEL))
    for of in (FUSED, purified):
        assert (score_scenes(str(tmp / "raw.zarr"), [SCENE], of, "scannet20")
                == score_scenes(str(tmp / "exp.zarr"), [SCENE], of, "scannet20"))
    assert raw.attrs(scene_group(SCENE, FUSED))["frames_used"] == 5


def test_fuse_decodes_only_the_frames_its_stride_uses(scenes, monkeypatch):
    from geopurify.pipeline.readers import sens
    from geopurify.stages.fuse.config import FuseConfig
    from geopurify.stages.fuse.stage import fuse_scene
    from geopurify.stages.fuse.text import encode_vocab

    tmp, _ = scenes
    decoded = []
    real = sens.decode_color
    monkeypatch.setattr(sens, "decode_color", lambda data, *a, **k: decoded.append(len(data)) or real(data, *a, **k))
    scene = read_scene(DatasetConfig("scannet", str(tmp / "raw")), SCENE, check_images=False)
    assert decoded == []  # indexing reads headers only
    cfg = FuseConfig(source="simulated", text_encoder="hashed", frame_stride=2)
    out = fuse_scene(scene, scene.xyz, cfg, encode_vocab(cfg))
    assert out.attrs["frames_used"] == len(decoded) == 3  # frames 0, 3, 5 of the five with a pose


def _patched(src: Path, dst_root: Path, patch) -> Path:
    """A copy of the raw scene whose .sens bytes ``patch(bytearray)`` changes."""
    dst = dst_root / SCENE
    shutil.copytree(src, dst)
    sens = dst / f"{SCENE}.sens"
    data = bytearray(sens.read_bytes())
    sens.write_bytes(bytes(patch(data)))
    return sens


def _header_end(data) -> int:
    (n,) = struct.unpack_from("<Q", data, 4)
    return 12 + n + 256  # version, name, four matrices: the compression types follow


def _frame_at(data, index: int) -> tuple[int, int, int]:
    """(offset of the colour bytes, colour bytes, depth bytes) of frame ``index``."""
    at = _header_end(data) + 36
    for i in range(index + 1):
        nc, nd = struct.unpack_from("<2Q", data, at + 80)
        if i == index:
            return at + 96, nc, nd
        at += 96 + nc + nd
    raise IndexError(index)


def _set(data, offset: int, fmt: str, *values):
    struct.pack_into(fmt, data, offset, *values)
    return data


@pytest.mark.parametrize("case, patch, match", [
    ("truncated", lambda d: d[: _frame_at(d, 3)[0] + 10], r"truncated: frame 3 of 6 needs bytes"),
    ("truncated header", lambda d: d[:100], r"truncated: the file ends inside the header"),
    ("colour codec", lambda d: _set(d, _header_end(d), "<i", 7), r"unknown colour compression type 7"),
    ("depth codec", lambda d: _set(d, _header_end(d) + 4, "<i", 2), r"depth compression type 2 \(occi_ushort"),
    ("version", lambda d: _set(d, 0, "<I", 3), r"SensorData version 3; only version 4"),
    ("bad jpeg", lambda d: _set(d, _frame_at(d, 4)[0] + 200, "<64s", b"\xff\xd9" * 32),
     r"frame 4: colour bytes do not decode as jpeg"),
    ("bad zlib", lambda d: _set(d, sum(_frame_at(d, 1)[:2]), "<8s", b"notzlib!"),
     r"frame 1: depth bytes do not decompress"),
])
def test_bad_sens_files_fail_in_one_line_naming_the_file(scenes, tmp_path, case, patch, match):
    tmp, _ = scenes
    sens = _patched(tmp / "raw" / SCENE, tmp_path / "raw", patch)
    one_line(read_scene, DatasetConfig("scannet", str(tmp_path / "raw")), SCENE, match=match, path=sens)


def test_a_bad_sens_leaves_the_store_untouched(scenes, tmp_path):
    tmp, _ = scenes
    sens = _patched(tmp / "raw" / SCENE, tmp_path / "raw", lambda d: d[:-5000])
    cfg = config(tmp_path / "s.zarr", "scannet", tmp_path / "raw")
    outcome = run_scene(IngestStage(), StageContext(cfg.store, cfg), SCENE)
    assert outcome.status == "failed" and outcome.error.startswith(str(sens)) and "\n" not in outcome.error
    assert "truncated" in outcome.error and nothing_written(cfg)


# ---- nerfstudio -----------------------------------------------------------------------------------
def _meta(folder: Path) -> dict:
    return json.loads((folder / "transforms.json").read_text())


def _write_meta(folder: Path, meta: dict) -> None:
    (folder / "transforms.json").write_text(json.dumps(meta))


@pytest.mark.slow
def test_a_pinhole_capture_fuses_like_the_exported_layout_without_depth(scenes):
    tmp, src = scenes
    scannet_to_nerfstudio(src, tmp / "ns")
    meta = _meta(tmp / "ns" / SCENE)
    assert meta["camera_model"] == "PINHOLE" and "depth_file_path" not in meta["frames"][0]
    ns = run_all(config(tmp / "ns.zarr", "nerfstudio", tmp / "ns", "fuse.use_depth=false"))
    ref = run_all(config(tmp / "ref.zarr", "scannet", src.parent, "fuse.use_depth=false"))
    for name in (XYZ, RGB, NORMAL, LABEL):
        np.testing.assert_array_equal(ns.read(scene_group(SCENE, POINTS), name), ref.read(scene_group(SCENE, POINTS), name))
    a = ns.read(scene_group(SCENE, FUSED), FEAT).astype(np.float64)
    b = ref.read(scene_group(SCENE, FUSED), FEAT).astype(np.float64)
    assert np.abs(a - b).max() <= 1e-6
    np.testing.assert_array_equal(ns.read(scene_group(SCENE, FUSED), SEEN), ref.read(scene_group(SCENE, FUSED), SEEN))
    purified = PurifyStage("geometric").name
    assert (score_scenes(str(tmp / "ns.zarr"), [SCENE], purified, "scannet20")["per_class"]
            == score_scenes(str(tmp / "ref.zarr"), [SCENE], purified, "scannet20")["per_class"])


def _distort(image: np.ndarray, K: np.ndarray, dist: np.ndarray, fisheye: bool) -> np.ndarray:
    """What a lens with ``dist`` would have recorded of the pinhole ``image``: each output pixel
    samples the pinhole image where its ray, undistorted by OpenCV, lands."""
    import cv2

    h, w = image.shape[:2]
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pts = np.stack([u.ravel(), v.ravel()], axis=1)[:, None, :]
    if fisheye:
        und = cv2.fisheye.undistortPoints(pts, K, dist, P=K)
    else:
        und = cv2.undistortPoints(pts, K, dist, P=K)
    mx = und[:, 0, 0].reshape(h, w).astype(np.float32)
    my = und[:, 0, 1].reshape(h, w).astype(np.float32)
    return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("model, coeffs", [
    ("OPENCV", {"k1": -0.25, "k2": 0.06, "p1": 0.003, "p2": -0.002}),
    ("OPENCV_FISHEYE", {"k1": 0.08, "k2": -0.02, "k3": 0.01, "k4": 0.0}),
])
@pytest.mark.slow
def test_a_distorted_capture_is_undistorted_with_opencv(scenes, tmp_path, model, coeffs):
    import cv2
    from PIL import Image

    tmp, src = scenes
    folder = scannet_to_nerfstudio(src, tmp_path / "ns")
    K = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE).color_intrinsic
    meta = _meta(folder)
    fisheye = model == "OPENCV_FISHEYE"
    dist = (np.array([coeffs["k1"], coeffs["k2"], coeffs["k3"], coeffs["k4"]]) if fisheye
            else np.array([coeffs["k1"], coeffs["k2"], coeffs["p1"], coeffs["p2"]]))
    truths = []
    for frame in meta["frames"]:
        # the rendered frame, smoothed so that resampling it twice (lens, then undistortion) costs
        # little: what is left of the difference is geometry. Lossless PNGs from here on.
        image = np.asarray(Image.open(folder / frame["file_path"]).convert("RGB"))
        truths.append(cv2.GaussianBlur(image, (0, 0), 1.5))
        name = Path(frame["file_path"]).with_suffix(".png")
        Image.fromarray(_distort(truths[-1], K, dist, fisheye)).save(folder / name)
        frame["file_path"] = str(name)
    meta.update(camera_model=model, **coeffs)
    _write_meta(folder, meta)
    scene = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE)
    np.testing.assert_array_equal(scene.color_intrinsic, K)
    assert all(type(f).__name__ == "NerfstudioFrame" for f in scene.frames)
    inner = (slice(20, -20), slice(25, -25))  # away from the border the lens pushed out of view
    for ours, truth, frame in zip(scene.frames, truths, meta["frames"]):
        truth = truth.astype(np.float64)[inner]
        err = np.abs(ours.read_color().astype(np.float64)[inner] - truth).mean()
        recorded = np.asarray(Image.open(folder / frame["file_path"]).convert("RGB"), dtype=np.float64)[inner]
        lens = np.abs(recorded - truth).mean()
        assert err < 1.0 and lens > 4 * err, (err, lens)
    if model == "OPENCV":  # and the whole pipeline runs on it
        store = run_all(config(tmp_path / "d.zarr", "nerfstudio", tmp_path / "ns"))
        assert store.attrs(scene_group(SCENE, FUSED))["frames_used"] == 5
        assert score_scenes(str(tmp_path / "d.zarr"), [SCENE], PurifyStage("geometric").name, "scannet20")["miou"] > 0.3


@pytest.mark.slow
def test_a_capture_with_depth_and_an_applied_transform(scenes, tmp_path):
    tmp, src = scenes
    A = np.eye(4)
    A[:3, :3] = [[0, 1, 0], [1, 0, 0], [0, 0, -1]]  # what nerfstudio applies to COLMAP models
    A[:3, 3] = [0.5, -1.0, 2.0]
    scannet_to_nerfstudio(src, tmp_path / "ns", depth=True, applied_transform=A)
    scene = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE)
    ref = read_scene(DatasetConfig("scannet", str(src.parent)), SCENE)
    np.testing.assert_allclose(scene.xyz, ref.xyz, atol=1e-5)  # back in the capture's own coordinates
    for a, b in zip(scene.frames, ref.frames):
        np.testing.assert_allclose(a.pose, b.pose, atol=1e-12)
    png = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "ns" / SCENE / "depth" / "0.png"))
    np.testing.assert_array_equal(scene.frames[0].read_depth(scene.depth_scale), png.astype(np.float32) / np.float32(1000))
    assert scene.depth_intrinsic.shape == (3, 3) and scene.depth_scale == 1000.0
    store = run_all(config(tmp_path / "d.zarr", "nerfstudio", tmp_path / "ns"))
    attrs = store.attrs(scene_group(SCENE, FUSED))
    assert attrs["frames_used"] == 5 and attrs["frames_without_depth"] == 0
    centi = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns"), nerfstudio_depth_unit=1e-2), SCENE)
    assert centi.depth_scale == 100.0


def test_frames_with_their_own_intrinsics_are_resampled_onto_the_scene_camera(scenes, tmp_path):
    from PIL import Image

    tmp, src = scenes
    folder = scannet_to_nerfstudio(src, tmp_path / "ns")
    meta = _meta(folder)
    frame = meta["frames"][1]  # this one recorded at half the resolution
    image = Image.open(folder / frame["file_path"])
    w, h = image.size
    image.resize((w // 2, h // 2), Image.BILINEAR).save(folder / "images" / "small.png")
    frame.update(file_path="images/small.png", fl_x=meta["fl_x"] / 2, fl_y=meta["fl_y"] / 2,
                 cx=meta["cx"] / 2, cy=meta["cy"] / 2, w=w // 2, h=h // 2)
    _write_meta(folder, meta)
    scene = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE)
    small = next(f for f in scene.frames if f.name == "small")
    full = read_scene(DatasetConfig("scannet", str(src.parent)), SCENE).frames[1]
    resampled, truth = small.read_color().astype(float), full.read_color().astype(float)
    assert resampled.shape == truth.shape and np.abs(resampled - truth)[4:-4, 4:-4].mean() < 8


def test_one_folder_per_capture_and_scene_selection(scenes, tmp_path):
    tmp, src = scenes
    for name in ("kitchen_phone", "kitchen_tablet", "office"):
        shutil.copytree(scannet_to_nerfstudio(src, tmp_path / "work"), tmp_path / "root" / name)
        shutil.rmtree(tmp_path / "work")
    ds = DatasetConfig("nerfstudio", str(tmp_path / "root"))
    assert list_scenes(ds) == ["kitchen_phone", "kitchen_tablet", "office"]
    (tmp_path / "list.txt").write_text("office  # the one room\n")
    assert match_scenes(["kitchen_*"], list_scenes(ds), "root") == ["kitchen_phone", "kitchen_tablet"]
    assert match_scenes([f"@{tmp_path / 'list.txt'}"], list_scenes(ds), "root") == ["office"]
    assert read_scene(ds, "office").scene_id == "office"


def _broken_capture(src: Path, root: Path, change) -> Path:
    folder = scannet_to_nerfstudio(src, root)
    meta = _meta(folder)
    out = change(folder, meta)
    _write_meta(folder, meta)
    return out


def _drop_intrinsics(folder, meta):
    del meta["fl_y"]
    return folder / "transforms.json"


def _drop_image(folder, meta):
    (folder / meta["frames"][2]["file_path"]).unlink()
    return folder / meta["frames"][2]["file_path"]


def _model(folder, meta):
    meta["camera_model"] = "EQUIRECTANGULAR"
    return folder / "transforms.json"


def _no_ply(folder, meta):
    del meta["ply_file_path"]
    return folder / "transforms.json"


def _one_depth(folder, meta):
    meta["frames"][0]["depth_file_path"] = "depth/0.png"
    return folder / "transforms.json"


def _bad_image(folder, meta):
    path = folder / meta["frames"][3]["file_path"]
    path.write_bytes(path.read_bytes()[:300])
    return path


@pytest.mark.parametrize("change, match", [
    (_drop_intrinsics, r"frame images/0.jpg: no fl_y: the intrinsics fl_x, fl_y, cx, cy, w, h must be given"),
    (_drop_image, r"image of frame 3 not found"),
    (_model, r"camera_model 'EQUIRECTANGULAR' is not supported \(supported: PINHOLE, SIMPLE_PINHOLE, OPENCV, OPENCV_FISHEYE\)"),
    (_no_ply, r"no ply_file_path"),
    (_one_depth, r"no depth_file_path \(depth must be given for every frame or none\)"),
    (_bad_image, r"unreadable or truncated image"),
])
def test_bad_captures_fail_in_one_line_naming_the_file(scenes, tmp_path, change, match):
    tmp, src = scenes
    path = _broken_capture(src, tmp_path / "ns", change)
    one_line(read_scene, DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE, match=match, path=path)
    cfg = config(tmp_path / "s.zarr", "nerfstudio", tmp_path / "ns")
    outcome = run_scene(IngestStage(), StageContext(cfg.store, cfg), SCENE)
    assert outcome.status == "failed" and str(path) in outcome.error and "\n" not in outcome.error
    assert nothing_written(cfg)


def test_record3d_style_opencv_without_coefficients_is_read_untouched(scenes, tmp_path):
    """``ns-process-data record3d`` writes camera_model OPENCV and no coefficients: a pinhole."""
    tmp, src = scenes
    folder = scannet_to_nerfstudio(src, tmp_path / "ns")
    meta = _meta(folder)
    meta.update(camera_model="OPENCV", k1=0.0, k2=0.0, p1=0.0, p2=0.0)
    _write_meta(folder, meta)
    scene = read_scene(DatasetConfig("nerfstudio", str(tmp_path / "ns")), SCENE)
    ref = read_scene(DatasetConfig("scannet", str(src.parent)), SCENE)
    assert all(type(f).__name__ == "Frame" for f in scene.frames)
    np.testing.assert_array_equal(scene.frames[0].read_color(), ref.frames[0].read_color())


def test_sens_with_png_colour_and_raw_depth(tmp_path):
    """The format's other codecs: PNG (1) and raw RGB (0) colour, raw uint16 (0) depth."""
    import io

    from PIL import Image

    from geopurify.pipeline.synthetic.sens_file import write_sens

    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    depth = rng.integers(0, 5000, (3, 4), dtype=np.uint16)
    png = io.BytesIO()
    Image.fromarray(color).save(png, format="PNG")
    K = np.array([[5.0, 0, 3.5, 0], [0, 5.0, 2.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    Kd = np.array([[2.5, 0, 1.5, 0], [0, 2.5, 1.0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    pose = np.eye(4)
    for codec, data in ((1, png.getvalue()), (0, color.tobytes())):
        folder = tmp_path / str(codec) / "s"
        folder.mkdir(parents=True)
        from geopurify.pipeline.ply import write_ply

        write_ply(folder / "s_vh_clean_2.ply", rng.uniform(0, 1, (10, 3)).astype(np.float32),
                  rng.integers(0, 256, (10, 3)).astype(np.uint8))
        write_sens(folder / "s.sens", K, Kd, (8, 6), (4, 3), [(pose, data, depth.astype("<u2").tobytes())],
                   depth_shift=4000.0, color_codec=codec, depth_codec=0)
        scene = read_scene(DatasetConfig("scannet", str(tmp_path / str(codec))), "s")
        np.testing.assert_array_equal(scene.frames[0].read_color(), color)
        np.testing.assert_array_equal(scene.frames[0].read_depth_raw(), depth)
        assert scene.depth_scale == 4000.0
