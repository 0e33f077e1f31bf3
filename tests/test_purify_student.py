"""The student affinity source: a (random-weight) student from the store drives purify."""

from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import DONE, FAILED, LABEL, PURIFIED, SCORE, scene_group
from geopurify.stages.purify.stage import PurifyStage
from geopurify.workflows.config import RunConfig

from purify_fixture import write_fixture_store


def write_random_student(store, fused_dim, seed=0, voxel_size=0.02):
    import torch

    from geopurify.stages.distill.network import build_student
    from geopurify.stages.distill.weights import write_student

    torch.manual_seed(seed)
    net_cfg = {"fused_dim": fused_dim, "in_channels": fused_dim + 6, "width": 16, "blocks": 1,
               "out_dim": 8, "norm": "batch", "voxel_size": voxel_size}
    model = build_student(net_cfg).eval()
    write_student(store, model, {"network": net_cfg, "fingerprint": f"student-{seed}"})


def test_student_affinity_runs_deterministically_and_is_fingerprinted(tmp_path):
    outs = []
    for name in ("a.zarr", "b.zarr"):
        store, label = write_fixture_store(tmp_path / name)
        write_random_student(store, 64)
        cfg = RunConfig(store=str(tmp_path / name))
        cfg.purify.k = 24
        outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / name), cfg), "scene_a")
        assert outcome.status == DONE, outcome.error + outcome.detail
        outs.append(Store(tmp_path / name))
    g = scene_group("scene_a", PURIFIED)
    a, b = outs
    assert a.attrs(g)["affinity"] == "student"
    assert a.attrs(g)["inputs"]["student"] == "student-0"
    assert a.read(g, LABEL).tobytes() == b.read(g, LABEL).tobytes()
    assert a.read(g, SCORE).tobytes() == b.read(g, SCORE).tobytes()
    # another student makes the group stale and changes the result's provenance
    write_random_student(a, 64, seed=1)
    cfg = RunConfig(store=str(tmp_path / "a.zarr"))
    cfg.purify.k = 24
    outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / "a.zarr"), cfg), "scene_a")
    assert outcome.status == DONE and a.attrs(g)["inputs"]["student"] == "student-1"


def test_student_voxel_size_mismatch_is_refused(tmp_path):
    store, _ = write_fixture_store(tmp_path / "s.zarr")
    write_random_student(store, 64, voxel_size=0.05)
    cfg = RunConfig(store=str(tmp_path / "s.zarr"))
    outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / "s.zarr"), cfg), "scene_a")
    assert outcome.status == FAILED and "voxel_size" in outcome.error


def test_student_from_an_exported_file(tmp_path):
    import torch

    from geopurify.stages.distill.network import build_student
    from geopurify.stages.distill.weights import export_student
    from geopurify.pipeline.fingerprint import file_content_hash

    write_fixture_store(tmp_path / "s.zarr")
    torch.manual_seed(3)
    net_cfg = {"fused_dim": 64, "in_channels": 70, "width": 16, "blocks": 1, "out_dim": 8,
               "norm": "batch", "voxel_size": 0.02}
    file = export_student(tmp_path / "student.pt", build_student(net_cfg).eval(),
                          {"network": net_cfg, "fingerprint": "exported"})
    cfg = RunConfig(store=str(tmp_path / "s.zarr"))
    cfg.purify.k, cfg.purify.student = 24, str(file)
    outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / "s.zarr"), cfg), "scene_a")
    assert outcome.status == DONE, outcome.error + outcome.detail
    attrs = Store(tmp_path / "s.zarr").attrs(scene_group("scene_a", PURIFIED))
    assert attrs["inputs"]["student"] == file_content_hash(file)
    cfg.purify.student = str(tmp_path / "missing.pt")
    outcome = run_scene(PurifyStage(), StageContext(str(tmp_path / "s.zarr"), cfg), "scene_a")
    assert outcome.status == FAILED and "student not found" in outcome.error
