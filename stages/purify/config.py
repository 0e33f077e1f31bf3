"""Settings of the purify stage (design.md section 6). Import-light: no torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, get_args

from geopurify.pipeline.choices import Affinity
from geopurify.pipeline.config import CHECKED, NOT_FINGERPRINTED, Bool, Float, Ge, Gt, Int, OptionalText
from geopurify.pipeline.vocabulary import AFFINITY_STUDENT

AFFINITIES = get_args(Affinity)


@dataclass
class PurifyConfig:
    __pydantic_config__ = CHECKED

    affinity: Affinity = AFFINITY_STUDENT
    """``student`` (the method), ``geometric`` (baseline) or ``oracle`` (ceiling, benchmark only)."""
    k: Annotated[Int, Ge(1)] = 96
    """Nearest voxels each voxel pools from (self excluded)."""
    steps: Annotated[Int, Ge(0)] = 19
    """Propagation steps T."""
    temperature: Annotated[Float, Gt(0)] = 0.05
    """Affinity softmax temperature."""
    voxel_size: Annotated[Float, Gt(0)] = 0.02
    """Voxel edge (m); must equal the student's training voxel size for ``affinity = student``."""
    keep_features: Bool = False
    """Also write the pooled features (N, D) f16 (full-feature path, slower; needed by queries)."""
    score_rank: Annotated[Int, Ge(0)] = 0
    """Fast path only: residual directions propagated besides the C logits to refine the score's
    norm (see pooling.py). 0: the score is the cosine within the vocabulary's span."""
    student_position_scale: Annotated[Float, Ge(0)] = 0.0
    """Student affinity: also weigh neighbours by nearness, exp(-|dp|^2 / (2 s^2)) with s this scale
    (m), as the geometric affinity does with its position scale. 0: the student's embeddings alone
    (the paper's pooling)."""
    student: OptionalText = field(default="", metadata=NOT_FINGERPRINTED)
    """Student model: empty = the store's ``models/student``; or a path to a ``.pt`` file or a
    student group. Its content fingerprint, not the path, enters the stage fingerprint."""
    geo_position_scale: Annotated[Float, Gt(0)] = 0.2
    """Geometric affinity: position differences are divided by this (m). The three ``geo_*`` scales
    are ``bench/tune_geometric.py``'s choice (README, "Results")."""
    geo_normal_scale: Annotated[Float, Gt(0)] = 0.3
    """Geometric affinity: normal-direction differences (|n n^T - m m^T|, sign-free) divided by this."""
    geo_color_scale: Annotated[Float, Gt(0)] = 0.1
    """Geometric affinity: colour differences (rgb in [0, 1]) divided by this."""

    def unused_fields(self) -> set[str]:
        """Settings the chosen affinity never reads (kept out of the fingerprint)."""
        unused = set()
        if self.affinity != "geometric":
            unused |= {"geo_position_scale", "geo_normal_scale", "geo_color_scale"}
        if self.affinity != AFFINITY_STUDENT:
            unused.add("student_position_scale")
        if self.keep_features:
            unused.add("score_rank")
        return unused
