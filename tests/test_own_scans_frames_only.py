"""Raw recordings and phone captures without a mesh: a ``.sens`` beside no ``_vh_clean_2.ply`` and a
nerfstudio capture with depth and no ``ply_file_path`` are rebuilt at ingest from their depth frames,
through the same frame readers fuse uses (so the recording is decoded in place, never exported); the
rebuilt scan equals the one rebuilt from the same frames in the exported layout."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from geopurify.pipeline.readers import get_reader
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.synthetic.nerfstudio_capture import scannet_to_nerfstudio
from geopurify.pipeline.synthetic.sens_file import scannet_to_sens
from geopurify.pipeline.vocabulary import DONE, FACES, POINTS, XYZ, scene_group
from geopurify.stages.ingest.stage import IngestStage
from geopurify.workflows.config import RunConfig

SCENE = "own0000_00"


def _cfg(root: Path, kind: str) -> RunConfig:
    cfg = RunConfig()
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, kind=kind, root=str(root)),
                               ingest=dataclasses.replace(cfg.ingest, voxel_size=0.04, sdf_trunc=0.16))


def _ingest(root: Path, kind: str, store: Path) -> dict:
    Store(store)
    outcome = run_scene(IngestStage(), StageContext(str(store), _cfg(root, kind)), SCENE)
    assert outcome.status == DONE, outcome.error
    group = Store(store, create=False).group(scene_group(SCENE, POINTS))
    return {"attrs": dict(group.attrs), **{name: group[name][...] for name in group.array_keys()}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    folder = generate_scene(root, SCENE, seed=5, num_frames=8)
    return folder


def _drop_mesh(folder: Path) -> None:
    for name in (f"{SCENE}_vh_clean_2.ply", f"{SCENE}_vh_clean_2.labels.ply"):
        (folder / name).unlink(missing_ok=True)


def test_a_sens_without_its_mesh_is_rebuilt_like_its_export(exported, tmp_path):
    raw_root = tmp_path / "raw"
    raw_folder = scannet_to_sens(exported, raw_root)
    _drop_mesh(raw_folder)
    # the export of the same recording, without its mesh: the reference
    ref_root = tmp_path / "ref"
    ref_folder = ref_root / SCENE
    import shutil
    shutil.copytree(exported, ref_folder)
    _drop_mesh(ref_folder)
    assert not get_reader("scannet").has_points(raw_root, SCENE)
    raw = _ingest(raw_root, "scannet", tmp_path / "raw.zarr")
    assert raw["attrs"]["reconstruction"]["method"] == "tsdf" and len(raw[FACES]) > 0
    assert len(raw[XYZ]) > 1000
    ref = _ingest(ref_root, "scannet", tmp_path / "ref.zarr")
    # the .sens holds the exporter's rounding of poses and intrinsics: the same surface to a millimetre
    assert abs(len(raw[XYZ]) - len(ref[XYZ])) <= 0.02 * len(ref[XYZ])
    from scipy.spatial import cKDTree
    assert np.median(cKDTree(ref[XYZ]).query(raw[XYZ])[0]) < 1e-3


def test_a_phone_capture_with_depth_and_no_ply_is_rebuilt(exported, tmp_path):
    root = tmp_path / "ns"
    folder = scannet_to_nerfstudio(exported, root, depth=True)
    import json
    meta = json.loads((folder / "transforms.json").read_text())
    meta.pop("ply_file_path", None)
    (folder / "transforms.json").write_text(json.dumps(meta))
    assert not get_reader("nerfstudio").has_points(root, SCENE)
    scan = _ingest(root, "nerfstudio", tmp_path / "ns.zarr")
    assert scan["attrs"]["reconstruction"]["method"] == "tsdf" and len(scan[FACES]) > 0
    # the rebuilt surface lies on the room the frames were rendered from
    from geopurify.pipeline.ply import read_ply
    mesh = read_ply(exported / f"{SCENE}_vh_clean_2.ply")
    from scipy.spatial import cKDTree
    assert np.median(cKDTree(mesh.xyz).query(scan[XYZ])[0]) < 0.05
