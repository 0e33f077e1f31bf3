"""Frames without a mesh: a capture with posed depth frames and no point cloud is reconstructed at
ingest (``ingest.reconstruct``: tsdf, voxel, none), deterministically, in the ScanNet and generic
layouts; the settings make exactly such scenes stale; and the scan then goes through fuse, purify,
export and query like any other."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from plyfile import PlyData
from scipy.spatial import cKDTree

from geopurify.pipeline.errors import ConfigError, InputError
from geopurify.pipeline.normals import mesh_vertex_normals
from geopurify.pipeline.ply import read_ply
from geopurify.pipeline.readers import get_reader
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene, write_generic
from geopurify.pipeline.vocabulary import FACES, FUSED, NORMAL, POINTS, RGB, XYZ, scene_group
from geopurify.stages.ingest.config import IngestConfig, check_config
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import RunConfig

SCENE = "cap0000_00"


def make_cfg(root: Path, kind: str = "scannet", **ingest) -> RunConfig:
    cfg = RunConfig()
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, kind=kind, root=str(root)),
                               ingest=dataclasses.replace(cfg.ingest, **ingest))


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A synthetic room in the ScanNet layout with its mesh and labels removed (frames only), and
    the mesh it was rendered from (to measure the reconstruction against)."""
    root = tmp_path_factory.mktemp("frames_only")
    folder = generate_scene(root, SCENE, seed=3, num_frames=12)
    mesh = read_ply(folder / f"{SCENE}_vh_clean_2.ply")
    (folder / f"{SCENE}_vh_clean_2.ply").unlink()
    (folder / f"{SCENE}_vh_clean_2.labels.ply").unlink()
    return root, mesh


def ingest(root: Path, store: Path, kind: str = "scannet", scene: str = SCENE, **ingest_cfg):
    Store(store)
    ctx = StageContext(str(store), make_cfg(root, kind, **ingest_cfg))
    return run_scene(IngestStage(), ctx, scene), Store(store, create=False), ctx


def points(store: Store, scene: str = SCENE) -> dict[str, np.ndarray]:
    group = store.group(scene_group(scene, POINTS))
    return {name: group[name][...] for name in group.array_keys()}


def surface_distance(mesh, xyz: np.ndarray) -> np.ndarray:
    """Distance of each point to the mesh surface, through a dense sampling of its triangles."""
    tri = mesh.xyz[mesh.faces].astype(np.float64)
    w = np.random.default_rng(0).dirichlet([1, 1, 1], size=(len(tri), 30))
    dense = np.einsum("fkj,fjd->fkd", w, tri).reshape(-1, 3)
    return cKDTree(dense).query(xyz)[0]


def test_reader_returns_frames_without_points(capture):
    root, _ = capture
    reader = get_reader("scannet")
    scene = reader.read(root, SCENE)
    assert scene.xyz is None and scene.has_depth and len(scene.frames) == 12
    assert not reader.has_points(root, SCENE)


