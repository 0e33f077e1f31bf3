"""The command line: help, one-line errors with exit codes, status, a stage run twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from geopurify.pipeline.synthetic import generate_scene
from geopurify.pipeline.vocabulary import DONE, STATE_STALE


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "geopurify.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def test_help_lists_every_stage_and_workflow():
    text = run("--help").stdout
    for command in ("ingest", "fuse", "teacher", "distill", "purify", "score", "status", "demo", "all",
                    "reprocess", "report", "export", "query", "select", "pretrain-teacher"):
        assert command in text


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    proc = run("ingest", "--store", str(tmp_path / "s.zarr"), "--root", str(tmp_path / "nowhere"),
               "--scenes", "x")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(tmp_path / "nowhere") in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "s.zarr").exists()
    proc = run("fuse", "--set", "fuse.bordr=3", "--store", str(tmp_path / "s.zarr"))
    assert proc.returncode == 2 and "bordr" in proc.stderr


@pytest.mark.slow
def test_ingest_twice_then_status_with_a_geopurify_toml(tmp_path):
    generate_scene(tmp_path / "data", "cli_a", seed=3, num_frames=4)
    (tmp_path / "geopurify.toml").write_text(
        'store = "s.zarr"\n[dataset]\nkind = "scannet"\nroot = "data"\nscenes = ["cli_*"]\n')
    first = run("ingest", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 computed" in first.stdout
    second = run("ingest", cwd=tmp_path)
    assert "0 computed, 1 already done" in second.stdout and "nothing to do" in second.stdout
    status = run("status", cwd=tmp_path)
    assert status.returncode == 0 and "cli_a" in status.stdout and DONE in status.stdout
    (tmp_path / "data" / "cli_a" / "pose" / "0.txt").touch()
    os.utime(tmp_path / "data" / "cli_a" / "pose" / "0.txt", (1, 1))
    assert STATE_STALE in run("status", cwd=tmp_path).stdout
