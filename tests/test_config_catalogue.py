"""A catalogue of bad config values, each given through ``--set`` and through a TOML file to
``geopurify-run all``: exit code 2, exactly one line on stderr naming the key, and nothing written
(the store is never created, the run's folder is unchanged). In-process (typer's CliRunner), so
the whole catalogue takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from geopurify.pipeline.config import deep_merge, parse_override

from cli_invoke import invoke

# (override as `key=TOML value`, ..., text the error line must name). Earlier overrides of a case are
# valid settings the bad one (the last) needs; FOLDER is replaced by an existing folder.
CASES = [
    # float fields
    (["fuse.depth_tolerance='abc'"], "fuse.depth_tolerance"),
    (["fuse.depth_tolerance=abc"], "fuse.depth_tolerance"),
    (["fuse.logit_scale=true"], "fuse.logit_scale"),
    (["purify.temperature=nan"], "purify.temperature"),
    (["distill.lr=inf"], "distill.lr"),
    (["purify.voxel_size=-inf"], "purify.voxel_size"),
    (["fuse.depth_tolerance=0"], "fuse.depth_tolerance"),
    (["fuse.max_unreadable_frames=1.5"], "fuse.max_unreadable_frames"),
    (["fuse.simulated.noise_std=-0.1"], "fuse.simulated.noise_std"),
    (["teacher.ssl_position_weight=[1.0]"], "teacher.ssl_position_weight"),
    (["distill.warmup_fraction=1.0"], "distill.warmup_fraction"),
    (["distill.scale_min=2.0"], "distill.scale_min"),  # above scale_max: two values that disagree
    # int fields
    (["purify.k=1.5"], "purify.k"),
    (["purify.k='many'"], "purify.k"),
    (["purify.k=0"], "purify.k"),
    (["distill.epochs=true"], "distill.epochs"),
    (["fuse.border=-1"], "fuse.border"),
    (["run.workers=0"], "run.workers"),
    (["fuse.simulated.grid_width=0"], "fuse.simulated.grid_width"),
    # bool fields
    (["purify.keep_features='yes'"], "purify.keep_features"),
    (["fuse.use_depth=1"], "fuse.use_depth"),
    (["distill.augment='true'"], "distill.augment"),
    # list fields
    (["dataset.scenes='scene0000_00'"], "dataset.scenes"),
    (["dataset.scenes=['']"], "dataset.scenes"),
    (["teacher.geometric_weights=[1.0, 2.0]"], "teacher.geometric_weights"),
    (["teacher.geometric_weights=[1.0, 1.0, 1.0, 1.0, 'x']"], "teacher.geometric_weights"),
    (["evaluation.affinities=['student', 'magic']"], "evaluation.affinities"),
    (["evaluation.affinities=[]"], "evaluation.affinities"),
    (["evaluation.seeds=[0, 0]"], "evaluation.seeds"),
    (["evaluation.seeds=[0.5]"], "evaluation.seeds"),
    (["fuse.openclip.templates=['a photo']"], "fuse.openclip.templates"),
    # string and choice fields
    (["fuse.mode='median'"], "fuse.mode"),
    (["fuse.source=''"], "fuse.source"),
    (["fuse.vocab=''"], "fuse.vocab"),
    (["fuse.openclip.model=''"], "fuse.openclip.model"),
    (["teacher.kind=3"], "teacher.kind"),
    (["score.protocol='scannet21'"], "score.protocol"),
    (["run.scheduler='dask'"], "run.scheduler"),
    (["fuse.openclip.device='gpu'"], "fuse.openclip.device"),
    (["dataset.kind='scanet'"], "dataset.kind"),
    (["teacher.pretrain_preset='huge'"], "teacher.pretrain_preset"),
    (["fuse.openclip.checkpoint=3"], "fuse.openclip.checkpoint"),
    # tables and unknown keys
    (["fuse=3"], "fuse"),
    (["fuse.simulated='realistic'"], "fuse.simulated"),
    (["fuse.depth_tolerence=0.1"], "fuse.depth_tolerence"),
    (["purifiy.k=3"], "purifiy"),
    (["fuse.simulated.presett='swaps'"], "fuse.simulated.presett"),
    # a checkpoint that is a folder
    (["teacher.kind='ssl'", "teacher.checkpoint='FOLDER'"], "teacher.checkpoint"),
    (["fuse.source='openclip'", "fuse.openclip.checkpoint='FOLDER'"], "fuse.openclip.checkpoint"),
]

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A valid run config over an empty dataset folder (if a bad value passed, the run would stop
    at once for want of scenes, and the test would fail on its message)."""
    root = tmp_path_factory.mktemp("catalogue")
    (root / "data").mkdir()
    (root / "weights").mkdir()
    data = {"store": str(root / "run" / "s.zarr"),
            "dataset": {"kind": "scannet", "root": str(root / "data"), "scenes": ["scene0000_00"]},
            "fuse": {"source": "simulated"}, "teacher": {"kind": "geometric"}}
    (root / "base.toml").write_text(tomli_w.dumps(data))
    return root, data


def _sets(case: list[str], root: Path) -> list[str]:
    return [s.replace("FOLDER", str(root / "weights")) for s in case]


def _check_refusal(result, root: Path, key: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert key in lines[0], lines[0]
    assert not (root / "run").exists()


@pytest.mark.parametrize("case, key", CASES, ids=[c[-1] for c, _ in CASES])
def test_a_bad_value_through_set_is_refused_in_one_line(base, case, key):
    root, _ = base
    args = ["all", "--config", str(root / "base.toml")]
    for item in _sets(case, root):
        args += ["--set", item]
    _check_refusal(invoke(args), root, key)


@pytest.mark.parametrize("case, key", CASES, ids=[c[-1] for c, _ in CASES])
def test_a_bad_value_in_a_config_file_is_refused_in_one_line(base, tmp_path, case, key):
    root, data = base
    for item in _sets(case, root):
        data = deep_merge(data, parse_override(item))
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    result = invoke(["all", "--config", str(path)])
    _check_refusal(result, root, key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30