@pytest.mark.slow
def test_tsdf_mesh_on_the_surface_deterministic(capture, tmp_path):
    root, mesh = capture
    outcome, store, _ = ingest(root, tmp_path / "a.zarr", voxel_size=0.04, sdf_trunc=0.16)
    assert outcome.status == "done", outcome.error
    arrays = points(store)
    assert arrays[FACES].dtype == np.int32 and arrays[FACES].shape[1] == 3
    assert arrays[FACES].max() < len(arrays[XYZ]) and len(arrays[XYZ]) > 5000
    attrs = store.attrs(scene_group(SCENE, POINTS))
    rec = attrs["reconstruction"]
    assert rec["method"] == "tsdf" and rec["voxel_size"] == 0.04 and rec["sdf_trunc"] == 0.16
    assert rec["vertices"] == len(arrays[XYZ]) and rec["faces"] == len(arrays[FACES]) and rec["frames_used"] == 12
    assert attrs["has_faces"] and attrs["has_color"] and attrs["normals_from"] == "faces"
    # on the rendered surface: median error a quarter voxel, 95% within a voxel
    dist = surface_distance(mesh, arrays[XYZ])
    assert np.median(dist) < 0.01 and np.percentile(dist, 95) < 0.04
    # faces wound towards the cameras (normals from faces face the nearest camera)
    cams = np.array([f.pose[:3, 3] for f in get_reader("scannet").read(root, SCENE).frames])
    normal = mesh_vertex_normals(arrays[XYZ], arrays[FACES])
    near = cKDTree(cams).query(arrays[XYZ])[1]
    assert (np.einsum("ij,ij->i", normal, cams[near] - arrays[XYZ]) > 0).mean() > 0.85
    # colour from the frames: close to the mesh's own colours at the nearest vertex
    nearest = cKDTree(mesh.xyz).query(arrays[XYZ])[1]
    assert np.abs(arrays[RGB].astype(int) - mesh.rgb[nearest].astype(int)).mean() < 20
    # a second store gives the same bytes
    again, store_b, _ = ingest(root, tmp_path / "b.zarr", voxel_size=0.04, sdf_trunc=0.16)
    other = points(store_b)
    assert again.status == "done" and set(other) == set(arrays)
    assert all(np.array_equal(arrays[k], other[k]) for k in arrays)


def test_voxel_fallback_points(capture, tmp_path):
    root, mesh = capture
    outcome, store, _ = ingest(root, tmp_path / "v.zarr", reconstruct="voxel", voxel_size=0.03)
    assert outcome.status == "done", outcome.error
    arrays = points(store)
    assert FACES not in arrays and arrays[RGB].dtype == np.uint8
    attrs = store.attrs(scene_group(SCENE, POINTS))
    assert attrs["reconstruction"]["method"] == "voxel" and attrs["reconstruction"]["min_views"] == 2
    assert attrs["normals_from"] == "pca" and not attrs["has_faces"]
    dist = surface_distance(mesh, arrays[XYZ])
    assert np.median(dist) < 0.01 and np.percentile(dist, 95) < 0.03
    # one point per occupied cell
    cells = np.floor(arrays[XYZ] / 0.03)
    assert len(np.unique(cells, axis=0)) > 0.95 * len(cells)
    _, store_b, _ = ingest(root, tmp_path / "v2.zarr", reconstruct="voxel", voxel_size=0.03)
    assert np.array_equal(points(store_b)[XYZ], arrays[XYZ])


def test_reconstruct_none_refuses_naming_the_setting(capture, tmp_path):
    root, _ = capture
    outcome, store, _ = ingest(root, tmp_path / "n.zarr", reconstruct="none")
    assert outcome.status == "failed"
    assert "ingest.reconstruct = 'none'" in outcome.error and str(root / SCENE) in outcome.error
    assert store.group(scene_group(SCENE, POINTS)) is None


@pytest.mark.parametrize("key, value, words", [("reconstruct", "mesh", "ingest.reconstruct = 'mesh'"),
                                               ("voxel_size", 0.0, "ingest.voxel_size"),
                                               ("sdf_trunc", 0.01, "ingest.sdf_trunc"),
                                               ("frame_stride", 0, "ingest.frame_stride")])
