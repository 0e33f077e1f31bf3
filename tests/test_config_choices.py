"""The choices declared in ``pipeline/choices.py`` (what the config accepts and ``--help`` lists)
are exactly the keys of the registries that act on them: a reader, source, protocol or preset
added to a registry must be added to its choices, and no choice lacks an implementation."""

from __future__ import annotations

import pytest

from geopurify.pipeline import choices
from geopurify.pipeline.choices import choices as values


def _registries():
    from geopurify.pipeline.readers import READERS
    from geopurify.pipeline.readers.label_ids import OPENSCENE_LABELS, PLY_LABELS
    from geopurify.pipeline.schedule import SCHEDULERS
    from geopurify.stages.distill.config import POSITIVE_MODES, PRESET_WIDTHS
    from geopurify.stages.fuse.sources import SOURCES
    from geopurify.stages.fuse.sources.simulated_config import PRESETS as SIMULATED_PRESETS
    from geopurify.stages.fuse.text import TEXT_ENCODERS
    from geopurify.stages.labelsets import PROTOCOLS, VOCABULARIES
    from geopurify.stages.purify.config import AFFINITIES
    from geopurify.stages.teacher.pretrain_recipe import PRESETS as PRETRAIN_PRESETS
    from geopurify.stages.teacher.stage import KINDS

    return [
        (choices.DatasetKind, READERS), (choices.PlyLabels, PLY_LABELS),
        (choices.OpenSceneLabels, OPENSCENE_LABELS), (choices.Scheduler, SCHEDULERS),
        (choices.FuseSource, SOURCES), (choices.SimulatedPreset, SIMULATED_PRESETS),
        (choices.TextEncoder, ("auto", *TEXT_ENCODERS)), (choices.Vocabulary, VOCABULARIES),
        (choices.Protocol, PROTOCOLS), (choices.TeacherKind, KINDS),
        (choices.PretrainPreset, PRETRAIN_PRESETS), (choices.DistillPreset, PRESET_WIDTHS),
        (choices.PositiveMode, POSITIVE_MODES), (choices.Affinity, AFFINITIES),
    ]


@pytest.mark.parametrize("index", range(14))
def test_choices_equal_their_registry(index):
    literal, registry = _registries()[index]
    assert set(values(literal)) == set(registry), literal
