"""Reports say what made them: a simulated run and a random-weight openclip run through ``all``, then
the report, metrics.json, score --json, the exported PLY's header and a query on the demo-style store."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from plyfile import PlyData

from geopurify.pipeline.fingerprint import file_content_hash
from geopurify.pipeline.store import Store
from geopurify.pipeline.vocabulary import LABEL, PURIFIED, model_group, purified_group, scene_group
from geopurify.stages.labelsets import SCANNET20
from geopurify.workflows.config import config_from_toml
from geopurify.workflows.export import export_scene
from geopurify.workflows.report import write_report
from geopurify.workflows.run_all import run_all

from workflow_fixtures import small_config, write_scenes


TINY = {"embed_dim": 32,  # a tiny open_clip ViT, as in test_fuse_openclip.py
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
AFFINITY_NAMES = {PURIFIED: "student pooling", purified_group("geometric"): "geometric pooling",
                  purified_group("oracle"): "oracle pooling"}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "geopurify.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def demo_purify():
    """The purify section of the packaged demo config (what `geopurify-run demo` runs with)."""
    with resources.as_file(resources.files("geopurify") / "configs" / "demo.toml") as path:
        return config_from_toml(path, path.parent).purify


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep_sim")
    write_scenes(tmp / "data")
    purify = demo_purify()  # the student is trained on the demo's grid too (purify.voxel_size = distill.voxel_size)
    cfg = small_config(tmp, tmp / "data", fuse={"source": "simulated"}, purify=dataclasses.asdict(purify),
                       distill={"voxel_size": purify.voxel_size})
    result = run_all(cfg)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    report = write_report(result.stores, tmp / "report", None, "scannet19")
    return cfg, report, json.loads((tmp / "report" / "metrics.json").read_text())


@pytest.fixture(scope="module")
def openclip_run(tmp_path_factory):
    """Lift-only and geometric/oracle pooling from a tiny random-initialised open_clip checkpoint file."""
    torch = pytest.importorskip("torch")
    open_clip = pytest.importorskip("open_clip")

    tmp = tmp_path_factory.mktemp("rep_clip")
    (tmp / "geopurify-tiny-vit.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(tmp / "geopurify-tiny-vit.json")
    torch.manual_seed(0)
    ckpt = tmp / "tiny.pt"
    torch.save(open_clip.create_model("geopurify-tiny-vit", pretrained=None).state_dict(), ckpt)
    write_scenes(tmp / "data")
    cfg = small_config(tmp, tmp / "data", train_dataset={"kind": "", "root": ""},
                       evaluation={"seeds": [0], "affinities": ["geometric", "oracle"]})
    cfg = dataclasses.replace(cfg, fuse=dataclasses.replace(
        cfg.fuse, source="openclip", openclip=dataclasses.replace(
            cfg.fuse.openclip, model="geopurify-tiny-vit", checkpoint=str(ckpt), image_size=64)))
    result = run_all(cfg)
    assert not result.failed, [(o.stage, o.scene, o.error) for o in result.failed]
    report = write_report(result.stores, tmp / "report", None, "scannet19")
    return cfg, ckpt, report, json.loads((tmp / "report" / "metrics.json").read_text())


@pytest.mark.slow
def test_simulated_run_names_source_seeds_noise_teacher_and_student(simulated_run):
    cfg, report, metrics = simulated_run
    prov = metrics["provenance"]
    assert {"package", "source", "fusion", "text_encoder", "teacher", "student", "affinities", "results",
            "protocol"} <= set(prov)
    source = prov["source"]
    assert source["kind"] == "simulated" and source["preset"] == "realistic" and source["seeds"] == [0]
    assert source["noise"]["noise_std"] == 0.34 and len(source["noise"]) == 10  # the preset's, resolved
    assert "simulated from the ground-truth labels" in source["note"]
    assert prov["fusion"]["mode"] == "consensus" and prov["text_encoder"]["kind"] == "hashed"
    assert prov["teacher"] == {"kind": "geometric"}
    student = prov["student"]
    assert student["training_scenes"] == ["wf_train0", "wf_train1"] and student["steps"] == 4
    assert student["fingerprint"] == Store(cfg.store, create=False).attrs(model_group())["fingerprint"]
    assert sorted(prov["affinities"]) == ["geometric", "oracle", "student"]
    assert prov["protocol"] == "scannet19" and prov["package"].startswith("geopurify ")
    text = report.read_text()
    opening = text.split("## Results")[0]
    assert "simulated from the ground-truth labels" in opening and "simulator seed 0" in opening
    assert "Teacher (what the student distilled from): geometric" in opening


@pytest.mark.slow
def test_every_affinity_is_named_in_report_score_and_export(simulated_run, tmp_path):
    cfg, report, metrics = simulated_run
    text = report.read_text()
    for group, name in AFFINITY_NAMES.items():
        assert metrics["methods"][name]["group"] == group
        assert metrics["provenance"]["results"][group]["affinity"] == name.split()[0]
        assert f"| {name} | `{group}` |" in text
        ply = export_scene(cfg.store, "wf_eval", group, tmp_path / f"{group}.ply")
        comments = PlyData.read(str(ply)).comments
        assert len(comments) == 1 and comments[0].startswith("geopurify-provenance ")
        record = json.loads(comments[0].split(" ", 1)[1])
        assert record["shows"] == name and record["source"]["kind"] == "simulated"
    proc = cli("score", "--store", cfg.store, "--scenes", "wf_eval", "--of", purified_group("oracle"),
               "--json", str(tmp_path / "score.json"))
    assert proc.returncode == 0, proc.stderr
    scored = json.loads((tmp_path / "score.json").read_text())
    assert scored["provenance"]["results"][purified_group("oracle")]["method"] == "oracle pooling"
    assert scored["provenance"]["source"]["kind"] == "simulated"
    assert "oracle pooling" in proc.stdout and "simulated from the ground-truth labels" in proc.stdout


@pytest.mark.slow
def test_per_class_table_runs_from_the_most_frequent_class(simulated_run):
    _, report, metrics = simulated_run
    rows = [line for line in report.read_text().split("## Per-class IoU")[1].splitlines()
            if line.startswith("| ") and "%" in line]
    shares = [float(row.split("|")[2].strip().rstrip("%")) for row in rows]
    assert shares == sorted(shares, reverse=True) and len(rows) == sum(n > 0 for n in metrics["class_points"].values())


@pytest.mark.slow
def test_query_works_on_the_demo_style_store(simulated_run, tmp_path):
    assert demo_purify().keep_features  # what the demo runs with keeps the evaluation scene's features
    cfg, _, _ = simulated_run
    labels = Store(cfg.store, create=False).read(scene_group("wf_eval", PURIFIED), LABEL)
    ids, counts = np.unique(labels, return_counts=True)
    common = int(ids[counts.argmax()])
    out = tmp_path / "q.ply"
    proc = cli("query", "--store", cfg.store, "--scene", "wf_eval", SCANNET20[common], "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    scores = PlyData.read(str(out))["vertex"]["score_0"]
    # a class name gets that class's own embedding: its points score higher than the others
    assert scores[labels == common].mean() > scores[labels != common].mean() + 0.2


@pytest.mark.slow
def test_openclip_run_names_model_and_checkpoint_and_no_simulator(openclip_run, tmp_path):
    cfg, ckpt, report, metrics = openclip_run
    prov = metrics["provenance"]
    sha = file_content_hash(ckpt)
    assert prov["source"]["kind"] == "openclip" and prov["source"]["model"] == "geopurify-tiny-vit"
    assert prov["source"]["checkpoint"] == str(ckpt) and prov["source"]["checkpoint_fingerprint"] == sha
    assert prov["text_encoder"]["kind"] == "openclip" and prov["text_encoder"]["checkpoint_fingerprint"] == sha
    assert prov["student"] is None and prov["teacher"]["kind"] == "none"
    assert sorted(prov["affinities"]) == ["geometric", "oracle"]
    text = report.read_text()
    assert "simulator seed" not in text and "simulated" not in text
    assert "simulator seed" not in json.dumps(metrics)
    assert "**2D source: openclip** `geopurify-tiny-vit`" in text and sha in text
    assert "geometric pooling" in text and "student pooling" not in text


@pytest.mark.slow
def test_query_error_is_one_line_ending_in_a_newline(openclip_run):
    cfg, _, _, _ = openclip_run  # purified without features
    proc = cli("query", "--store", cfg.store, "--scene", "wf_eval", "--of", purified_group("geometric"), "a chair")
    assert proc.returncode == 2 and proc.stderr.endswith("\n")
    assert len(proc.stderr.splitlines()) == 1 and "written without features" in proc.stderr