def test_bad_settings_named(key, value, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        check_config(IngestConfig(**{key: value}))


def test_settings_make_only_frames_only_scenes_stale(capture, tmp_path):
    root, _ = capture
    data = tmp_path / "data"
    shutil.copytree(root, data)
    generate_scene(data, "meshed0000_00", seed=1, num_frames=4)
    store = tmp_path / "s.zarr"
    Store(store)
    first = StageContext(str(store), make_cfg(data, voxel_size=0.05, sdf_trunc=0.2))
    stage = IngestStage()
    assert {run_scene(stage, first, s).status for s in (SCENE, "meshed0000_00")} == {"done"}
    changed = StageContext(str(store), make_cfg(data, voxel_size=0.06, sdf_trunc=0.2))
    assert run_scene(stage, changed, "meshed0000_00").status == "skipped"
    assert run_scene(stage, changed, SCENE).status == "done"


@pytest.mark.slow
def test_generic_frames_only(capture, tmp_path):
    """The generic layout without points.ply: reconstructed from its depth frames; without depth
    either, refused naming points.ply."""
    root, _ = capture
    full = tmp_path / "full"
    generate_scene(full, SCENE, seed=3, num_frames=12)
    generic = tmp_path / "generic"
    folder = write_generic(full / SCENE, generic)
    (folder / "points.ply").unlink()
    outcome, store, _ = ingest(generic, tmp_path / "g.zarr", kind="generic", reconstruct="voxel", voxel_size=0.03)
    assert outcome.status == "done", outcome.error
    _, store_sn, _ = ingest(root, tmp_path / "sn.zarr", reconstruct="voxel", voxel_size=0.03)
    # the same frames in the two layouts give the same scan
    assert np.array_equal(points(store)[XYZ], points(store_sn)[XYZ])
    for depth in (folder / "frames").glob("*.depth.png"):
        depth.unlink()
    with pytest.raises(InputError, match="no depth frames to reconstruct") as err:
        get_reader("generic").read(generic, SCENE)
    assert err.value.path == str(folder / "points.ply")


@pytest.mark.slow
def test_frames_only_through_fuse_purify_export_query(capture, tmp_path):
    """A frames-only capture is an ordinary scan after ingest: fused from per-frame feature maps,
    purified, exported and queried as a mesh with the scan's vertex count and faces."""
    from geopurify.stages.fuse.config import FuseConfig
    from geopurify.stages.fuse.stage import FuseStage
    from geopurify.stages.purify.stage import PurifyStage
    from geopurify.stages.purify.query import query_scene
    from geopurify.stages.labelsets import label_set
    from geopurify.workflows.export import export_scene

    root, _ = capture
    store_path = tmp_path / "e.zarr"
    Store(store_path)
    maps = tmp_path / "maps"
    (maps / SCENE).mkdir(parents=True)
    scene = get_reader("scannet").read(root, SCENE)
    rng = np.random.default_rng(0)
    for frame in scene.frames:  # a few coarse regions per frame, each a random mix of class vectors
        np.save(maps / SCENE / f"{frame.name}.npy", rng.standard_normal((6, 8, 32)).astype(np.float32))
    cfg = make_cfg(root, voxel_size=0.05, sdf_trunc=0.2)
    cfg = dataclasses.replace(cfg, fuse=FuseConfig(source="precomputed", precomputed_dir=str(maps),
                                                   text_encoder="hashed", hashed_dim=32),
                              purify=dataclasses.replace(cfg.purify, affinity="geometric"))
    ctx = StageContext(str(store_path), cfg)
    for stage in (IngestStage(), FuseStage(), PurifyStage("geometric")):
        stage.prepare(ctx, [SCENE])
        outcome = run_scene(stage, ctx, SCENE)
        assert outcome.status == "done", f"{stage.name}: {outcome.error}"
    store = Store(store_path, create=False)
    n = len(store.read(scene_group(SCENE, POINTS), XYZ))
    faces = store.read(scene_group(SCENE, POINTS), FACES)
    assert store.read(scene_group(SCENE, FUSED), "seen").astype(bool).mean() > 0.8
    out = export_scene(str(store_path), SCENE, "purified_geometric", tmp_path / "scene.ply")
    ply = PlyData.read(str(out))
    assert ply["vertex"].count == n and ply["face"].count == len(faces)
    assert np.array_equal(np.stack(ply["face"].data["vertex_indices"]), faces)
    assert label_set("scannet20").space == "nyu40"
    summary = query_scene(str(store_path), SCENE, ["chair"], tmp_path / "q.ply", of="fused")
    q = PlyData.read(str(tmp_path / "q.ply"))
    assert summary["points"] == n and q["vertex"].count == n and q["face"].count == len(faces)
    assert "score_0" in q["vertex"].data.dtype.names
