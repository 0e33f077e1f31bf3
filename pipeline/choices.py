"""The choices of every choice-valued setting, as ``Literal`` types, in one import-light module.

The config fields are declared with these types, so a value outside them is refused as the
config is read (naming the key and the choices), the JSON schema lists them, and the command line
shows them in ``--help`` without importing the stages (``cli.py`` imports this module at start).
The registries that act on a choice (``READERS``, ``SOURCES``, ``PROTOCOLS``, ...) keep their own
dicts; ``tests/test_config_choices.py`` checks that each registry's keys equal its choices here.
"""

from __future__ import annotations

from typing import Literal, get_args

from .vocabulary import AFFINITY_STUDENT

DatasetKind = Literal["scannet", "nerfstudio", "generic", "pointcloud", "pointcept", "openscene"]
"""``dataset.kind``: the reader of the scene folders (docs/generic-layout.md, docs/own-scans.md)."""
PlyLabels = Literal["nyu40", "scannet200"]
"""``dataset.ply_labels``: what a ``pointcloud`` scan's vertex ``label`` holds."""
OpenSceneLabels = Literal["scannet20", "matterport21", "matterport40", "matterport80", "matterport160"]
"""``dataset.openscene_labels``: the class list an OpenScene file's labels index."""
Reconstruct = Literal["tsdf", "voxel", "none"]
"""``ingest.reconstruct``: how a capture with depth frames and no point cloud gets one."""
Scheduler = Literal["threads", "processes", "local-cluster"]
"""``run.scheduler`` (or a ``tcp://host:port`` address of a running Dask scheduler)."""

FuseSource = Literal["openclip", "precomputed", "openscene", "simulated"]
"""``fuse.source``: the 2D feature source."""
FusionMode = Literal["consensus", "mean"]
"""``fuse.mode``: fusion across views."""
TextEncoder = Literal["auto", "openclip", "hashed"]
"""``fuse.text_encoder``."""
SimulatedPreset = Literal["realistic", "view-noise", "swaps"]
"""``fuse.simulated.preset``."""
Vocabulary = Literal["scannet20", "scannet200", "matterport21", "matterport40", "matterport80",
                     "matterport160"]
"""``fuse.vocab``: the class names embedded as text."""
Protocol = Literal["scannet19", "scannet20", "scannet200", "matterport21", "matterport40",
                   "matterport80", "matterport160"]
"""``score.protocol``: the classes scored."""

TeacherKind = Literal["ssl", "geometric", "ptv3"]
"""``teacher.kind``."""
Ptv3Missing = Literal["color", "normal"]
"""The items of ``teacher.ptv3_missing``: ptv3 inputs a scan may lack, fed as zeros."""
PretrainPreset = Literal["cpu", "large"]
"""``teacher.pretrain_preset`` (and ``pretrain-teacher --preset``)."""

DistillPreset = Literal["cpu", "paper"]
"""``distill.preset``: the student network's size."""
PositiveMode = Literal["paper", "outside-voxel"]
"""``distill.positive``."""
Norm = Literal["batch", "layer", "none"]
"""``distill.norm``."""
TrainingDevice = Literal["auto", "cpu", "cuda"]
"""``distill.device``."""

Affinity = Literal[AFFINITY_STUDENT, "geometric", "oracle"]
"""``purify.affinity`` and the items of ``evaluation.affinities``."""


def choices(literal) -> tuple[str, ...]:
    """The values of a ``Literal`` type, in order."""
    return tuple(get_args(literal))
