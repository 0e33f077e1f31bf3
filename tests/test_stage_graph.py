"""The stage graph is declared once, on the stages (``SceneStage.reads``): the registry, ``all``'s
graph, ``status`` and each stage's input fingerprints follow it; ``all`` picks its training scenes
the way ``distill`` does, and says so before it starts when it can train no student."""

from __future__ import annotations

import dataclasses

import pytest

from geopurify.pipeline.errors import StoreError
from geopurify.pipeline.stage import StageContext, run_scene
from geopurify.pipeline.vocabulary import (
    AFFINITY_STUDENT, COMMAND_GROUP, FAILED, FUSED, GROUP_COMMAND, POINTS, scene_group,
)
from geopurify.stages.purify.stage import PurifyStage
from geopurify.workflows.registry import GROUP_OF, STAGE_CLASSES, UPSTREAM, scene_stage, with_affinity
from geopurify.workflows.run_all import build_run_graph, scene_lists
from geopurify.workflows.validate import validate

from purify_fixture import write_fixture_store
from workflow_fixtures import small_config, write_scenes

NO_STUDENT = "no student is trained"


def test_upstream_and_groups_are_derived_from_what_each_stage_reads():
    order = list(STAGE_CLASSES)
    for command, cls in STAGE_CLASSES.items():
        assert UPSTREAM[command] == tuple(GROUP_COMMAND[group] for group in cls.reads)
        assert all(order.index(up) < order.index(command) for up in UPSTREAM[command])
    assert GROUP_OF == COMMAND_GROUP
    assert UPSTREAM["purify"] == ("ingest", "fuse")  # the teacher's group is the student's input, not purify's


def test_purify_fingerprints_exactly_the_groups_it_declares(tmp_path):
    store, _ = write_fixture_store(tmp_path / "s.zarr")
    cfg = with_affinity(small_config(tmp_path, tmp_path), "geometric")
    stage = scene_stage("purify", cfg)
    inputs = stage.input_fingerprints(StageContext(store.path, cfg), "scene_a")
    assert {g: inputs[g] for g in stage.reads} == {POINTS: "points-0", FUSED: "fused-0-2.5"}
    assert set(inputs) - set(stage.reads) == {"text"}  # and the vocabulary's embeddings, nothing else


def test_a_missing_declared_group_names_the_command_that_makes_it(tmp_path):
    store, _ = write_fixture_store(tmp_path / "s.zarr")
    store.root[scene_group("scene_a", FUSED)].attrs["complete"] = False
    cfg = with_affinity(small_config(tmp_path, tmp_path), "geometric")
    with pytest.raises(StoreError, match=r"scenes/scene_a/fused: fuse \(fused\) is missing or incomplete"):
        PurifyStage("geometric").input_fingerprints(StageContext(store.path, cfg), "scene_a")
    outcome = run_scene(PurifyStage("geometric"), StageContext(store.path, cfg), "scene_a")
    assert outcome.status == FAILED and "fuse (fused)" in outcome.error


def test_with_affinity_is_the_one_rewrite_of_purify(tmp_path):
    cfg = small_config(tmp_path, tmp_path)
    other = with_affinity(cfg, "oracle", student="elsewhere.zarr")
    assert (other.purify.affinity, other.purify.student) == ("oracle", "elsewhere.zarr")
    assert other.purify.k == cfg.purify.k and cfg.purify.affinity == AFFINITY_STUDENT
    assert scene_stage("purify", other).name == "purified_oracle"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("graph") / "data"
    write_scenes(root)
    return root


def _no_train_dataset(cfg):
    return dataclasses.replace(cfg, train_dataset=dataclasses.replace(cfg.train_dataset, kind="", scenes=[]))


def test_all_takes_distill_train_scenes_like_distill_does(tmp_path, data):
    cfg = small_config(tmp_path, data)
    assert scene_lists(cfg) == (["wf_eval"], ["wf_train0", "wf_train1"])  # train_dataset.scenes
    picked = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, train_scenes=["wf_train1"]))
    assert scene_lists(picked) == (["wf_eval"], ["wf_train1"])  # distill.train_scenes comes first
    # no train_dataset: distill.train_scenes picks scenes of the dataset itself
    own = dataclasses.replace(_no_train_dataset(cfg),
                              distill=dataclasses.replace(cfg.distill, train_scenes=["wf_train0"]))
    assert scene_lists(own) == (["wf_eval"], ["wf_train0"])
    clash = dataclasses.replace(own, distill=dataclasses.replace(cfg.distill, train_scenes=["wf_*"]))
    with pytest.raises(Exception, match="wf_eval is both an evaluation and a training scene"):
        scene_lists(clash)


def test_a_run_that_trains_no_student_says_so_before_it_starts(tmp_path, data):
    cfg = small_config(tmp_path, data)
    assert not any(NO_STUDENT in note for note in validate(cfg, "all"))
    lonely = _no_train_dataset(cfg)
    notes = [note for note in validate(lonely, "all") if NO_STUDENT in note]
    assert len(notes) == 1 and "\n" not in notes[0]
    # and the graph indeed holds no student and no student pooling: text, teacher checkpoint,
    # 3 per-scene stages of the one scene, geometric and oracle pooling
    assert len(build_run_graph(lonely, ["wf_eval"], [], False)) == 2 + 3 + 2
    # with one training scene: its 3 stages, the distillation, and student pooling besides
    assert len(build_run_graph(cfg, ["wf_eval"], ["wf_train0"], False)) == 2 + 6 + 1 + 3
    without = dataclasses.replace(lonely, evaluation=dataclasses.replace(lonely.evaluation, affinities=["geometric"]))
    assert not any(NO_STUDENT in note for note in validate(without, "all"))
