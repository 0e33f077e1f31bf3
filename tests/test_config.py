import pytest

from geopurify.pipeline.config import fingerprinted_dict, parse_override, to_dict
from geopurify.pipeline.errors import ConfigError
from geopurify.workflows.config import RunConfig, load_run_config


def test_toml_file_then_overrides(tmp_path):
    (tmp_path / "run.toml").write_text(
        'store = "out/s.zarr"\n[dataset]\nroot = "data"\nscenes = ["a*"]\n[fuse]\ndepth_tolerance = 0.25\n')
    cfg = load_run_config(tmp_path / "run.toml", ["fuse.depth_tolerance=0.1", "fuse.border=4"])
    assert cfg.fuse.depth_tolerance == 0.1 and cfg.fuse.border == 4
    assert cfg.dataset.scenes == ["a*"]
    # relative paths are taken from the config file's folder
    assert cfg.store == str((tmp_path / "out" / "s.zarr").resolve())
    assert cfg.dataset.root == str((tmp_path / "data").resolve())


def test_unknown_key_and_wrong_type_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="depth_tolerence"):
        load_run_config(None, ["fuse.depth_tolerence=0.1"], search_cwd=False)
    with pytest.raises(ConfigError, match="border"):
        load_run_config(None, ["fuse.border=[1]"], search_cwd=False)
    (tmp_path / "bad.toml").write_text("store = \n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_run_config(tmp_path / "bad.toml")


def test_bare_word_override_is_a_string():
    assert parse_override("fuse.mode=mean") == {"fuse": {"mode": "mean"}}
    assert parse_override("a.b=3") == {"a": {"b": 3}}


def test_fingerprint_leaves_out_paths_and_scene_lists():
    cfg = RunConfig()
    fp = fingerprinted_dict(cfg.dataset)
    assert "root" not in fp and "scenes" not in fp and "kind" in fp
    assert "root" in to_dict(cfg.dataset)


def test_paths_in_a_config_file_are_relative_to_it_but_tags_are_not(tmp_path):
    (tmp_path / "c.toml").write_text(
        '[fuse.openclip]\ncheckpoint = "models/vit.pt"\n[teacher]\npretrain_geometry = ["geo", "/abs"]\n')
    cfg = load_run_config(tmp_path / "c.toml")
    assert cfg.fuse.openclip.checkpoint == str((tmp_path / "models" / "vit.pt").resolve())
    assert cfg.teacher.pretrain_geometry == [str((tmp_path / "geo").resolve()), "/abs"]
    for kept in ("random", "laion2b_s34b_b88k"):
        (tmp_path / "t.toml").write_text(f'[fuse.openclip]\ncheckpoint = "{kept}"\n')
        assert load_run_config(tmp_path / "t.toml").fuse.openclip.checkpoint == kept
    (tmp_path / "d.toml").write_text('[fuse.openclip]\ncheckpoint = "local-dir:w"\n')
    assert load_run_config(tmp_path / "d.toml").fuse.openclip.checkpoint == f"local-dir:{(tmp_path / 'w').resolve()}"


@pytest.mark.parametrize("override, line", [
    ("fuse.depth_tolerance=abc", "fuse.depth_tolerance = 'abc': expected a number"),
    ("fuse.depth_tolerance=nan", "fuse.depth_tolerance = nan: expected a finite number"),
    ("fuse.depth_tolerance=0", "fuse.depth_tolerance = 0: expected > 0"),
    ("purify.k=1.5", "purify.k = 1.5: expected an integer"),
    ("purify.k=0", "purify.k = 0: expected >= 1"),
    ("purify.keep_features='yes'", "purify.keep_features = 'yes': expected true or false"),
    ("fuse.mode=median", "fuse.mode = 'median': expected one of 'consensus', 'mean'"),
    ("fuse.vocab=''", "fuse.vocab = '': expected one of 'scannet20', 'scannet200', 'matterport21', "
                      "'matterport40', 'matterport80', 'matterport160'"),
    ("fuse.openclip.model=''", "fuse.openclip.model = '': expected a non-empty string"),
    ("evaluation.affinities=['student', 'magic']",
     "evaluation.affinities[1] = 'magic': expected one of 'student', 'geometric', 'oracle'"),
    ("dataset.scenes='a'", "dataset.scenes = 'a': expected a list"),
    ("fuse=3", "fuse = 3: expected a table"),
    ("fuse.max_unreadable_frames=2", "fuse.max_unreadable_frames = 2: expected <= 1"),
    ("run.scheduler=dask", "run.scheduler = 'dask': expected one of threads, processes, local-cluster "
                           "or tcp://host:port"),
    ("fuse.border=null", "fuse.border = null: expected an integer"),
    ("fuse.depth_tolerence=0.1", "unknown config key 'fuse.depth_tolerence' (did you mean 'depth_tolerance'?)"),
])
def test_a_refusal_is_one_line_naming_key_value_and_expectation(override, line):
    with pytest.raises(ConfigError) as err:
        load_run_config(None, [override], search_cwd=False)
    assert str(err.value) == line


def test_an_int_for_a_float_is_stored_as_a_float_and_checks_cover_configs_built_in_code():
    import dataclasses

    from geopurify.pipeline.config import check_values

    cfg = load_run_config(None, ["fuse.depth_tolerance=1"], search_cwd=False)
    assert type(cfg.fuse.depth_tolerance) is float and fingerprinted_dict(cfg.fuse)["depth_tolerance"] == 1.0
    built = dataclasses.replace(cfg, purify=dataclasses.replace(cfg.purify, k=-3))
    with pytest.raises(ConfigError, match=r"^purify\.k = -3: expected >= 1$"):
        check_values(built)
