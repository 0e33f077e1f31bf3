"""The typed config is a refactor: the fingerprinted values of the shipped configs (and a few
overrides, an int given for a float among them) must equal those the untyped config produced.

``config_fingerprints/expected.json`` was computed on the commit before the typed config (e40449b)
with ``fingerprinted_dict`` of every section, from the shipped configs as they were then (copied
beside it, so later edits of ``configs/`` do not move the reference); regenerate it only for an
intended change of results, never to make this test pass.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from geopurify.pipeline.config import fingerprinted_dict
from geopurify.workflows.config import load_run_config

DATA = Path(__file__).resolve().parent / "config_fingerprints"
EXPECTED = json.loads((DATA / "expected.json").read_text())

CASES = {
    "defaults": (None, []),
    "demo": ("demo.toml", []),
    "scannet": ("scannet.toml", []),
    "variants": ("demo.toml", ["fuse.depth_tolerance=1", "fuse.simulated.noise_std=0.3",
                               "purify.affinity='geometric'", "teacher.kind='ssl'", "fuse.mode='mean'",
                               "distill.lr=0.002", "purify.keep_features=false"]),
}


def section_fingerprints(cfg) -> dict:
    return {f.name: fingerprinted_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if dataclasses.is_dataclass(getattr(cfg, f.name))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fingerprinted_values_are_those_of_the_untyped_config(case):
    name, sets = CASES[case]
    cfg = load_run_config(DATA / name if name else None, sets, search_cwd=False)
    assert json.loads(json.dumps(section_fingerprints(cfg), sort_keys=True)) == EXPECTED[case]
