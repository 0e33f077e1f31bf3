"""Shared fixtures: the real-data location (optional) and an offline environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test must never reach a model hub
# bench-only metrics (bench/affinity_purity.py) are tested too; the benches import them as siblings
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

SHARED_DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SCANNET_SCANS = SHARED_DATA / "scannet" / "scans"

needs_scannet = pytest.mark.skipif(not (SCANNET_SCANS / "scene0000_00").is_dir(),
                                   reason="real ScanNet data (../shared/data) not present")
