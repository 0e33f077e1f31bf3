"""Provenance from recorded attrs alone: names from each group's own affinity, disagreements said,
the simulator's seeds per store, random weights called so, a retrained student not claimed; and the
top-down renders' discs sized from the point density."""

from __future__ import annotations

import dataclasses

import numpy as np

from geopurify.pipeline.config import to_dict
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import (
    FUSED, PURIFIED, TEACHER, model_group, purified_group, scene_group, text_group,
)
from geopurify.stages.fuse.config import FuseConfig, OpenClipConfig
from geopurify.stages.fuse.sources.simulated_config import SimulatedConfig, resolve_simulated
from geopurify.workflows.plots import disc_sizes, drawing_spacing
from geopurify.workflows.provenance import describe, method_names, result_groups, run_provenance


def fused_attrs(source: str = "simulated", seed: int = 0, checkpoint: str = "random") -> dict:
    cfg = FuseConfig(source=source, simulated=SimulatedConfig(seed=seed),
                     openclip=OpenClipConfig(checkpoint=checkpoint))
    if source == "simulated":
        ident = {"kind": "simulated", "params": dataclasses.asdict(resolve_simulated(cfg.simulated))}
    else:
        weights = {"kind": "random"} if checkpoint == "random" else {"kind": "file", "sha": "ab" * 8}
        ident = {"source": "openclip", "model": "ViT-B-16", "weights": weights, "image_size": 320}
    return {"config": {"fuse": to_dict(cfg)}, "source_identity": ident, "fingerprint": f"f{seed}"}


def make_store(path, scenes: dict[str, dict], purified: dict[str, str], student: dict | None = None) -> Store:
    """``scenes``: scene -> fused attrs; ``purified``: group -> affinity, written for every scene."""
    store = Store(path)
    store.write_group(text_group("scannet20"), {}, {"encoder": {"kind": "hashed", "version": 1, "dim": 512}})
    for scene, attrs in scenes.items():
        store.write_group(scene_group(scene, FUSED), {}, attrs)
        for group, affinity in purified.items():
            store.write_group(scene_group(scene, group), {}, {
                "affinity": affinity, "config": {"purify": {"k": 96, "steps": 19, "student": ""}},
                "inputs": {"student": "s1"} if affinity == "student" else {}})
    if student is not None:
        store.write_group(model_group(), {}, student)
    return store


def test_results_are_named_by_their_own_recorded_affinity(tmp_path):
    # an old store: `purify --affinity geometric` wrote `purified`, beside a real purified_geometric
    store = make_store(tmp_path / "s.zarr", {"a": fused_attrs()},
                       {PURIFIED: "geometric", purified_group("geometric"): "geometric", purified_group("oracle"): "oracle"})
    groups = result_groups(store, "a")
    assert groups == [FUSED, purified_group("geometric"), PURIFIED, purified_group("oracle")]
    names = method_names(store, ["a"], groups)
    assert names == {FUSED: "lift-only", purified_group("geometric"): "geometric pooling [purified_geometric]",
                     PURIFIED: "geometric pooling [purified]", purified_group("oracle"): "oracle pooling"}
    assert "student" not in " ".join(names.values())


def test_scenes_that_disagree_on_the_source_are_said_to(tmp_path):
    store = make_store(tmp_path / "s.zarr", {"a": fused_attrs(seed=0), "b": fused_attrs("openclip")},
                       {purified_group("geometric"): "geometric"})
    prov = run_provenance([store.path], ["a", "b"], [purified_group("geometric")], "scannet19")
    assert set(prov["source"]["differs"]) == {"a", "b"}
    assert describe(prov)[0].startswith("**2D source differs between scenes**")


def test_seeds_of_every_store_and_what_else_differs(tmp_path):
    main = make_store(tmp_path / "s.zarr", {"a": fused_attrs(seed=0)}, {purified_group("geometric"): "geometric"})
    seed1 = make_store(tmp_path / "s.seed1.zarr", {"a": fused_attrs(seed=1)}, {purified_group("geometric"): "geometric"})
    prov = run_provenance([main.path, seed1.path], ["a"], [FUSED, purified_group("geometric")], "scannet19")
    assert prov["source"]["seeds"] == [0, 1] and "stores_differ_in" not in prov
    assert "simulator seeds 0, 1" in describe(prov)[0]
    other = fused_attrs(seed=2)
    other["config"]["fuse"]["mode"] = "mean"
    odd = make_store(tmp_path / "odd.zarr", {"a": other}, {purified_group("geometric"): "geometric"})
    prov = run_provenance([main.path, odd.path], ["a"], [purified_group("geometric")], "scannet19")
    assert prov["stores_differ_in"] == ["fusion"]


def test_random_openclip_weights_are_called_random_and_no_simulator_is_mentioned(tmp_path):
    store = make_store(tmp_path / "s.zarr", {"a": fused_attrs("openclip")}, {purified_group("geometric"): "geometric"})
    prov = run_provenance([store.path], ["a"], [FUSED, purified_group("geometric")], "scannet20")
    assert prov["source"]["weights"] == "random" and prov["source"]["checkpoint"] == "random"
    words = "\n".join(describe(prov))
    assert "random initialisation" in words and "simulat" not in words


def test_a_retrained_student_is_not_claimed_for_an_older_result(tmp_path):
    record = {"fingerprint": "s2", "scenes": ["t0"], "training": {"steps": 8, "epochs": 4},
              "inputs": {"t0": {"teacher": "tf"}}}
    store = make_store(tmp_path / "s.zarr", {"a": fused_attrs()}, {PURIFIED: "student"}, record)
    prov = run_provenance([store.path], ["a"], [PURIFIED], "scannet19")
    assert prov["student"]["fingerprint"] == "s1" and "training_scenes" not in prov["student"]
    assert "retrained" in prov["student"]["note"] and prov["teacher"]["kind"] == "not recorded"
    store.write_group(model_group(), {}, {**record, "fingerprint": "s1"})
    store.write_group(scene_group("t0", TEACHER), {}, {"kind": "ssl", "fingerprint": "tf",
                                               "inputs": {"checkpoint": "c0ffee"},
                                               "config": {"teacher": {"checkpoint": "/m/teacher.pt"}}})
    prov = run_provenance([store.path], ["a"], [PURIFIED], "scannet19")
    assert prov["student"]["training_scenes"] == ["t0"] and prov["student"]["steps"] == 8
    assert prov["teacher"] == {"kind": "ssl", "checkpoint": "/m/teacher.pt", "checkpoint_fingerprint": "c0ffee"}


def test_drawing_spacing_is_the_sampling_distance():
    g = np.stack(np.meshgrid(np.arange(50), np.arange(40), indexing="ij"), -1).reshape(-1, 2) * 0.05
    xyz = np.concatenate([g, np.zeros((len(g), 1))], axis=1)
    assert abs(drawing_spacing(xyz) - 0.05) < 1e-9


def test_discs_grow_where_the_scan_is_sparse():
    dense = np.stack(np.meshgrid(np.arange(40), np.arange(40), indexing="ij"), -1).reshape(-1, 2) * 0.02
    sparse = np.stack(np.meshgrid(np.arange(10), np.arange(10), indexing="ij"), -1).reshape(-1, 2) * 0.06 + 2.0
    xy = np.concatenate([dense, sparse])
    sizes = disc_sizes(np.concatenate([xy, np.zeros((len(xy), 1))], axis=1))
    assert np.median(sizes[len(dense):]) > 2.5 * np.median(sizes[:len(dense)])
