"""What the benches on a real scan share: where ``../shared/data`` is, the scan and simulator
arguments, and the check that the scan is there before any work starts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DATA = Path(os.environ.get("GEOPURIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def add_scan_arguments(p: argparse.ArgumentParser) -> None:
    """``--scene``, ``--root`` (ScanNet scans), and the simulated source's ``--preset`` and ``--seed``."""
    p.add_argument("--scene", default="scene0000_00")
    p.add_argument("--root", default=str(DATA / "scannet" / "scans"))
    p.add_argument("--preset", default="realistic")
    p.add_argument("--seed", type=int, default=0)


def scan_folder(args: argparse.Namespace) -> Path:
    """``<root>/<scene>``, or exit with one line saying it is missing."""
    scan = Path(args.root) / args.scene
    if not scan.is_dir():
        raise SystemExit(f"{scan}: not found (../shared/data missing?)")
    return scan
