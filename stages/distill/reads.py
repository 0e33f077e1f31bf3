"""What distillation reads of each training scene; import-light (``all`` builds its graph from it)."""

from __future__ import annotations

from geopurify.pipeline.vocabulary import FUSED, POINTS, TEACHER

READS = (POINTS, FUSED, TEACHER)
"""The groups of each training scene the student is distilled from (points for the geometry)."""
