"""The command line as people expect it: --version, completion, required options, -q / -v,
``status --json`` and ``status --check``'s exit codes. In-process (typer's runner) to stay fast."""

from __future__ import annotations

import json
import logging
import os

import pytest
from typer.testing import CliRunner

from geopurify import __version__
from geopurify.cli import app
from geopurify.pipeline.synthetic import generate_scene
from geopurify.workflows.status import Cell, group_seconds, not_done

SCENE = "conv_a"


def invoke(*args, env=None):
    return CliRunner().invoke(app, list(args), prog_name="geopurify-run", env={"COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A store with one scene ingested (and nothing after it)."""
    tmp = tmp_path_factory.mktemp("conv")
    generate_scene(tmp / "data", SCENE, seed=5, num_frames=2)
    store = tmp / "s.zarr"
    result = invoke("-q", "ingest", "--store", str(store), "--root", str(tmp / "data"), "--scenes", SCENE)
    assert result.exit_code == 0, result.output
    return tmp, store


def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"geopurify {__version__}"


def test_shell_completion_script_and_completions(monkeypatch):
    # read when the command is built: lets --show-completion take the shell's name here
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = invoke("--show-completion", "bash")
    assert script.exit_code == 0 and "_GEOPURIFY_RUN_COMPLETE" in script.stdout
    words = invoke(env={"_GEOPURIFY_RUN_COMPLETE": "complete_bash", "COMP_WORDS": "geopurify-run sta",
                        "COMP_CWORD": "1"})
    assert "status" in words.stdout.split()


def test_the_options_readme_promises():
    """README: commands on a store take --store, --config, --set; those over scenes --scenes too."""
    import typer.main

    commands = typer.main.get_command(app).commands
    no_store = {"demo", "pretrain-teacher"}
    over_scenes = {"ingest", "fuse", "teacher", "purify", "select", "score", "report", "export", "status",
                   "all", "reprocess"}
    for name, command in commands.items():
        options = {opt for param in command.params for opt in param.opts}
        if name not in no_store:
            assert {"--store", "--config", "--set"} <= options, name
        if name in over_scenes:
            assert "--scenes" in options, name


def test_required_option_is_marked_and_enforced():
    assert "[required]" in invoke("query", "--help").stdout
    missing = invoke("query", "chair", "--store", "nowhere.zarr")
    assert missing.exit_code == 2 and "--scene" in missing.stderr


def test_quiet_silences_progress_and_info_verbose_shows_debug(ingested):
    tmp, store = ingested
    args = ("ingest", "--store", str(store), "--root", str(tmp / "data"), "--scenes", SCENE)
    loud, quiet = invoke(*args), invoke("-q", *args)
    assert loud.exit_code == quiet.exit_code == 0
    assert "ingest" in loud.stderr and quiet.stderr == ""
    assert "1 already done" in quiet.stdout  # results still print
    assert not logging.getLogger("geopurify").isEnabledFor(logging.INFO)
    verbose = invoke("-v", *args)
    assert logging.getLogger("geopurify").isEnabledFor(logging.DEBUG)
    assert "ingest: 1 scene(s) into" in verbose.stderr and "1 scene(s)" not in loud.stderr
    invoke("status", "--store", str(store))
    log = logging.getLogger("geopurify")
    assert log.isEnabledFor(logging.INFO) and not log.isEnabledFor(logging.DEBUG)


def test_status_json_parses(ingested):
    _, store = ingested
    result = invoke("status", "--store", str(store), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["store"] == str(store)
    assert data["scene_states"][SCENE]["ingest"]["state"] == "done"
    assert data["scene_states"][SCENE]["fuse"]["state"] == "missing"
    assert data["student_state"]["state"] == "missing"


def test_status_check_fails_on_missing_and_stale_work(ingested):
    tmp, store = ingested
    plain = invoke("status", "--store", str(store))
    assert plain.exit_code == 0  # without --check: a report, never a verdict
    missing = invoke("status", "--store", str(store), "--check")
    assert missing.exit_code == 1 and f"{SCENE}/fuse: missing" in missing.stderr
    assert f"{SCENE}/ingest" not in missing.stderr
    pose = tmp / "data" / SCENE / "pose" / "0.txt"
    before = pose.stat()
    os.utime(pose, (1, 1))
    try:
        stale = invoke("status", "--store", str(store), "--check", "--json")
        assert stale.exit_code == 1 and f"{SCENE}/ingest: stale" in stale.stderr
        assert json.loads(stale.stdout)["scene_states"][SCENE]["ingest"]["state"] == "stale"
    finally:
        os.utime(pose, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_check_passes_only_done_and_not_needed_cells():
    done = {"a": {"ingest": Cell("done", 1.0), "purify": Cell("not needed")}}
    assert not_done(done, Cell("done")) == []
    assert not_done(done, Cell("missing")) == ["student: missing"]
    for state in ("stale", "failed", "incomplete", "missing", "damaged"):
        table = {"a": {"ingest": Cell("done"), "fuse": Cell(state)}}
        assert not_done(table, Cell("done")) == [f"a/fuse: {state}"]


def test_a_stage_time_is_its_own_total_not_the_sum_of_its_parts():
    fuse = {"read_s": 40.0, "features_s": 50.0, "fusion_s": 20.0, "fill_s": 1.0, "total_s": 120.0,
            "compute_s": 120.4, "write_s": 0.6}
    assert group_seconds(fuse) == 121.0
    assert group_seconds({"total_s": 3.0, "write_s": 0.5}) == 3.5
    assert group_seconds({"normals_s": 2.0}) is None
