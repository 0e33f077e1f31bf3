"""Settings of the teacher stage (design.md section 4). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from geopurify.pipeline.choices import PretrainPreset, Ptv3Missing, TeacherKind, choices
from geopurify.pipeline.config import (CHECKED, NOT_FINGERPRINTED, Device, Float, Ge, Gt, Int, MaxLen,
                                       MinLen, OptionalText, Text)


MISSING_COLOR, MISSING_NORMAL = choices(Ptv3Missing)
"""What ``teacher.ptv3_missing`` may list: the ptv3 inputs a scan may lack."""


@dataclass
class TeacherConfig:
    __pydantic_config__ = CHECKED

    kind: TeacherKind = "geometric"
    """``ssl`` (sparse-conv U-Net pretrained here), ``geometric`` (training-free descriptors) or
    ``ptv3`` (a published Sonata / Concerto checkpoint through the PTv3 encoder in ``ptv3/``)."""
    checkpoint: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """Weights of the ``ssl`` or ``ptv3`` teacher. Its content hash (not its path) is part of the
    fingerprint."""
    ptv3_levels: Annotated[Int, Ge(0)] = 2
    """``ptv3`` features: the deepest level concatenated with this many levels above it, carried down
    to every point (2, as the Sonata demo and GeoPurify do: 512 + 384 + 192 = 1,088 for Sonata)."""
    ptv3_missing: list[Ptv3Missing] = field(default_factory=list)
    """``ptv3`` inputs a scan may lack, fed as zeros instead of refusing the scan: ``color`` (a cloud
    without colour) and/or ``normal`` (normals the scan does not carry: estimated ones, by PCA at
    ingest, and zero ones, on vertices of no face). The 2025 Sonata (``sonata_20251024.pth``) and
    Concerto are trained to accept zeros there; the teacher group and the provenance record it."""
    voxel_size: Annotated[Float, Gt(0)] = 0.02
    """Grid (metres) of the ``geometric`` descriptors (the ``ssl`` grid is the checkpoint's)."""
    geometric_neighbours: Annotated[Int, Ge(3)] = 16
    """Nearest voxels for normals' histograms (FPFH) and the finer curvature scale (x4: the coarser)."""
    geometric_weights: Annotated[list[Annotated[Float, Ge(0)]], MinLen(5), MaxLen(5)] = field(default_factory=lambda: [1.5, 1.0, 0.25, 0.5, 1.0])
    """Weights of the geometric blocks: position, normal, curvature, shape histogram, colour."""
    ssl_position_weight: Annotated[Float, Ge(0)] = 1.5
    """``ssl`` features: weight of a position block (xyz) beside the network's embedding block, combined
    as the geometric blocks are (``blocks.combine``). The network sees no horizontal position (see
    network.py), so nearness enters here, as it does in the ``geometric`` and raw descriptors.
    0: the embedding alone. The default is the geometric teacher's own position weight, so the two
    teachers are compared and distilled alike; heavier blocks raise affinity purity but the student
    distils worse from them (figures: the README's Results section)."""
    device: Device = field(default="cpu", metadata=NOT_FINGERPRINTED)
    """Torch device of ``ssl`` and ``ptv3`` inference (``cpu`` or ``cuda``); results agree to float
    precision."""
    pretrain_geometry: list[Text] = field(default_factory=list, metadata=NOT_FINGERPRINTED)
    """Pretraining inputs when ``all`` must make the checkpoint: PLY folders, ScanNet scan folders or
    a store. Not fingerprinted: the checkpoint's content hash already stands for them."""
    pretrain_scenes: list[Text] = field(default_factory=list, metadata=NOT_FINGERPRINTED)
    """Scenes to take from a store in ``pretrain_geometry`` (names, globs; empty: all of them)."""
    pretrain_preset: PretrainPreset = field(default="cpu", metadata=NOT_FINGERPRINTED)
    """``cpu`` (default, sized for a 2-core CPU) or ``large`` (real hardware)."""
    pretrain_epochs: Annotated[Int, Ge(0)] = field(default=0, metadata=NOT_FINGERPRINTED)
    """Override of the preset's epochs (0: the preset's)."""
    pretrain_seed: Int = field(default=0, metadata=NOT_FINGERPRINTED)
    """Seed of weights, views and scene order."""

    def unused_fields(self) -> set[str]:
        """Settings the chosen kind never reads (kept out of the fingerprint)."""
        unused = {"geometric": {"ssl_position_weight", "ptv3_levels", "ptv3_missing"},
                  "ssl": {"voxel_size", "geometric_neighbours", "geometric_weights", "ptv3_levels", "ptv3_missing"},
                  "ptv3": {"voxel_size", "geometric_neighbours", "geometric_weights", "ssl_position_weight"}}
        out = set(unused.get(self.kind, set()))
        if not self.ptv3_missing:  # the default leaves earlier ptv3 fingerprints as they were
            out.add("ptv3_missing")
        return out
