"""``geopurify-run config``: the resolved config as TOML that reads back to the same config (the
same fingerprints for every stage), its JSON schema, ``null`` for optional values, and the
choice-valued options' choices in ``--help``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import get_args

import pytest

from geopurify.pipeline import choices
from geopurify.pipeline.config import fingerprinted_dict, to_dict
from geopurify.pipeline.errors import ConfigError
from geopurify.workflows.config import RunConfig, load_run_config

from cli_invoke import invoke

REPO = Path(__file__).resolve().parents[1]


def _sections(cfg: RunConfig) -> dict:
    """The fingerprinted values of every section: each stage's fingerprint takes its config from
    these (``fingerprinted_dict`` of the sections it reads), so equal sections, equal fingerprints."""
    return {f.name: fingerprinted_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if dataclasses.is_dataclass(getattr(cfg, f.name))}


def _absolute(cfg: RunConfig, cwd: Path) -> RunConfig:
    """``cfg`` with its relative ``store`` and ``purify.student`` taken from ``cwd``."""
    def absolute(path: str) -> str:
        return str((cwd / path).resolve()) if path and not Path(path).is_absolute() else path

    return dataclasses.replace(cfg, store=absolute(cfg.store),
                               purify=dataclasses.replace(cfg.purify, student=absolute(cfg.purify.student)))


@pytest.mark.parametrize("name, sets", [
    ("scannet.toml", []),
    ("demo.toml", []),
    ("demo.toml", ["fuse.source='openclip'", "fuse.openclip.checkpoint='random'", "purify.student='rel/s.pt'",
                   "fuse.simulated.noise_std=0.25", "distill.lr=1", "store='rel/s.zarr'"]),
])
def test_config_output_reads_back_as_the_same_config(tmp_path, monkeypatch, name, sets):
    monkeypatch.chdir(tmp_path)  # relative --set paths are taken from here, and written absolute
    args = ["config", "--config", str(REPO / "configs" / name)]
    for item in sets:
        args += ["--set", item]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    (tmp_path / "elsewhere").mkdir()
    saved = tmp_path / "elsewhere" / "resolved.toml"
    saved.write_text(result.stdout)
    original = load_run_config(REPO / "configs" / name, sets, search_cwd=False)
    again = load_run_config(saved, search_cwd=False)
    assert _sections(again) == _sections(original)
    assert to_dict(again) == to_dict(_absolute(original, tmp_path))  # every value, paths absolute


def test_config_refuses_a_bad_value_like_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["config", "--set", "fuse.depth_tolerance=abc"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: fuse.depth_tolerance = 'abc': expected a number"


def test_schema_lists_types_ranges_choices_and_docs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["config", "--schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    defs = schema["$defs"]
    fuse = defs["FuseConfig"]
    assert fuse["additionalProperties"] is False
    assert fuse["properties"]["depth_tolerance"]["type"] == "number"
    assert fuse["properties"]["depth_tolerance"]["exclusiveMinimum"] == 0
    assert fuse["properties"]["mode"]["enum"] == list(get_args(choices.FusionMode))
    assert "Visible if" in fuse["properties"]["depth_tolerance"]["description"]
    assert defs["PurifyConfig"]["properties"]["k"] == {**defs["PurifyConfig"]["properties"]["k"],
                                                       "type": "integer", "minimum": 1}
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(RunConfig)}


def test_null_sets_an_optional_value_back_to_none(tmp_path):
    (tmp_path / "c.toml").write_text('[purify]\nstudent = "s.pt"\n[fuse.simulated]\nnoise_std = 0.5\n')
    cfg = load_run_config(tmp_path / "c.toml", ["purify.student=null", "fuse.simulated.noise_std=null"])
    assert cfg.purify.student == "" and cfg.fuse.simulated.noise_std is None
    quoted = load_run_config(None, ["dataset.scenes=['null']"], search_cwd=False)
    assert quoted.dataset.scenes == ["null"]  # quoted, it is the string
    with pytest.raises(ConfigError, match=r"fuse\.depth_tolerance = null: expected a number"):
        load_run_config(None, ["fuse.depth_tolerance=null"], search_cwd=False)


def test_every_optional_value_defaults_to_none():
    """The TOML writer leaves none values out; reading back gives none only if that is the default."""
    def walk(cls, where):
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if dataclasses.is_dataclass(default):
                walk(type(default), f"{where}{f.name}.")
            elif "None" in str(f.type):
                assert default is None, f"{where}{f.name}"
    walk(RunConfig, "")


@pytest.mark.parametrize("command, option, literal", [
    ("ingest", "--dataset", choices.DatasetKind),
    ("fuse", "--source", choices.FuseSource),
    ("fuse", "--preset", choices.SimulatedPreset),
    ("fuse", "--mode", choices.FusionMode),
    ("teacher", "--teacher", choices.TeacherKind),
    ("purify", "--affinity", choices.Affinity),
    ("score", "--protocol", choices.Protocol),
    ("pretrain-teacher", "--preset", choices.PretrainPreset),
])
def test_choice_options_list_their_choices_in_help(command, option, literal):
    result = invoke([command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if f"{option} " in line)
    assert "|".join(get_args(literal)) in line, line
    bad = invoke([command, option, "nonsense"])
    assert bad.exit_code == 2


def test_the_shipped_configs_pass_the_schema_and_a_typo_does_not(tmp_path, monkeypatch):
    """What an editor checks with the schema agrees with what a run accepts."""
    import tomllib

    jsonschema = pytest.importorskip("jsonschema")
    monkeypatch.chdir(tmp_path)
    schema = json.loads(invoke(["config", "--schema"]).stdout)
    for name in ("demo.toml", "scannet.toml"):
        jsonschema.validate(tomllib.loads((REPO / "configs" / name).read_text()), schema)
    for bad in ({"fuse": {"depth_tolerence": 0.1}}, {"fuse": {"depth_tolerance": "abc"}},
                {"purify": {"k": 0}}, {"fuse": {"mode": "median"}}, {"run": {"scheduler": "dask"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
