"""The ptv3 encoder against the reference implementation's outputs (../shared/fixtures/ptv3): every
level's features and the upcast features of a random-weight checkpoint on a batch of two clouds,
and the published Sonata's tensor names, shapes and parameter count."""

from __future__ import annotations

import json

import pytest
import torch

from geopurify.stages.teacher.ptv3 import build, encode, load_encoder
from geopurify.stages.teacher.ptv3.features import run_batch
from geopurify.stages.teacher.ptv3.model import upcast

from teacher_ptv3_fixtures import FIXTURES, needs_fixtures

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURES / "ptv3_small_io.pt", weights_only=True)


@pytest.fixture(scope="module")
def output(reference):
    return run_batch(load_encoder(FIXTURES / "ptv3_small.pt"), reference["inputs"])


def _worst_per_cloud(ours: torch.Tensor, theirs: torch.Tensor, batch: torch.Tensor) -> list[float]:
    assert ours.shape == theirs.shape
    return [float((ours[batch == b] - theirs[batch == b]).abs().max()) for b in range(int(batch.max()) + 1)]


@needs_fixtures
def test_every_level_matches_the_reference_on_both_clouds(reference, output):
    assert len(output.levels) == len(reference["levels"]) == 5
    for s, (level, theirs) in enumerate(zip(output.levels, reference["levels"])):
        worst = _worst_per_cloud(level.feat, theirs, level.batch)
        assert len(worst) == 2 and max(worst) <= TOLERANCE, (s, worst)


@needs_fixtures
def test_upcast_features_match_the_reference(reference, output):
    feat = upcast(output, 2)
    assert feat.shape == reference["upcast"].shape == (11660, 32 + 48 + 64)
    worst = _worst_per_cloud(feat, reference["upcast"], output.levels[0].batch)
    assert max(worst) <= TOLERANCE, worst


@needs_fixtures
def test_encode_contract_gives_the_same_levels(reference, output):
    levels = encode(str(FIXTURES / "ptv3_small.pt"), reference["inputs"])
    assert [tuple(f.shape) for f in levels] == [tuple(f.shape) for f in reference["levels"]]
    for ours, level in zip(levels, output.levels):
        assert ours.device.type == "cpu" and torch.equal(ours, level.feat)


@needs_fixtures
@pytest.mark.slow
def test_sonata_config_builds_exactly_the_published_tensors():
    manifest = json.loads((FIXTURES / "sonata_manifest.json").read_text())
    model = build(manifest["config"])
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert len(shapes) == len(manifest["state_dict"]) == 453
    assert shapes == manifest["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == manifest["parameters"] == 108_461_376
